"""The key provider protocol: where a vault's 32-byte master key comes from."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["MASTER_KEY_BYTES", "KeyProvider", "VaultRegistry"]

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


@runtime_checkable
class VaultRegistry(Protocol):
    """A key provider that records which vaults use its key, so a key operation can tell who else depends on it.

    The OS keychain provider keeps the list beside the key, in the keychain (never beside the data). A
    vault registers itself when it is created under the provider's key; in-place master-key rotation is
    allowed only when the list is known and names that one vault.
    """

    def registered_vaults(self) -> frozenset[str] | None:
        """The vault ids (hex) known to use this key; None when unknown (the key predates the list)."""
        ...

    def register_vault(self, vault_id: str) -> None:
        """Record that the vault ``vault_id`` (hex) uses this key; a no-op where the list is unknown."""
        ...

    def unregister_vault(self, vault_id: str) -> None:
        """Record that the vault ``vault_id`` (hex) no longer uses this key."""
        ...
