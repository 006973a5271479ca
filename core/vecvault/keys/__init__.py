"""Key providers: the OS keychain (default), an environment variable, a key file, a passphrase, bytes.

Every provider follows :class:`~vecvault.keys.base.KeyProvider`. :func:`default_key_provider` picks
``EnvKeyProvider()`` when ``VECVAULT_KEY`` is set (even to an invalid value, which then fails loudly) and
``KeyringKeyProvider()`` otherwise; it never falls back from one to the other after a failure.
"""

from __future__ import annotations

import os

from vecvault.keys.base import MASTER_KEY_BYTES, KeyProvider, VaultRegistry
from vecvault.keys.env_provider import DEFAULT_KEY_VARIABLE, EnvKeyProvider
from vecvault.keys.file_provider import KeyFileProvider
from vecvault.keys.keyring_provider import KeyringKeyProvider
from vecvault.keys.passphrase_provider import (
    DEFAULT_ARGON2_PARAMS,
    MINIMUM_ARGON2_PARAMS,
    Argon2Params,
    PassphraseKeyProvider,
)
from vecvault.keys.static_provider import StaticKeyProvider

__all__ = [
    "DEFAULT_ARGON2_PARAMS",
    "DEFAULT_KEY_VARIABLE",
    "MASTER_KEY_BYTES",
    "MINIMUM_ARGON2_PARAMS",
    "Argon2Params",
    "EnvKeyProvider",
    "KeyFileProvider",
    "KeyProvider",
    "KeyringKeyProvider",
    "PassphraseKeyProvider",
    "StaticKeyProvider",
    "VaultRegistry",
    "default_key_provider",
]


def default_key_provider() -> KeyProvider:
    """Return ``EnvKeyProvider()`` if ``VECVAULT_KEY`` is set, else ``KeyringKeyProvider()``."""
    if DEFAULT_KEY_VARIABLE in os.environ:
        return EnvKeyProvider()
    return KeyringKeyProvider()
