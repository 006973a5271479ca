"""Crypto-shredding: destroy a collection's data keys with its records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vecvault.errors import (
    ConfigurationError,
)

if TYPE_CHECKING:
    from vecvault.engine import VaultCore
from vecvault.ops.rotation import rotate_data_keys


def shred(core: VaultCore, collection: str) -> int:
    """Crypto-shred a collection: destroy its data keys and delete its records; return how many records.

    Raises:
        ConfigurationError: there is no such collection.
    """
    with core.lock:
        core.check_open()
        if core.storage.collection(collection) is None:
            names = [row.name for row in core.storage.collections()]
            raise ConfigurationError(f"No collection named {collection!r}; existing: {names}.")
        count = core.storage.count(collection)
        core.drop_collection(collection)
        return count

def shred_all(core: VaultCore) -> list[str]:
    """Shred every collection and replace the vault-scope data key; return the shredded collection names."""
    with core.lock:
        core.check_open()
        names = [row.name for row in core.storage.collections()]
        for name in names:
            core.drop_collection(name)
    rotate_data_keys(core, None)
    return names
