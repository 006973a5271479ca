"""The key provider protocol: where a vault's 32-byte master key comes from."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["MASTER_KEY_BYTES", "KeyProvider"]

MASTER_KEY_BYTES = 32


@runtime_checkable
class KeyProvider(Protocol):
    """Supplies the master key of a vault.

    A provider never creates a key on its own: the vault calls :meth:`create_key` only when it creates a
    brand-new vault and :meth:`load_key` raised :class:`~vecvault.errors.KeyNotFoundError`. Any other
    failure (no backend, a locked keychain, unreadable file) raises
    :class:`~vecvault.errors.KeyUnavailableError` and must never lead to a new key.
    """

    @property
    def description(self) -> str:
        """A short, non-secret description of where the key lives, for messages and ``vecvault info``."""
        ...

    def load_key(self) -> bytes:
        """Return the stored 32-byte master key.

        Raises:
            KeyNotFoundError: the provider works but holds no key yet.
            KeyUnavailableError: the key could not be read (backend missing, locked, bad permissions).
        """
        ...

    def create_key(self) -> bytes:
        """Generate, store and return a new random 32-byte master key.

        Raises:
            KeyUnavailableError: the key could not be stored, or one already exists.
        """
        ...
