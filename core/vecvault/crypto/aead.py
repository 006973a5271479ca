"""AES-256-GCM, and the length-prefixed encoding every AAD of vecvault uses."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vecvault.crypto.kdf import _check_key
from vecvault.errors import ConfigurationError, IntegrityError

NONCE_BYTES = 12

TAG_BYTES = 16

_LENGTH = struct.Struct(">I")


class Aead:
    """AES-256-GCM with 96-bit nonces and 128-bit tags; every failure to open is an IntegrityError."""

    __slots__ = ("_aesgcm",)

    def __init__(self, key: bytes) -> None:
        _check_key(key, "An AES-256-GCM key")
        self._aesgcm = AESGCM(key)

    def __repr__(self) -> str:
        return "Aead(AES-256-GCM)"

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ``ciphertext ‖ tag``."""
        if len(nonce) != NONCE_BYTES:
            raise ConfigurationError(f"A nonce must be {NONCE_BYTES} bytes.")
        return self._aesgcm.encrypt(nonce, plaintext, aad)

    @property
    def encrypt_unchecked(self) -> Callable[[bytes, bytes | memoryview, bytes], bytes]:
        """AES-GCM's own ``encrypt(nonce, plaintext, aad)``, for batch loops whose inputs are checked once."""
        return self._aesgcm.encrypt

    @property
    def decrypt_unchecked(self) -> Callable[[bytes, bytes | memoryview, bytes], bytes]:
        """AES-GCM's own ``decrypt``: raises ``InvalidTag``; for batch loops that turn it into IntegrityError."""
        return self._aesgcm.decrypt

    def decrypt_into_unchecked(self, nonce: bytes, sealed: bytes | memoryview, aad: bytes, out: memoryview) -> None:
        """Open ``ciphertext ‖ tag`` straight into ``out`` (exactly the plaintext's length); raises ``InvalidTag``.

        Uses AES-GCM's own ``decrypt_into`` where the installed cryptography has it (no copy), else decrypts
        and copies once.
        """
        into = getattr(self._aesgcm, "decrypt_into", None)
        if into is not None:
            into(nonce, sealed, aad, out)
            return
        opened = self._aesgcm.decrypt(nonce, sealed, aad)
        if len(opened) != len(out):
            raise ValueError("plaintext length")
        out[:] = opened

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Open ``ciphertext ‖ tag``; raise IntegrityError on any failure."""
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise IntegrityError("A sealed value is truncated or malformed.")
        try:
            return self._aesgcm.decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError):
            raise IntegrityError("A sealed value failed authentication: it was altered, corrupted or moved.") from None


def _length_prefixed(parts: Iterable[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)
