"""Key providers: the OS keychain (default), an environment variable, a key file, a passphrase, bytes."""

from __future__ import annotations

from vecvault.keys.base import MASTER_KEY_BYTES, KeyProvider

__all__ = ["MASTER_KEY_BYTES", "KeyProvider"]
