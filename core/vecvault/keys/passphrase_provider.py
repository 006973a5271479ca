"""A random master key wrapped under a passphrase (Argon2id + AES-256-GCM) in a small JSON key file.

File format (UTF-8 JSON, mode 0600, readable without the passphrase)::

    {
      "format": "vecvault-passphrase-key",
      "version": 1,
      "kdf": {"algorithm": "argon2id", "memory_cost": 65536, "iterations": 3, "lanes": 4,
              "salt": "<base64, 16 bytes>"},
      "wrap": {"algorithm": "AES-256-GCM", "nonce": "<base64, 12 bytes>",
               "ciphertext": "<base64, 32-byte key + 16-byte tag>"}
    }

The wrapping key is ``Argon2id(NFC(passphrase) as UTF-8, salt, params)``; the AES-GCM associated data is
the canonical JSON of ``format``, ``version`` and ``kdf`` (parameters and salt), so no header field can
be changed without the unwrap failing. ``memory_cost`` is in KiB, as in RFC 9106 and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from vecvault.errors import ConfigurationError, KeyUnavailableError, WrongKeyError
from vecvault.keys._codec import generate_key
from vecvault.keys._files import read_private_file, replace_file, write_new_file
from vecvault.keys.base import MASTER_KEY_BYTES

__all__ = [
    "DEFAULT_ARGON2_PARAMS",
    "MINIMUM_ARGON2_PARAMS",
    "Argon2Params",
    "PassphraseKeyProvider",
]

FILE_FORMAT = "vecvault-passphrase-key"
FILE_VERSION = 1
KDF_ALGORITHM = "argon2id"
WRAP_ALGORITHM = "AES-256-GCM"
SALT_BYTES = 16
NONCE_BYTES = 12
_TAG_BYTES = 16

PassphraseSource = str | Callable[[], str]


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters.

    Attributes:
        memory_cost: memory in KiB (65536 = 64 MiB).
        iterations: number of passes (t).
        lanes: degree of parallelism (p).
    """

    memory_cost: int
    iterations: int
    lanes: int

    def at_least(self, minimum: Argon2Params) -> bool:
        """True when memory and iterations are both at least ``minimum``'s (lanes do not add cost)."""
        return self.memory_cost >= minimum.memory_cost and self.iterations >= minimum.iterations


DEFAULT_ARGON2_PARAMS = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=4)
"""Parameters for new key files: 64 MiB, t=3, p=4 (OWASP's and RFC 9106's second recommended option)."""

MINIMUM_ARGON2_PARAMS = Argon2Params(memory_cost=64 * 1024, iterations=3, lanes=1)
"""The weakest parameters a key file may ask for; anything weaker is refused as a downgrade."""

MAXIMUM_ARGON2_PARAMS = Argon2Params(memory_cost=4 * 1024 * 1024, iterations=64, lanes=64)
"""The strongest parameters a key file may ask for, so that a crafted file cannot exhaust memory."""


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _header(params: Argon2Params, salt: bytes) -> dict[str, Any]:
    return {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "kdf": {
            "algorithm": KDF_ALGORITHM,
            "memory_cost": params.memory_cost,
            "iterations": params.iterations,
            "lanes": params.lanes,
            "salt": base64.b64encode(salt).decode("ascii"),
        },
    }


def _derive(passphrase: str, params: Argon2Params, salt: bytes) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_cost,
    )
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))


def _wrap(key: bytes, passphrase: str, params: Argon2Params) -> bytes:
    """Return the key file content wrapping ``key`` under ``passphrase`` with a fresh salt and nonce."""
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    header = _header(params, salt)
    ciphertext = AESGCM(_derive(passphrase, params, salt)).encrypt(nonce, key, _canonical(header))
    document = {
        **header,
        "wrap": {
            "algorithm": WRAP_ALGORITHM,
            "nonce": base64.b64encode(nonce).decode("ascii"),
            "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
        },
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class _KeyFile:
    params: Argon2Params
    salt: bytes
    nonce: bytes
    ciphertext: bytes


class _MalformedKeyFileError(Exception):
    """Internal: the key file does not have the expected shape."""


def _int_field(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if type(value) is not int:
        raise _MalformedKeyFileError(f"kdf.{name} must be an integer")
    return value


def _b64_field(obj: dict[str, Any], name: str, length: int, where: str) -> bytes:
    value = obj.get(name)
    if not isinstance(value, str):
        raise _MalformedKeyFileError(f"{where}.{name} must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _MalformedKeyFileError(f"{where}.{name} is not valid base64") from None
    if len(raw) != length:
        raise _MalformedKeyFileError(f"{where}.{name} must be {length} bytes")
    return raw


def _parse(data: bytes) -> _KeyFile:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _MalformedKeyFileError("not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise _MalformedKeyFileError(f"the format field is not {FILE_FORMAT!r}")
    if document.get("version") != FILE_VERSION:
        raise _MalformedKeyFileError(
            f"unsupported version {document.get('version')!r} (this vecvault reads {FILE_VERSION})"
        )
    kdf, wrap = document.get("kdf"), document.get("wrap")
    if not isinstance(kdf, dict) or kdf.get("algorithm") != KDF_ALGORITHM:
        raise _MalformedKeyFileError(f"kdf.algorithm must be {KDF_ALGORITHM!r}")
    if not isinstance(wrap, dict) or wrap.get("algorithm") != WRAP_ALGORITHM:
        raise _MalformedKeyFileError(f"wrap.algorithm must be {WRAP_ALGORITHM!r}")
    params = Argon2Params(
        memory_cost=_int_field(kdf, "memory_cost"),
        iterations=_int_field(kdf, "iterations"),
        lanes=_int_field(kdf, "lanes"),
    )
    return _KeyFile(
        params=params,
        salt=_b64_field(kdf, "salt", SALT_BYTES, "kdf"),
        nonce=_b64_field(wrap, "nonce", NONCE_BYTES, "wrap"),
        ciphertext=_b64_field(wrap, "ciphertext", MASTER_KEY_BYTES + _TAG_BYTES, "wrap"),
    )


def _check_params(params: Argon2Params, minimum: Argon2Params, what: str) -> str | None:
    """Return why ``params`` are unacceptable, or None."""
    if not params.at_least(minimum):
        return (
            f"{what} asks for Argon2id memory_cost={params.memory_cost} KiB, iterations={params.iterations}, "
            f"below vecvault's minimum of memory_cost={minimum.memory_cost} KiB, "
            f"iterations={minimum.iterations}"
        )
    top = MAXIMUM_ARGON2_PARAMS
    if params.memory_cost > top.memory_cost or params.iterations > top.iterations or params.lanes > top.lanes:
        return (
            f"{what} asks for Argon2id parameters above vecvault's maximum (memory_cost <= "
            f"{top.memory_cost} KiB, iterations <= {top.iterations}, lanes <= {top.lanes})"
        )
    if params.lanes < 1 or params.memory_cost < 8 * params.lanes:
        return f"{what} asks for invalid Argon2id parameters (lanes >= 1 and memory_cost >= 8 * lanes)"
    return None


class PassphraseKeyProvider:
    """A random master key, wrapped under a passphrase in a small JSON key file.

    The master key is random, never derived from the passphrase: changing the passphrase re-wraps the same
    key (:meth:`change_passphrase`) and every vault sealed under it stays readable. The passphrase is
    normalised to Unicode NFC before Argon2id, so the same passphrase typed on any system opens the file.

    Instantiate:
        .. code-block:: python

            import getpass
            from vecvault.keys import PassphraseKeyProvider

            provider = PassphraseKeyProvider("notes.vvkey", lambda: getpass.getpass("Vault passphrase: "))

    Args:
        path: the key file; ``~`` is expanded.
        passphrase: the passphrase, or a callable returning it (called each time it is needed, so it is
            not held by the provider).
        params: Argon2id parameters for files this provider writes; at least
            :data:`MINIMUM_ARGON2_PARAMS`. Files are read with the parameters stored in them.
    """

    _minimum_params: ClassVar[Argon2Params] = MINIMUM_ARGON2_PARAMS
    """Private seam: the weakest parameters accepted. Only tests lower it (in a subclass)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        passphrase: PassphraseSource,
        *,
        params: Argon2Params = DEFAULT_ARGON2_PARAMS,
    ) -> None:
        if not os.fspath(path):
            raise ConfigurationError("PassphraseKeyProvider needs a non-empty path.")
        if not (isinstance(passphrase, str) or callable(passphrase)):
            raise ConfigurationError("passphrase must be a str or a callable returning one.")
        if isinstance(passphrase, str) and not passphrase:
            raise ConfigurationError("The passphrase is empty; choose a long passphrase.")
        problem = _check_params(params, self._minimum_params, "params")
        if problem:
            raise ConfigurationError(f"{problem}. Use DEFAULT_ARGON2_PARAMS or stronger.")
        self._path = Path(path).expanduser()
        self._passphrase = passphrase
        self._params = params

    @property
    def path(self) -> Path:
        """The key file's path."""
        return self._path

    @property
    def params(self) -> Argon2Params:
        """The Argon2id parameters used when this provider writes a key file."""
        return self._params

    @property
    def description(self) -> str:
        """Where the key lives: the key file's path (never the passphrase)."""
        return f"passphrase-protected key file {self._path} (Argon2id, AES-256-GCM)"

    def __repr__(self) -> str:
        return f"PassphraseKeyProvider(path={str(self._path)!r}, passphrase=<hidden>)"

    # ------------------------------------------------------------------ helpers

    def _get_passphrase(self) -> str:
        source = self._passphrase
        value = source if isinstance(source, str) else source()
        if not isinstance(value, str):
            raise ConfigurationError("The passphrase callable must return a str.")
        if not value:
            raise ConfigurationError("The passphrase is empty; enter the passphrase of the key file.")
        return value

    def _read(self) -> _KeyFile:
        data = read_private_file(
            self._path,
            what="passphrase key file",
            not_found_hint=(
                "An existing vault needs the key file it was created with: restore it from your backup "
                "(mode 0600). A new vault creates it."
            ),
        )
        try:
            keyfile = _parse(data)
        except _MalformedKeyFileError as exc:
            raise KeyUnavailableError(
                f"{self._path} is not a valid vecvault passphrase key file ({exc}). Check the path, or "
                "restore the file from your backup."
            ) from None
        problem = _check_params(keyfile.params, self._minimum_params, f"The key file {self._path}")
        if problem:
            raise KeyUnavailableError(
                f"{problem}; vecvault refuses to use it, since weakened parameters are how a tampered file "
                "would make the passphrase easy to guess (a downgrade attack). Restore the file from your "
                "backup."
            )
        return keyfile

    def _unwrap(self, keyfile: _KeyFile, passphrase: str) -> bytes:
        aad = _canonical(_header(keyfile.params, keyfile.salt))
        wrapping_key = _derive(passphrase, keyfile.params, keyfile.salt)
        try:
            key = AESGCM(wrapping_key).decrypt(keyfile.nonce, keyfile.ciphertext, aad)
        except InvalidTag:
            raise WrongKeyError(
                f"Wrong passphrase for the key file {self._path}, or the file was modified. Check the "
                "passphrase (it is case-sensitive) and retry; if it is right, restore the file from your "
                "backup."
            ) from None
        finally:
            del wrapping_key
        if len(key) != MASTER_KEY_BYTES:  # pragma: no cover - the ciphertext length is checked on parse
            raise KeyUnavailableError(f"The key file {self._path} holds a key of the wrong length.")
        return key

    # ------------------------------------------------------------------ KeyProvider

    def load_key(self) -> bytes:
        """Unwrap the master key with the passphrase.

        Raises:
            KeyNotFoundError: the key file does not exist.
            KeyUnavailableError: the file is accessible by other users, malformed, or asks for Argon2id
                parameters below the minimum.
            WrongKeyError: the passphrase is wrong, or the file was tampered with.
        """
        keyfile = self._read()
        return self._unwrap(keyfile, self._get_passphrase())

    def create_key(self) -> bytes:
        """Generate a random master key, wrap it under the passphrase and write a new 0600 key file.

        Raises:
            KeyUnavailableError: the key file already exists (it is never overwritten) or cannot be written.
        """
        if self._path.exists():
            raise KeyUnavailableError(
                f"The passphrase key file {self._path} already exists; vecvault never overwrites a key. "
                "Load it instead, or choose another path for a new vault."
            )
        key = generate_key()
        write_new_file(self._path, _wrap(key, self._get_passphrase(), self._params), what="passphrase key file")
        return key

    def change_passphrase(self, old: str, new: str) -> None:
        """Re-wrap the same master key under a new passphrase (fresh salt and nonce), atomically.

        The file is replaced with a temporary file, fsync and ``os.replace``: a crash leaves either the old
        file or the new one. The file is rewritten with this provider's :attr:`params`, so this also
        upgrades an older file's cost. Afterwards this provider uses ``new``.

        Raises:
            WrongKeyError: ``old`` does not open the key file.
            ConfigurationError: ``new`` is empty.
            KeyNotFoundError: the key file does not exist.
            KeyUnavailableError: the file cannot be read or written.
        """
        if not isinstance(new, str) or not new:
            raise ConfigurationError("The new passphrase is empty; choose a long passphrase.")
        if not isinstance(old, str):
            raise ConfigurationError("The old passphrase must be a str.")
        keyfile = self._read()
        key = self._unwrap(keyfile, old)
        replace_file(self._path, _wrap(key, new, self._params), what="passphrase key file")
        del key
        self._passphrase = new
