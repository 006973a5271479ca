"""Sealed key-value namespaces: what LangChain and LlamaIndex persist beside the vectors, in the same vault.

``vault.kv("docstore")`` returns a :class:`KeyValueStore`: string keys, bytes values. Both are private
(file paths, session ids, content hashes, full documents, cached embeddings), so both are sealed:

- the **value** is a sealed field (AES-256-GCM, field format v2, :mod:`vecvault.crypto`) under the
  namespace's data key, its AAD binding the vault id, the namespace, the key and the write version;
- the **key** is a sealed field too, its AAD binding the entry's blind-index lookup;
- the entry is found by that **lookup**: ``HMAC-SHA256(K_bi, namespace ‖ key)``, ``K_bi`` an HKDF subkey
  (``"blind-index/kv"``) of the data key. Equality lookups work; nothing readable remains, and without the
  key nobody can test a guessed key against the file (unlike an unkeyed hash).

A namespace is a key scope like a collection: rotation re-seals its entries (and recomputes their lookups)
under a fresh data key, ``vault.shred(namespace)`` destroys its keys, ``verify`` opens every entry, and export
and import carry it. Namespaces and collections share one set of names.

What stays visible to whoever holds the file without the master key: namespace names, entry counts, the
length of each key and value (to within a few bytes), which entries were written together (the write
counter) and, over time, whether an entry with the same lookup was rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vecvault.crypto import DataKey, KeyState
from vecvault.errors import ConfigurationError, IntegrityError
from vecvault.storage import KvRow

if TYPE_CHECKING:
    from vecvault.engine import VaultCore

__all__ = ["FIELD_KV_KEY", "FIELD_KV_VALUE", "KeyValueStore", "KeyValueTransaction", "KvNamespaceInfo", "KvSealer"]

FIELD_KV_KEY = "kv-key"
FIELD_KV_VALUE = "kv-value"
_BLIND_INDEX_PURPOSE = "blind-index/kv"
_PAGE = 1024


@dataclass(frozen=True)
class KvNamespaceInfo:
    """A key-value namespace as ``vecvault info`` shows it: its name and entry count (both plaintext)."""

    name: str
    count: int


def check_namespace(namespace: object) -> str:
    """A valid namespace name, or ConfigurationError (same rule as collection names)."""
    if not isinstance(namespace, str) or not namespace or "\x00" in namespace:
        raise ConfigurationError(
            f"A key-value namespace must be a non-empty string without NUL characters, not {namespace!r}."
        )
    return namespace


def check_keys(keys: Iterable[object], what: str = "key") -> list[str]:
    """Keys as a list of str, each valid UTF-8 text; anything else is a ConfigurationError that names it."""
    if isinstance(keys, (str, bytes)):
        raise ConfigurationError(f"Pass a list of {what}s, not one {type(keys).__name__}; wrap it: [{what}].")
    out = []
    for i, key in enumerate(keys):
        if not isinstance(key, str):
            raise ConfigurationError(f"{what}s[{i}] is a {type(key).__name__}; keys must be str.")
        try:
            key.encode()
        except UnicodeEncodeError:
            raise ConfigurationError(f"{what}s[{i}] is not valid Unicode text (a lone surrogate).") from None
        out.append(key)
    return out


def check_items(items: Iterable[object]) -> list[tuple[str, bytes]]:
    """``(key, value)`` pairs with str keys and bytes values; the last of duplicate keys wins."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise ConfigurationError("set() takes a list of (key, value) pairs.")
    pairs: dict[str, bytes] = {}
    for i, item in enumerate(items):
        if type(item) is not tuple or len(item) != 2 or type(item[0]) is not str or type(item[1]) is not bytes:
            key, value = _check_item(item, i)
        else:
            key, value = item
        pairs.pop(key, None)  # a repeated key moves to its last position
        pairs[key] = value
    if pairs:
        try:
            "".join(pairs).encode()
        except UnicodeEncodeError:
            check_keys(list(pairs))  # names the key
    return list(pairs.items())


def _check_item(item: object, i: int) -> tuple[str, bytes]:
    """One pair that is not the common (str, bytes) tuple: accepted forms converted, the rest refused."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ConfigurationError(f"items[{i}] is not a (key, value) pair.")
    key, value = item
    if not isinstance(key, str):
        raise ConfigurationError(f"keys[{i}] is a {type(key).__name__}; keys must be str.")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ConfigurationError(
            f"The value of items[{i}] is a {type(value).__name__}; values must be bytes (encode text first, "
            "e.g. value.encode())."
        )
    return key, bytes(value)


class KvSealer:
    """Blind-index lookups, sealing and opening of one namespace's entries. Pure: no I/O."""

    def __init__(self, core: VaultCore, namespace: str) -> None:
        self._keyset = core.keys.keyset
        self._vault_id = core.keys.vault_id
        self.namespace = namespace
        encoded = namespace.encode()
        self._prefix = len(encoded).to_bytes(4, "big") + encoded
        self._hmacs: dict[int, hmac.HMAC] = {}  # per data key: HMAC state keyed by its blind-index subkey

    def lookup(self, data_key: DataKey, key: str) -> bytes:
        """The blind-index lookup of ``key`` under one data key."""
        return self.lookups(data_key, [key])[0]

    def lookups(self, data_key: DataKey, keys: Sequence[str]) -> list[bytes]:
        """:meth:`lookup` of many keys: HMAC-SHA256(subkey, namespace ‖ key), from a keyed state made once."""
        if data_key.material is None:
            raise IntegrityError(f"Data key {data_key.key_id} was destroyed; its entries cannot be found.")
        base = self._hmacs.get(data_key.key_id)
        if base is None:
            base = self._hmacs[data_key.key_id] = hmac.new(
                data_key.subkey(_BLIND_INDEX_PURPOSE), self._prefix, hashlib.sha256
            )
        out = []
        for key in keys:
            state = base.copy()
            state.update(key.encode())
            out.append(state.digest())
        return out

    def lookup_keys(self) -> list[DataKey]:
        """The namespace's keys that may hold entries: primary and enabled v2 keys with their material."""
        return [
            k
            for k in self._keyset.in_scope(self.namespace)
            if k.material is not None and not k.legacy and k.state in (KeyState.PRIMARY, KeyState.ENABLED)
        ]

    def candidates(self, keys: Sequence[str]) -> dict[bytes, int]:
        """Every lookup an entry of ``keys`` may be stored under (one per live key), mapped to its index."""
        found: dict[bytes, int] = {}
        for data_key in self.lookup_keys():
            found.update(zip(self.lookups(data_key, keys), range(len(keys)), strict=True))
        return found

    def seal(self, primary: DataKey, rev: int, items: Sequence[tuple[str, bytes]]) -> list[tuple[bytes, bytes, bytes]]:
        """``(lookup, sealed key, sealed value)`` of each item under the primary key and write version ``rev``."""
        keys = [key for key, _ in items]
        lookups = self.lookups(primary, keys)
        sealed_keys = self._keyset.seal_field_batch(
            primary, self._vault_id, self.namespace, [x.hex() for x in lookups], FIELD_KV_KEY,
            [key.encode() for key in keys], rev=rev,
        )  # fmt: skip
        sealed_values = self._keyset.seal_field_batch(
            primary, self._vault_id, self.namespace, keys, FIELD_KV_VALUE, [value for _, value in items], rev=rev
        )
        return list(zip(lookups, sealed_keys, sealed_values, strict=True))

    def open_keys(self, rows: Sequence[KvRow]) -> list[str]:
        """The keys of stored entries, each authenticated against its lookup."""
        if not rows:
            return []
        plain = self._keyset.open_field_batch(
            self._vault_id,
            self.namespace,
            [row.lookup.hex() for row in rows],
            FIELD_KV_KEY,
            [row.key for row in rows],
            [row.rev for row in rows],
        )
        try:
            return [key.decode() for key in plain]
        except UnicodeDecodeError:
            raise IntegrityError(f"A key of namespace {self.namespace!r} is not text; the vault was altered.") from None

    def open_values(self, keys: Sequence[str], rows: Sequence[KvRow]) -> list[bytes]:
        """The values of stored entries whose keys are ``keys`` (from :meth:`open_keys`, or the keys asked for)."""
        return self.open_sealed_values(keys, [r.lookup for r in rows], [r.value for r in rows], [r.rev for r in rows])

    def open_sealed_values(
        self, keys: Sequence[str], lookups: Sequence[bytes], values: Sequence[object], revs: Sequence[object]
    ) -> list[bytes]:
        """:meth:`open_values` from the columns: each value opened under its key; a failure names the lookup."""
        if not keys:
            return []
        try:
            return self._keyset.open_field_batch(
                self._vault_id, self.namespace, list(keys), FIELD_KV_VALUE, values, revs
            )
        except IntegrityError:
            # The batch's message names the record id, here the private key: name the lookup instead.
            for key, lookup, value, rev in zip(keys, lookups, values, revs, strict=True):
                try:
                    self._keyset.open_field_batch(self._vault_id, self.namespace, [key], FIELD_KV_VALUE, [value], [rev])
                except IntegrityError:
                    raise IntegrityError(
                        f"The value of an entry of key-value namespace {self.namespace!r} (lookup:{lookup.hex()}) "
                        "failed authentication: it was altered, corrupted or moved, or its data key was destroyed. "
                        "Run `vecvault verify`."
                    ) from None
            raise


class KeyValueTransaction:
    """Reads and writes of one namespace inside one write transaction: see :meth:`KeyValueStore.atomic`."""

    def __init__(self, store: KeyValueStore, primary: DataKey) -> None:
        self._store = store
        self._primary = primary
        self._rev: int | None = None

    def get(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` as this transaction sees them (None where absent)."""
        return self._store.read(check_keys(keys))

    def set(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Insert or replace entries (committed with the transaction)."""
        pairs = check_items(items)
        if not pairs:
            return
        store = self._store
        core = store.core
        storage = core.storage
        if self._rev is None:
            self._rev = storage.bump_kv_revision(store.namespace)
        _write(store, self._primary, self._rev, pairs)
        storage.add_encryptions(self._primary.key_id, 2 * len(pairs))

    def delete(self, keys: Sequence[str]) -> int:
        """Delete entries; return how many existed."""
        key_list = check_keys(keys)
        if not key_list:
            return 0
        store = self._store
        return store.core.storage.kv_delete(store.namespace, list(store.sealer.candidates(key_list)))


def _write(store: KeyValueStore, primary: DataKey, rev: int, pairs: Sequence[tuple[str, bytes]]) -> None:
    """Seal and upsert checked pairs under the primary key (inside the write transaction)."""
    sealer = store.sealer
    storage = store.core.storage
    # The same key under an older, still enabled data key (a rotation under way) has another lookup:
    # that entry is replaced too, so a key is never stored twice.
    older = [k for k in sealer.lookup_keys() if k.key_id != primary.key_id]
    keys = [key for key, _ in pairs]
    for key in older:
        storage.kv_delete(store.namespace, sealer.lookups(key, keys))
    storage.kv_upsert(store.namespace, rev, primary.key_id, sealer.seal(primary, rev, pairs))


class KeyValueStore:
    """One sealed key-value namespace of a vault: ``str`` keys, ``bytes`` values. Get one with ``vault.kv(name)``.

    ```python
    import os
    from vecvault import Vault

    with Vault.open("kv-example.db", key=os.urandom(32)) as vault:
        docs = vault.kv("docstore")
        docs.set([("notes/today.md", b"private text")])
        assert docs.get(["notes/today.md", "missing"]) == [b"private text", None]
        assert list(docs.keys(prefix="notes/")) == ["notes/today.md"]
        assert docs.delete(["notes/today.md"]) == 1
    ```

    Thread-safe (each call holds the vault's lock); another process's writes are seen by the next call.
    The namespace is created by its first write; reading one that does not exist finds nothing.
    """

    def __init__(self, core: VaultCore, namespace: str) -> None:
        """Use :meth:`vecvault.Vault.kv`."""
        self.core = core
        self.namespace = check_namespace(namespace)
        self.sealer = KvSealer(core, self.namespace)

    def __repr__(self) -> str:
        return f"KeyValueStore({self.namespace!r})"

    # -- reads -------------------------------------------------------------------------------------------

    def get(self, keys: Sequence[str]) -> list[bytes | None]:
        """The value of each key, in order; None for a key that is not stored.

        Raises:
            ConfigurationError: a key is not a str.
            IntegrityError: a stored entry does not open (altered, or its data key destroyed).
        """
        key_list = check_keys(keys)
        core = self.core
        with core.lock:
            core.check_open()
            return self.read(key_list)

    def read(self, keys: Sequence[str]) -> list[bytes | None]:
        """:meth:`get` for checked keys, inside the caller's lock (one statement, or two after a miss).

        A key missing from the answer may be stored under a data key this process has not loaded yet (a
        rotation by another process recomputes the lookups): only then are the namespace's keys checked,
        and the read is repeated if they changed.
        """
        out = self._read(keys)
        if None in out and self._follow_keys():
            out = self._read(keys)
        return out

    def _read(self, keys: Sequence[str]) -> list[bytes | None]:
        out: list[bytes | None] = [None] * len(keys)
        if not keys:
            return out
        unique = list(dict.fromkeys(keys))
        candidates = self.sealer.candidates(unique)
        rows = self.core.storage.kv_fetch(self.namespace, list(candidates))
        if not rows:
            return out
        # The value's AAD binds its key, so opening it under the requested key authenticates the entry as
        # that key's: a row moved under another lookup fails here. The sealed key is not needed (keys() opens it).
        lookups = [row[0] for row in rows]
        found = [unique[candidates[lookup]] for lookup in lookups]
        opened = self.sealer.open_sealed_values(found, lookups, [row[2] for row in rows], [row[1] for row in rows])
        values = dict(zip(found, opened, strict=True))
        return [values.get(key) for key in keys]

    def __getitem__(self, key: str) -> bytes:
        value = self.get([key])[0]
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get([key])[0] is not None

    def keys(self, prefix: str | None = None) -> Iterator[str]:
        """Every key (starting with ``prefix``, if given), in storage order.

        Keys are sealed, so this opens every key of the namespace and filters in memory: O(entries) AES
        decryptions whatever the prefix (about a microsecond each). Entries are read a page at a time
        without holding the vault's lock between pages; a key written meanwhile may or may not appear.
        """
        for page in self._pages(prefix, with_values=False):
            yield from (key for key, _ in page)

    def items(self, prefix: str | None = None) -> Iterator[tuple[str, bytes]]:
        """Every ``(key, value)`` (of keys starting with ``prefix``), a page at a time (see :meth:`keys`)."""
        for page in self._pages(prefix, with_values=True):
            yield from ((key, value) for key, value in page if value is not None)

    def _pages(self, prefix: str | None, *, with_values: bool) -> Iterator[list[tuple[str, bytes | None]]]:
        after = 0
        core = self.core
        while True:
            with core.lock:
                core.check_open()
                with core.storage.snapshot():
                    self._follow_keys()
                    rows = core.storage.kv_page(self.namespace, after, _PAGE)
                    keys = self.sealer.open_keys(rows)
                chosen = [i for i, key in enumerate(keys) if prefix is None or key.startswith(prefix)]
                values: list[bytes | None] = [None] * len(chosen)
                if with_values and chosen:
                    values = list(self.sealer.open_values([keys[i] for i in chosen], [rows[i] for i in chosen]))
            if not rows:
                return
            yield [(keys[i], value) for i, value in zip(chosen, values, strict=True)]
            if len(rows) < _PAGE:
                return
            after = rows[-1].rowid

    def __len__(self) -> int:
        """Number of entries."""
        core = self.core
        with core.lock:
            core.check_open()
            return core.storage.kv_count(self.namespace)

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    # -- writes ------------------------------------------------------------------------------------------

    def set(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Insert or replace entries, all in one transaction: all of them are stored, or none.

        Raises:
            ConfigurationError: a key is not a str or a value not bytes (nothing is stored), or the
                namespace's name is a collection's.
        """
        pairs = check_items(items)
        if not pairs:
            return
        core = self.core
        with core.lock:
            core.check_open()
            storage = core.storage
            with storage.transaction():
                rev = storage.try_bump_kv_revision(self.namespace)
                if rev is None:  # a new namespace (created before any data key is made for its scope)
                    storage.create_kv_namespace(self.namespace)  # refuses a collection's name
                    rev = storage.bump_kv_revision(self.namespace)
                with core.write(self.namespace, 2 * len(pairs)) as primary:
                    _write(self, primary, rev, pairs)

    def delete(self, keys: Sequence[str]) -> int:
        """Delete entries by key; return how many existed. Unknown keys are ignored.

        The deleted ciphertext leaves the database files as :meth:`vecvault.Collection.delete` describes.
        """
        key_list = check_keys(keys)
        if not key_list:
            return 0
        core = self.core
        with core.lock:
            core.check_open()
            if not core.storage.kv_namespace_exists(self.namespace):
                return 0
            with self.atomic() as tx:
                deleted = tx.delete(key_list)
            core.storage.checkpoint()
            return deleted

    def clear(self) -> int:
        """Delete every entry (the namespace and its keys stay); return how many."""
        core = self.core
        with core.lock:
            core.check_open()
            if not core.storage.kv_namespace_exists(self.namespace):
                return 0
            with core.storage.transaction():
                count = core.storage.kv_clear(self.namespace)
            core.storage.checkpoint()
            return count

    @contextlib.contextmanager
    def atomic(self) -> Iterator[KeyValueTransaction]:
        """One write transaction for reads and writes of this namespace (a read-modify-write, e.g. an append).

        ```python
        import os
        from vecvault import Vault

        with Vault.open("kv-atomic.db", key=os.urandom(32)) as vault:
            counters = vault.kv("counters")
            with counters.atomic() as tx:
                (old,) = tx.get(["visits"])
                tx.set([("visits", str(int(old or b"0") + 1).encode())])
        ```

        Holds the vault's lock and the database's write lock until it ends; an exception rolls it all back.
        """
        core = self.core
        with core.lock:
            core.check_open()
            storage = core.storage
            with storage.transaction():
                self._ensure_namespace()
                with core.write(self.namespace, 0) as primary:
                    yield KeyValueTransaction(self, primary)

    def _ensure_namespace(self) -> None:
        """Create the namespace if it does not exist (inside a write transaction); refuses a collection's name."""
        storage = self.core.storage
        if not storage.kv_namespace_exists(self.namespace):
            storage.create_kv_namespace(self.namespace)

    def _follow_keys(self) -> bool:
        """Reload the data keys if another connection changed this namespace's; return whether they changed."""
        core = self.core
        stored = core.storage.scope_key_states(self.namespace)
        loaded = [(k.key_id, k.state.value) for k in core.keys.keyset.in_scope(self.namespace)]
        if stored == loaded:
            return False
        core.reload_keys_if_changed()
        return True


def kv_namespaces(core: VaultCore) -> list[KvNamespaceInfo]:
    """Every key-value namespace of the vault with its entry count."""
    with core.lock:
        core.check_open()
        return [KvNamespaceInfo(name, count) for name, count in core.storage.kv_namespaces()]


def drop_kv_namespace(core: VaultCore, namespace: str) -> int:
    """Delete a namespace and its entries and destroy its data keys; return how many entries it held."""
    with core.lock:
        core.check_open()
        storage = core.storage
        with storage.transaction():
            core.reload_keys_if_changed()
            count = storage.drop_kv_namespace(namespace)
            for key in core.keys.keyset.in_scope(namespace):
                key.destroy()
                core.save_key(key)
        storage.checkpoint()
        return count
