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
    """Crypto-shred a collection or key-value namespace: destroy its data keys, delete its data; return its size.

    Raises:
        ConfigurationError: there is no such collection or namespace.
    """
    from vecvault.kv import drop_kv_namespace

    with core.lock:
        core.check_open()
        if core.storage.kv_namespace_exists(collection):
            return drop_kv_namespace(core, collection)
        if core.storage.collection(collection) is None:
            names = [row.name for row in core.storage.collections()] + [n for n, _ in core.storage.kv_namespaces()]
            raise ConfigurationError(
                f"No collection named {collection!r}, nor a key-value namespace; existing: {sorted(names)}."
            )
        count = core.storage.count(collection)
        core.drop_collection(collection)
        return count


def shred_all(core: VaultCore) -> list[str]:
    """Shred every collection and key-value namespace and replace the vault-scope data key; return their names."""
    from vecvault.kv import drop_kv_namespace

    with core.lock:
        core.check_open()
        names = [row.name for row in core.storage.collections()]
        for name in names:
            core.drop_collection(name)
        namespaces = [name for name, _ in core.storage.kv_namespaces()]
        for name in namespaces:
            drop_kv_namespace(core, name)
        names += namespaces
    rotate_data_keys(core, None)
    return names
