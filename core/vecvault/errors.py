"""Exceptions raised by vecvault.

Every exception carries a message that says what to do next, and none ever holds a key or a decrypted
value. Exceptions mix in the builtin a caller would expect, so ``except ValueError`` still works::

    VecVaultError
    ├── ConfigurationError (ValueError)      bad arguments, dimension mismatch, unknown option
    ├── VaultKeyError                        anything about the master key
    │   ├── KeyUnavailableError (RuntimeError)   no key could be read (no backend, locked, missing)
    │   │   └── KeyNotFoundError                 the provider has no key stored yet
    │   └── WrongKeyError                        a key was read, but it does not open this vault
    ├── IntegrityError                       any failure to open a sealed field (tampering, corruption)
    ├── StorageError                         libSQL failures, including caught binding panics
    │   ├── NotAVaultError                       the file exists but is not a vecvault database
    │   └── SchemaVersionError                   the vault was written by a newer vecvault
    └── UnsupportedFilterError (ValueError)  a filter operator or shape vecvault does not know
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "IntegrityError",
    "KeyNotFoundError",
    "KeyUnavailableError",
    "NotAVaultError",
    "SchemaVersionError",
    "StorageError",
    "UnsupportedFilterError",
    "VaultKeyError",
    "VecVaultError",
    "WrongKeyError",
]


class VecVaultError(Exception):
    """Base class of every error vecvault raises on purpose."""


class ConfigurationError(VecVaultError, ValueError):
    """An argument or option is invalid; the message names the one to change."""


class VaultKeyError(VecVaultError):
    """The master key could not be obtained or does not fit the vault."""


class KeyUnavailableError(VaultKeyError, RuntimeError):
    """No master key could be read from the configured key provider."""


class KeyNotFoundError(KeyUnavailableError):
    """The key provider works but holds no key under the configured name."""


class WrongKeyError(VaultKeyError):
    """The master key does not open this vault: it belongs to another vault or was changed."""


class IntegrityError(VecVaultError):
    """A sealed value failed authentication: it was tampered with, corrupted, moved or its key is gone."""


class StorageError(VecVaultError):
    """The database layer failed; the message carries libSQL's own reason."""


class NotAVaultError(StorageError):
    """The file is not a vecvault database, or it is encrypted under another file key."""


class SchemaVersionError(StorageError):
    """The vault was written by a newer version of vecvault; upgrade vecvault to open it."""


class UnsupportedFilterError(VecVaultError, ValueError):
    """A filter uses an operator or a shape that vecvault does not support."""
