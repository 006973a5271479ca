"""The engine of an open vault: its storage, its keys and its lock, shared by the vault, collections and ops.

:class:`VaultCore` is what :class:`vecvault.Vault` wraps and what the key-lifecycle and backup operations
(:mod:`vecvault.lifecycle`, :mod:`vecvault.backup`) work on: one object, so nothing reaches into another's
private members and no operation needs the public facade. It opens a vault (creating it when asked), runs
write transactions under the scope's primary data key, and follows data keys changed by other connections.
:class:`VaultKeys` holds the vault id, the key-encryption key and the data keys together.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from vecvault import crypto, file_layer
from vecvault.crypto import DataKey, Keyset, KeyState
from vecvault.errors import ConfigurationError, IntegrityError, KeyNotFoundError, StorageError
from vecvault.keys.base import KeyProvider, VaultRegistry
from vecvault.storage import RESTORE_HINT, KeyRow, Storage, Tracer, is_remote_url

__all__ = ["VAULT_ID_BYTES", "VaultCore", "VaultKeys", "WriteListener", "as_key_provider"]

VAULT_ID_BYTES = 16
_WRAPPED_KEY_BYTES = crypto.NONCE_BYTES + crypto.KEY_BYTES + crypto.TAG_BYTES


def as_key_provider(key: KeyProvider | bytes | None) -> KeyProvider:
    """The key provider for ``key=``: the default one for None, a static one for 32 bytes."""
    if key is None:
        from vecvault.keys import default_key_provider

        return default_key_provider()
    if isinstance(key, (bytes, bytearray)):
        from vecvault.keys import StaticKeyProvider

        return StaticKeyProvider(bytes(key))
    if not isinstance(key, KeyProvider):
        raise ConfigurationError(
            f"key must be a KeyProvider (e.g. KeyringKeyProvider(), EnvKeyProvider()) or 32 bytes, "
            f"not {type(key).__name__}."
        )
    return key


class WriteListener(Protocol):
    """What follows a vault's own writes to one collection (its in-memory index): a loaded collection."""

    def apply_own_write(self, old_rev: int, new_rev: int, apply: Callable[[Any], None]) -> None:
        """Apply a committed write of this process to what is loaded, if it was current before the write."""
        ...

    def keys_rotated(self) -> None:
        """The collection's old data keys were destroyed: a graph held in memory is to be stored anew."""
        ...

    def vault_closed(self) -> None:
        """The vault closed: drop what is loaded (opened vectors, graph, text index) at once."""
        ...


class VaultKeys:
    """A vault's id, its key-encryption key (from the master key) and its data keys."""

    def __init__(self, vault_id: bytes, kek: bytes, keyset: Keyset) -> None:
        self.vault_id = vault_id
        self.keyset = keyset
        self._kek = kek

    def __repr__(self) -> str:
        return f"VaultKeys(vault_id={self.vault_id.hex()!r}, {self.keyset!r})"

    @property
    def kek(self) -> bytes:
        """The key-encryption key that wraps the data keys (empty once forgotten)."""
        return self._kek

    def key_row(self, key: DataKey) -> KeyRow:
        """A data key as stored: wrapped under the KEK in its own format (None once destroyed)."""
        wrapped = (
            None
            if key.material is None
            else crypto.wrap_data_key(self._kek, self.vault_id, key.key_id, key.material, key_format=key.key_format)
        )
        return KeyRow(key.key_id, key.scope, key.state.value, wrapped, key.encryptions)

    def open_key(self, row: KeyRow) -> DataKey:
        """A stored data key, unwrapped; a damaged row is an IntegrityError that names the key."""
        state = _key_state(row)
        material = None
        key_format = crypto.KEY_FORMAT_V2
        if state is not KeyState.DESTROYED:
            if row.wrapped is None:
                raise _damaged_key(row, f"it is {state.value} but its wrapped key material is missing")
            if len(row.wrapped) != _WRAPPED_KEY_BYTES:
                raise _damaged_key(
                    row, f"its wrapped key material is {len(row.wrapped)} bytes, not {_WRAPPED_KEY_BYTES}"
                )
            material, key_format = crypto.unwrap_data_key_with_format(self._kek, self.vault_id, row.key_id, row.wrapped)
        return DataKey(
            key_id=row.key_id,
            state=state,
            scope=row.scope,
            material=material,
            encryptions=row.encryptions,
            key_format=key_format,
        )

    def forget(self) -> None:
        """Drop every key from memory (the vault is closed)."""
        for key in self.keyset:
            key.forget()
        self._kek = b""


def _damaged_key(row: KeyRow, what: str) -> IntegrityError:
    return IntegrityError(
        f"Data key {row.key_id} is damaged: {what}. The vault's key table was altered or corrupted; restore "
        f"the vault from a backup: {RESTORE_HINT}."
    )


def _key_state(row: KeyRow) -> KeyState:
    """A key row's state; an unknown one is an IntegrityError (the row's shape is checked by storage)."""
    try:
        return KeyState(row.state)
    except ValueError:
        known = ", ".join(state.value for state in KeyState)
        raise _damaged_key(row, f"its state is {row.state[:40]!r}, not one of {known}") from None


class VaultCore:
    """An open vault's storage, keys, key provider and lock, and the collections loaded from it.

    Thread-safe through :attr:`lock`, which every public operation holds.
    """

    def __init__(self, storage: Storage, keys: VaultKeys, key_provider: KeyProvider) -> None:
        self.storage = storage
        self.keys = keys
        self.key_provider = key_provider
        self.lock = threading.RLock()
        self.collections: dict[str, WriteListener] = {}
        self._closed = False
        keys.keyset.on_unknown_key = lambda _key_id: self.reload_keys_if_changed()

    # -- opening ---------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str],
        *,
        key: KeyProvider | bytes | None = None,
        file_encryption: bool | None = None,
        create: bool = True,
        driver: str = "libsql",
        auth_token: str | None = None,
        sync_url: str | None = None,
        tracer: Tracer | None = None,
    ) -> VaultCore:
        """Open (or create) a vault; see :meth:`vecvault.Vault.open` for the arguments and errors."""
        location = os.fspath(location)
        provider = as_key_provider(key)
        remote = is_remote_url(location)
        memory = location == ":memory:"
        state: file_layer.FileState | None = None
        if remote or memory:
            kind = "unknown"
            if file_encryption:
                raise ConfigurationError(
                    "file_encryption applies to local files only; a libSQL server or :memory: database is not "
                    "page-encrypted by vecvault (sealed fields stay sealed). Pass file_encryption=None."
                )
        else:
            location = file_layer.local_path(location)
            state = file_layer.file_state(location)
            kind = state.kind
            if kind == "new":
                if not create:
                    raise ConfigurationError(f"No vault at {location}; pass create=True to create one.")
                file_layer.check_no_orphan_sidecars(location)
                Storage.check_can_create(location)  # before a key is made for a vault that cannot exist
            if kind == "plain" and file_encryption:
                raise ConfigurationError(
                    f"{location} was created without file encryption; open it with file_encryption=None, "
                    "or turn it on with `vecvault rotate --file`."
                )
            if kind == "encrypted" and file_encryption is False:
                raise ConfigurationError(
                    f"{location} uses file encryption; open it with file_encryption=None (detected)."
                )
        # A new master key is made only for a vault that does not exist yet, never because a read failed.
        if kind == "new":
            try:
                master = provider.load_key()
            except KeyNotFoundError:
                master = provider.create_key()
        else:
            master = provider.load_key()
        crypto.check_master_key(master)
        encrypt_file = (kind == "new" and file_encryption is not False) or kind == "encrypted"
        file_key = crypto.derive_file_key(master) if encrypt_file else None
        if state is not None and state.hot_journal:
            # An interrupted re-key: the open plays its journal back, which must happen under the key the
            # journal was written with (the file's previous key), never another: that would corrupt it.
            file_key = file_layer.rollback_key(location, state, [file_key], Storage.page_key_fingerprint)
        storage = Storage.open(location, file_key=file_key, driver=driver, auth_token=auth_token, sync_url=sync_url)
        storage.tracer = tracer
        try:
            return cls._attach(storage, master, provider, create=create)
        except BaseException:
            storage.close_without_checkpoint()
            raise

    @classmethod
    def _attach(cls, storage: Storage, master: bytes, provider: KeyProvider, *, create: bool) -> VaultCore:
        version = storage.schema_version()
        if version is None:
            if not create:
                raise ConfigurationError(
                    f"No vault at {storage.shown_location} (the database is empty): create one with "
                    "Vault.open(..., create=True), or `vecvault init` on the command line."
                )
            vault_id = os.urandom(VAULT_ID_BYTES)
            if isinstance(provider, VaultRegistry):
                # Before the vault exists: a crash in between leaves a listed vault that is not there, which
                # only ever makes an in-place key rotation more careful, never less.
                provider.register_vault(vault_id.hex())
            keys = VaultKeys(vault_id, crypto.derive_kek(master, vault_id), Keyset())
            first = DataKey.generate(keys.keyset.new_key_id(), scope="")
            keys.keyset.add(first)
            with storage.transaction():
                storage.create_schema({"vault_id": vault_id, "created_at": str(time.time()).encode()})
                storage.insert_key(keys.key_row(first))
            return cls(storage, keys, provider)
        storage.migrate()
        stored_id = storage.get_meta("vault_id")
        if stored_id is None or len(stored_id) != VAULT_ID_BYTES:
            raise StorageError(f"{storage.shown_location} has no valid vault id; restore it from a backup.")
        vault_id = stored_id
        keys = VaultKeys(vault_id, crypto.derive_kek(master, vault_id), Keyset())
        for row in storage.load_keys():
            keys.keyset.add_existing(keys.open_key(row))
        return cls(storage, keys, provider)

    # -- state -----------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    def check_open(self) -> None:
        """Raise StorageError if the vault was closed."""
        if self._closed:
            raise StorageError("This vault is closed; open it again with Vault.open(...).")

    def close(self) -> None:
        """Checkpoint (so deleted data leaves the WAL), close the database and forget the keys."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.storage.close()
            finally:
                self.keys.forget()
                # Loaded collections reference one another in cycles: free their decrypted vectors now,
                # not whenever the garbage collector next runs (a close and reopen held both copies).
                for col in self.collections.values():
                    col.vault_closed()
                self.collections.clear()

    # -- writes and keys -------------------------------------------------------------------------------

    @contextmanager
    def write(self, scope: str, sealed_count: int) -> Iterator[DataKey]:
        """A write transaction that persists the scope's primary key count; rotates the key when due."""
        keyset = self.keys.keyset
        with self.storage.transaction():
            self.reload_keys_if_changed()
            primary = keyset.primary_for(scope)
            if primary is None or primary.legacy or keyset.needs_rotation(scope, sealed_count):
                primary = self.new_primary(scope)  # a legacy (v1) key never seals: it is replaced first
            yield primary
            if sealed_count:
                self.storage.add_encryptions(primary.key_id, sealed_count)

    def new_primary(self, scope: str) -> DataKey:
        """Make a fresh data key primary for a scope (inside a write transaction); old keys keep opening."""
        keyset = self.keys.keyset
        old = keyset.primary_for(scope)
        fresh = DataKey.generate(keyset.new_key_id(), scope=scope)
        keyset.add(fresh)
        if old is not None:
            self.storage.update_key(self.keys.key_row(old))
        self.storage.insert_key(self.keys.key_row(fresh))
        return fresh

    def save_key(self, key: DataKey) -> None:
        """Persist a data key's state, wrapping and count (inside a write transaction)."""
        self.storage.update_key(self.keys.key_row(key))

    def reload_keys_if_changed(self) -> None:
        """Pick up data keys added or changed by another connection (rotation, a new collection)."""
        keyset = self.keys.keyset
        known = {k.key_id: k for k in keyset}
        for row in self.storage.load_keys():
            key = known.get(row.key_id)
            if key is None:
                keyset.add_existing(self.keys.open_key(row))
            else:
                if row.state != key.state.value:
                    key.state = _key_state(row)
                    if key.state is KeyState.DESTROYED:
                        key.destroy()
                key.encryptions = max(key.encryptions, row.encryptions)

    def drop_collection(self, name: str) -> bool:
        """Delete a collection and its records and destroy its data keys; return whether it existed."""
        with self.lock:
            self.check_open()
            storage = self.storage
            existed = storage.collection(name) is not None
            with storage.transaction():
                self.reload_keys_if_changed()
                row = storage.collection(name)
                if row is not None and row.vectors == "plain":
                    storage.drop_plain(name)
                storage.drop_collection(name)
                for key in self.keys.keyset.in_scope(name):
                    key.destroy()
                    self.save_key(key)
            self.collections.pop(name, None)
            storage.checkpoint()
            return existed
