"""``VecVaultRecordManager``: the indexing API's record manager, its keys and group ids sealed in a vault.

LangChain's ``index()`` remembers, for every document it wrote, a key (a hash of the document), a group
id (its source, often a file path) and when it last wrote it. ``SQLRecordManager`` keeps them in the
clear; here each record is one sealed entry of a key-value namespace (``"record_manager/<namespace>"``),
key and ``{group_id, updated_at}`` both sealed. ``list_keys`` therefore opens every record and filters in
memory (about a microsecond per record).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.indexing import RecordManager
from langchain_core.runnables.config import run_in_executor

from langchain_vecvault._convert import redact_location
from vecvault import ConfigurationError, IntegrityError, Vault
from vecvault.integration import VaultOwner, dump_json, load_json
from vecvault.keys.base import KeyProvider
from vecvault.kv import check_keys

__all__ = ["RECORD_MANAGER_PREFIX", "VecVaultRecordManager"]

RECORD_MANAGER_PREFIX = "record_manager/"


class VecVaultRecordManager(VaultOwner, RecordManager):
    """LangChain ``RecordManager`` whose record keys, group ids (source paths) and times are sealed.

    Setup:
        ```bash
        pip install -qU 'vecvault[langchain]'
        ```

    Instantiate:
        ```python
        import os
        from langchain_vecvault import VecVaultRecordManager

        manager = VecVaultRecordManager("vecvault/notes", path="records-example.db", key=os.urandom(32))
        manager.create_schema()
        ```

    Use:
        ```python
        manager.update(["hash-1", "hash-2"], group_ids=["notes/a.md", "notes/b.md"])
        assert manager.exists(["hash-1", "hash-3"]) == [True, False]
        assert manager.list_keys(group_ids=["notes/a.md"]) == ["hash-1"]
        manager.delete_keys(["hash-1"])
        manager.close()
        ```

    With ``index()``:
        ``index(docs, manager, vector_store, cleanup="incremental", source_id_key="source")`` with a
        ``VecVaultVectorStore`` of the same vault: the whole indexing state lives sealed in one file.

    Async:
        Every method has its ``a``-prefixed twin, run in a worker thread.
    """

    def __init__(
        self,
        namespace: str,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        file_encryption: bool | None = None,
        **open_options: Any,
    ) -> None:
        """Bind the record manager to a namespace of a vault.

        Args:
            namespace: the record manager's namespace (LangChain's; stored as the plaintext key-value
                namespace ``"record_manager/" + namespace``).
            vault: an open :class:`vecvault.Vault`; never closed by the manager.
            path: open a vault here instead; the manager owns it and ``close()`` closes it.
            key: the master key for ``path``.
            file_encryption: libSQL page encryption for ``path``.
            **open_options: more options of ``Vault.open`` for ``path``.
        """
        if not isinstance(namespace, str) or not namespace:
            raise ConfigurationError(f"namespace must be a non-empty str, not {namespace!r}.")
        super().__init__(namespace)
        self._attach("VecVaultRecordManager", vault, path, key, file_encryption, open_options)
        try:
            self._store = self._vault.kv(RECORD_MANAGER_PREFIX + namespace)
        except BaseException:
            self.close()
            raise
        self._clock_lock = threading.Lock()
        self._last_time = 0.0

    def __repr__(self) -> str:
        return f"VecVaultRecordManager({self.namespace!r}, {redact_location(self._vault.location)!r})"

    def create_schema(self) -> None:
        """Nothing to create: the vault's schema holds every namespace (the namespace appears on first write)."""
        self._vault.core.check_open()

    async def acreate_schema(self) -> None:
        """Async :meth:`create_schema`."""
        self.create_schema()

    def get_time(self) -> float:
        """This process's clock, never going backwards between calls (``index()`` compares against it)."""
        with self._clock_lock:
            self._last_time = max(self._last_time, time.time())
            return self._last_time

    async def aget_time(self) -> float:
        """Async :meth:`get_time`."""
        return self.get_time()

    def update(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        """Upsert records (key, group id, now) in one transaction.

        Raises:
            ValueError: ``keys`` and ``group_ids`` differ in length, or ``time_at_least`` is in the future
                (the clock went backwards: ``index()`` would otherwise delete fresh records).
        """
        self._update(keys, group_ids, time_at_least, self.get_time())

    async def aupdate(
        self,
        keys: Sequence[str],
        *,
        group_ids: Sequence[str | None] | None = None,
        time_at_least: float | None = None,
    ) -> None:
        """Async :meth:`update` (the time from :meth:`aget_time`, the write in a worker thread)."""
        now = await self.aget_time()
        await run_in_executor(None, self._update, keys, group_ids, time_at_least, now)

    def _update(
        self,
        keys: Sequence[str],
        group_ids: Sequence[str | None] | None,
        time_at_least: float | None,
        now: float,
    ) -> None:
        key_list = check_keys(keys)
        if group_ids is not None and len(group_ids) != len(key_list):
            raise ConfigurationError(
                f"Got {len(group_ids)} group ids for {len(key_list)} keys; pass one per key (or None)."
            )
        groups = list(group_ids) if group_ids is not None else [None] * len(key_list)
        for i, group in enumerate(groups):
            if group is not None and not isinstance(group, str):
                raise ConfigurationError(f"group_ids[{i}] is a {type(group).__name__}; group ids must be str or None.")
        if time_at_least is not None and time_at_least > now:
            raise ConfigurationError(
                f"time_at_least ({time_at_least}) is after this vault's time ({now}): the clock went backwards. "
                "Retry once the clock is right; nothing was stored."
            )
        if key_list:
            self._store.set(
                [(k, dump_json({"group_id": g, "updated_at": now})) for k, g in zip(key_list, groups, strict=True)]
            )

    def exists(self, keys: Sequence[str]) -> list[bool]:
        """Whether each key is recorded."""
        return [value is not None for value in self._store.get(keys)]

    async def aexists(self, keys: Sequence[str]) -> list[bool]:
        """Async :meth:`exists`."""
        return await run_in_executor(None, self.exists, keys)

    def list_keys(
        self,
        *,
        before: float | None = None,
        after: float | None = None,
        group_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Keys updated before/after a time, of some group ids, at most ``limit``; opens every record."""
        wanted = None if group_ids is None else set(group_ids)
        out: list[str] = []
        for key, raw in self._store.items():
            record = load_json(raw, "record")
            if not isinstance(record, dict) or not isinstance(record.get("updated_at"), (int, float)):
                raise IntegrityError("A stored record is not the one vecvault wrote; run `vecvault verify`.")
            updated = float(record["updated_at"])
            if before is not None and updated >= before:
                continue
            if after is not None and updated <= after:
                continue
            if wanted is not None and record.get("group_id") not in wanted:
                continue
            out.append(key)
            if limit and len(out) >= limit:
                break
        return out

    async def alist_keys(
        self,
        *,
        before: float | None = None,
        after: float | None = None,
        group_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Async :meth:`list_keys`."""
        return await run_in_executor(
            None, lambda: self.list_keys(before=before, after=after, group_ids=group_ids, limit=limit)
        )

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Delete records (missing keys are ignored)."""
        self._store.delete(keys)

    async def adelete_keys(self, keys: Sequence[str]) -> None:
        """Async :meth:`delete_keys`."""
        await run_in_executor(None, self.delete_keys, keys)
