"""Key derivation: the key-encryption key, the libSQL file key and per-purpose subkeys (HKDF-SHA256)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vecvault.errors import ConfigurationError

KEY_BYTES = 32

_INFO_KEK = b"vecvault/v1/kek"

_INFO_FILE_KEY = b"vecvault/v1/file-key"


def _hkdf(secret: bytes, *, salt: bytes | None, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ConfigurationError(f"{what} must be exactly {KEY_BYTES} bytes; generate one with os.urandom(32).")


_MIN_DISTINCT_KEY_BYTES = 8  # a random 32-byte key has ~30; fewer than 8 happens with odds below 1e-36


def check_master_key(master_key: bytes) -> None:
    """Refuse a master key that is not random: all zeros, one repeated byte, a short repeated pattern.

    Raises:
        ConfigurationError: the key is not 32 bytes, or has fewer than 8 distinct byte values.
    """
    _check_key(master_key, "The master key")
    if len(set(master_key)) < _MIN_DISTINCT_KEY_BYTES:
        raise ConfigurationError(
            "The master key is not a random key (all zeros, or a byte or short pattern repeated); anyone could "
            'guess it. Use 32 random bytes: os.urandom(32), or `python -c "import os,base64;'
            'print(base64.b64encode(os.urandom(32)).decode())"` for VECVAULT_KEY. A vault already sealed '
            "under such a key: move it to a random one with `vecvault rotate --master PATH --new-key-file NEW`."
        )


def derive_kek(master_key: bytes, vault_id: bytes) -> bytes:
    """Derive the key-encryption key of one vault from the master key."""
    _check_key(master_key, "The master key")
    return _hkdf(master_key, salt=vault_id, info=_INFO_KEK)


def derive_file_key(master_key: bytes) -> str:
    """Derive libSQL's page-encryption key string: 32 base64url characters (libSQL reads only 32).

    It cannot depend on the vault id, which lives inside the encrypted file.
    """
    _check_key(master_key, "The master key")
    text = base64.urlsafe_b64encode(_hkdf(master_key, salt=None, info=_INFO_FILE_KEY, length=24)).decode()
    if len(text) != 32:  # never hand libSQL an empty or short key: "" silently disables encryption
        raise AssertionError("file key derivation produced a key of the wrong length")
    return text


def derive_subkey(data_key: bytes, purpose: str) -> bytes:
    """Derive a 32-byte subkey for one purpose (``"row-seal"``, ``"blind-index/<field>"``, ...)."""
    return _hkdf(data_key, salt=None, info=b"vecvault/v1/" + purpose.encode())
