"""Data-key rotation and the field-format upgrade: re-seal records under fresh data keys, resumably."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vecvault.crypto import KeyState
from vecvault.errors import (
    ConfigurationError,
)
from vecvault.progress import ProgressCallback, call_progress
from vecvault.records import FIELD_METADATA, FIELD_TEXT, FIELD_VECTOR

if TYPE_CHECKING:
    from vecvault.engine import VaultCore


DEFAULT_BATCH_SIZE = 500

_HEADER_KEY = slice(1, 5)  # the key id in a sealed field's header (vecvault.crypto)

_FIELDS = (FIELD_TEXT, FIELD_METADATA, FIELD_VECTOR)


@dataclass(frozen=True)
class RotationReport:
    """The outcome of rotating one scope's data keys."""

    scope: str
    primary_key_id: int
    resealed: int
    destroyed: tuple[int, ...]
    resumed: bool


def rotate_data_keys(
    core: VaultCore,
    collection: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    batch_hook: Callable[[], None] | None = None,
) -> list[RotationReport]:
    """Rotate the data keys of one collection or key-value namespace, or of all of them and the vault scope.

    For each scope: if it still has live non-primary keys (an earlier rotation was interrupted) the
    rotation resumes; otherwise a fresh primary is made. Records are then re-sealed under the primary in
    batches of ``batch_size``, one transaction per batch, and the old keys are destroyed once no record
    uses them. Other connections may read and write throughout; every record stays readable.

    Args:
        core: an open vault's engine (``vault.core``).
        collection: the collection to rotate; ``None`` rotates every collection and the vault scope.
        batch_size: records per transaction.
        progress: ``progress(done, total)`` after each committed batch (records across all scopes).
        batch_hook: called inside each batch's transaction, after its writes and before its commit: the
            seam crash tests use to stop a process at the worst moment.

    Returns:
        One report per rotated scope.

    Raises:
        ConfigurationError: no such collection, or a bad batch size.
        IntegrityError: a record does not open (run ``vecvault verify``); nothing of its batch is written.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigurationError(f"batch_size must be a positive int, not {batch_size!r}.")
    with core.lock:
        core.check_open()
        names = [c.name for c in core.storage.collections()] + [n for n, _ in core.storage.kv_namespaces()]
        if collection is not None:
            if collection not in names:
                raise ConfigurationError(
                    f"No collection named {collection!r}, nor a key-value namespace; existing: {sorted(names)}."
                )
            scopes = [collection]
        else:
            scopes = [*names, ""]
    return _rotate_scopes(core, scopes, batch_size, progress, batch_hook)


def upgrade_legacy_keys(
    core: VaultCore, *, batch_size: int = DEFAULT_BATCH_SIZE, batch_hook: Callable[[], None] | None = None
) -> list[RotationReport]:
    """Re-seal every scope that still has a live legacy (v1) data key into field format v2; destroy those keys.

    ``Vault.open`` runs it: it is the data-key rotation of those scopes (resumable and crash-safe, other
    connections keep reading and writing), so afterwards every record's fields bind their write version
    and no v1 field opens any more. Until it finishes, records still on a legacy key open as before.

    ``batch_hook`` is as in :func:`rotate_data_keys`.

    Raises:
        IntegrityError: a record does not open (run ``vecvault verify``); the legacy keys are kept.
    """
    with core.lock:
        core.check_open()
        core.reload_keys_if_changed()
        keyset = core.keys.keyset
        scopes = sorted({k.scope for k in keyset if k.legacy and keyset.has_live_legacy_keys(k.scope)})
    return _rotate_scopes(core, scopes, batch_size, None, batch_hook)


def _rotate_scopes(
    core: VaultCore,
    scopes: list[str],
    batch_size: int,
    progress: ProgressCallback | None,
    batch_hook: Callable[[], None] | None,
) -> list[RotationReport]:
    with core.lock:
        core.check_open()
        starts = [_start_rotation(core, scope) for scope in scopes]
        total = sum(_count_on(core, scope, old_ids) for scope, (_, old_ids, _) in zip(scopes, starts, strict=True))
    tracker = _Tracker(progress, total)
    tracker.report()
    reports = []
    for scope, (primary_id, old_ids, resumed) in zip(scopes, starts, strict=True):
        resealed, destroyed = _finish_rotation(core, scope, old_ids, batch_size, tracker, batch_hook)
        reports.append(RotationReport(scope, primary_id, resealed, tuple(destroyed), resumed))
    with core.lock:
        core.storage.checkpoint()
    return reports


class _Tracker:
    def __init__(self, progress: ProgressCallback | None, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = 0

    def add(self, n: int) -> None:
        self.done += n
        self.total = max(self.total, self.done)
        self.report()

    def report(self) -> None:
        call_progress(self.progress, self.done, self.total)


def _start_rotation(core: VaultCore, scope: str) -> tuple[int, list[int], bool]:
    """Make a fresh primary unless a rotation is under way; return (primary id, old key ids, resumed)."""
    storage = core.storage
    with storage.transaction():
        core.reload_keys_if_changed()
        keyset = core.keys.keyset
        pending = [k.key_id for k in keyset.in_scope(scope) if k.state is KeyState.ENABLED]
        primary = keyset.primary_for(scope)
        if pending and primary is not None and not primary.legacy:
            return primary.key_id, pending, True
        fresh = core.new_primary(scope)  # demotes the old primary to enabled: it keeps opening
        old = [k.key_id for k in keyset.in_scope(scope) if k.state is KeyState.ENABLED]
        return fresh.key_id, old, False


def _count_on(core: VaultCore, scope: str, key_ids: Sequence[int]) -> int:
    """Records of a scope with a sealed field whose header names one of ``key_ids``: a progress estimate.

    Headers are not authenticated until their field opens, so nothing is decided from this count (nor from
    the plaintext ``key_id`` column): :func:`_reseal_batch` and :func:`_destroy_unused` open the fields.
    """
    if core.storage.kv_namespace_exists(scope):
        return core.storage.kv_count_naming_keys(scope, key_ids)
    return core.storage.count_naming_keys(scope, key_ids)


def _header_key(blob: Any) -> int | None:
    """The key id a sealed field's header names (unauthenticated), or None for a value with no header."""
    if not isinstance(blob, bytes) or len(blob) < _HEADER_KEY.stop:
        return None
    return int.from_bytes(blob[_HEADER_KEY], "big")


def _finish_rotation(
    core: VaultCore,
    scope: str,
    old_ids: list[int],
    batch_size: int,
    tracker: _Tracker,
    batch_hook: Callable[[], None] | None,
) -> tuple[int, list[int]]:
    resealed = 0
    with core.lock:
        reseal = _reseal_kv_batch if core.storage.kv_namespace_exists(scope) else _reseal_batch
    while True:
        after = 0  # one pass over the records in rowid order: every row is read once per pass
        while True:
            moved, after = reseal(core, scope, old_ids, batch_size, after, batch_hook=batch_hook)
            if after < 0:
                break
            resealed += moved
            tracker.add(moved)
        destroyed = _destroy_unused(core, scope, old_ids)
        if destroyed is not None:
            return resealed, destroyed


def _reseal_batch(
    core: VaultCore,
    scope: str,
    old_ids: list[int],
    batch_size: int,
    after: int,
    *,
    batch_hook: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Re-seal the records among the next ``batch_size`` of the scope past rowid ``after`` that are on an old key.

    A record is on an old key when a sealed field's header names one; the plaintext ``key_id`` column is
    not consulted (it is rewritten to the new primary here). Each such record's fields are opened under
    its write version, so one that does not open stops the rotation with an IntegrityError naming it.

    Returns:
        How many left the old keys, and the rowid to continue after (-1 once the pass is done).
    """
    if not old_ids:
        return 0, -1
    storage = core.storage
    old = set(old_ids)
    with core.lock:
        core.check_open()
        with storage.snapshot():
            found = storage.rotation_page(scope, after, batch_size)
        if not found:
            return 0, -1
        last = int(found[-1][0])
        keyset = core.keys.keyset
        vault_id = core.keys.vault_id
        # Only records with a field whose header names a key being retired (the final check opens the rest).
        moving = [row for row in found if any(_header_key(blob) in old for blob in row[4:7])]
        if not moving:
            return 0, last
        ids = [str(row[1]) for row in moving]
        revs = [row[2] for row in moving]
        # Opened as batches, each field under its record's write version (one that fails names its record).
        values = [
            keyset.open_field_batch(vault_id, scope, ids, field, [row[column] for row in moving], revs)
            for column, field in enumerate(_FIELDS, start=4)
        ]
        with core.write(scope, 3 * len(moving)) as primary:
            old_rev, new_rev = storage.bump_revision(scope)
            now = time.time()
            texts, metadatas, vectors = (
                keyset.seal_field_batch(primary, vault_id, scope, ids, field, plain, rev=new_rev)
                for field, plain in zip(_FIELDS, values, strict=True)
            )
            params = [
                (primary.key_id, texts[i], metadatas[i], vectors[i], new_rev, now, scope, ids[i], row[3], row[2])
                for i, row in enumerate(moving)
            ]
            # Compare-and-swap: a record rewritten or deleted since the read is left alone (it is no
            # longer on the old key, or no longer exists).
            storage.reseal_records(params)
            if batch_hook is not None:
                batch_hook()
        col = core.collections.get(scope)
        if col is not None:
            # The opened values did not change: a loaded index stays valid at the new revision, its rows
            # now of the re-sealing write.
            col.apply_own_write(old_rev, new_rev, lambda index: index.note_revs(ids, new_rev))
        return len(moving), last


def _destroy_unused(core: VaultCore, scope: str, old_ids: list[int]) -> list[int] | None:
    """Destroy the old keys once no sealed field needs them, in one transaction; None if one still does.

    Inside the destroying write transaction (no other write can come in between) every sealed field of the
    scope is opened: each must be authenticated under a key that is not being destroyed. A field naming
    an old key sends the rotation round again (None); a field that does not open raises.

    Raises:
        IntegrityError: a field does not open; it names the record. Nothing is destroyed.
    """
    storage = core.storage
    with core.lock:
        core.check_open()
        with storage.transaction():
            core.reload_keys_if_changed()
            doomed = []
            for key_id in old_ids:
                key = core.keys.keyset.get(key_id)
                if key is None or key.state is KeyState.DESTROYED or key.state is KeyState.PRIMARY:
                    continue
                doomed.append(key)
            if not doomed:
                return []
            opens = _every_kv_field_opens_without if storage.kv_namespace_exists(scope) else _every_field_opens_without
            if not opens(core, scope, {key.key_id for key in doomed}):
                return None
            for key in doomed:
                key.destroy()
                storage.update_key(core.keys.key_row(key))
            destroyed = [key.key_id for key in doomed]
            # A stored graph sealed under a destroyed key can never open again: it goes with the key.
            storage.drop_ann(scope, destroyed)
            storage.drop_snapshot(scope, destroyed)
        col = core.collections.get(scope)
        if col is not None:
            col.keys_rotated()  # the next search stores the graph this process holds, under the new key
        return destroyed


def _every_field_opens_without(core: VaultCore, scope: str, doomed: set[int]) -> bool:
    """Whether every sealed field of the scope opens under a key outside ``doomed`` (inside a transaction).

    Returns False as soon as a field's header names a doomed key (it may still open under it).

    Raises:
        IntegrityError: a field does not open, naming its record and field.
    """
    keyset, vault_id = core.keys.keyset, core.keys.vault_id
    for rows in core.storage.scan_pages(scope, ["rev", *_FIELDS]):
        ids = [str(row[0]) for row in rows]
        revs = [row[1] for row in rows]
        for column, field in enumerate(_FIELDS, start=2):
            blobs = [row[column] for row in rows]
            if any(_header_key(blob) in doomed for blob in blobs):
                return False
            keyset.open_field_batch(vault_id, scope, ids, field, blobs, revs)
    return True


def _reseal_kv_batch(
    core: VaultCore,
    scope: str,
    old_ids: list[int],
    batch_size: int,
    after: int,
    *,
    batch_hook: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """:func:`_reseal_batch` for a key-value namespace: entries on an old key are re-sealed, lookups recomputed.

    The blind-index lookup is keyed by the data key, so an entry moving to the new primary gets a new
    lookup; the compare-and-swap leaves an entry rewritten or deleted since the read alone (a write in
    between replaced it under the primary already).
    """
    if not old_ids:
        return 0, -1
    from vecvault.kv import KvSealer

    storage = core.storage
    old = set(old_ids)
    with core.lock:
        core.check_open()
        with storage.snapshot():
            found = storage.kv_page(scope, after, batch_size)
        if not found:
            return 0, -1
        last = found[-1].rowid
        moving = [row for row in found if _header_key(row.key) in old or _header_key(row.value) in old]
        if not moving:
            return 0, last
        sealer = KvSealer(core, scope)
        keys = sealer.open_keys(moving)
        values = sealer.open_values(keys, moving)
        with core.write(scope, 2 * len(moving)) as primary:
            new_rev = storage.bump_kv_revision(scope)
            sealed = sealer.seal(primary, new_rev, list(zip(keys, values, strict=True)))
            storage.kv_reseal(
                [
                    (lookup, primary.key_id, key, value, new_rev, scope, row.lookup, row.key_id, row.rev)
                    for (lookup, key, value), row in zip(sealed, moving, strict=True)
                ]
            )
            if batch_hook is not None:
                batch_hook()
        return len(moving), last


def _every_kv_field_opens_without(core: VaultCore, scope: str, doomed: set[int]) -> bool:
    """:func:`_every_field_opens_without` for a key-value namespace (inside a transaction)."""
    from vecvault.kv import KvSealer

    sealer = KvSealer(core, scope)
    for rows in core.storage.kv_pages(scope):
        if any(_header_key(row.key) in doomed or _header_key(row.value) in doomed for row in rows):
            return False
        sealer.open_values(sealer.open_keys(rows), rows)
    return True
