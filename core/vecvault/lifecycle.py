"""Key lifecycle: data-key rotation, master-key rotation, file-encryption changes, shredding, verification.

Every operation here keeps the vault readable at every instant and survives a crash at any point; running
the same operation again after a crash finishes it.

- **Data-key rotation** (:func:`rotate_data_keys`): a fresh primary data key for a collection, then every
  record is re-sealed under it in batches, one transaction per batch, each record updated with a
  compare-and-swap on ``(key_id, rev)`` so a concurrent writer always wins. Which records to re-seal is
  read from the key ids in their sealed fields' headers, never from the plaintext ``key_id`` column. The
  old keys are destroyed only in a transaction that first opens every sealed field of the collection and
  finds each one authenticated under a key that stays (no write can slip in between); a field that does
  not open stops the rotation with an IntegrityError naming its record, and nothing is destroyed. A second
  run after a crash sees the keys still enabled and resumes instead of starting over.
- **Format upgrade** (:func:`upgrade_legacy_keys`, run by ``Vault.open``): a vault that still has legacy
  (v1) data keys re-seals those scopes by the same rotation, into field format v2 under fresh v2 keys, and
  destroys the legacy keys (see :mod:`vecvault.crypto`).
- **Master-key rotation** (:func:`rotate_master_key`): the data keys are re-wrapped under the new master's
  key-encryption key and the file's page encryption is re-keyed, in one libSQL transaction (measured: a
  ``PRAGMA rekey`` inside a transaction commits or rolls back together with it). No record is rewritten.
  The new master must be stored by its provider *before* the vault stops accepting the old one; this
  function obtains it from the new provider first, creating it there only if it is absent.
- **File encryption** (:func:`set_file_encryption`): turn libSQL page encryption on or off in place.
- **Shredding** (:func:`shred`, :func:`shred_all`): destroy data keys and delete their records.
- **Verification** (:func:`verify`): open every sealed field of every record, under the record's write
  version; report what fails.

A stored HNSW graph sealed under a key that is destroyed (rotation, shred) is deleted with it: it is only
a cache, rebuilt from the records.

A crash in the middle of a file re-key leaves a rollback journal (``<vault>-journal``) written under the
*old* file key, while page 1 of the file may already be under the new one. Opening a hot journal under
another key corrupts the vault (measured on libsql 0.1.x), so every open first reads the journal's copy of
page 1 (:mod:`vecvault.file_layer`) and plays it back only under the key whose fingerprint it carries:
:meth:`Vault.open` does so by itself when it holds that key, and rerunning the interrupted command
(:func:`rotate_master_key`, :func:`set_file_encryption`) rolls back and finishes.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vecvault import crypto, file_layer
from vecvault.crypto import FieldContext, KeyState
from vecvault.errors import (
    ConfigurationError,
    IntegrityError,
    KeyNotFoundError,
    StorageError,
    WrongKeyError,
)
from vecvault.keys.base import KeyProvider, VaultRegistry
from vecvault.progress import ProgressCallback, call_progress
from vecvault.records import FIELD_METADATA, FIELD_TEXT, FIELD_VECTOR, decode_metadata, decode_vector
from vecvault.storage import KeyRow, Storage, is_remote_url

if TYPE_CHECKING:
    from vecvault.engine import VaultCore

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "KeyInfo",
    "MasterRotation",
    "RotationReport",
    "VerifyFailure",
    "VerifyReport",
    "key_info",
    "rotate_data_keys",
    "rotate_master_key",
    "set_file_encryption",
    "shred",
    "shred_all",
    "upgrade_legacy_keys",
    "verify",
]

DEFAULT_BATCH_SIZE = 500
_HEADER_KEY = slice(1, 5)  # the key id in a sealed field's header (vecvault.crypto)
_FIELDS = (FIELD_TEXT, FIELD_METADATA, FIELD_VECTOR)


# -- reports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyInfo:
    """One data key as ``vecvault info`` shows it: id, scope, state, use counts. Never key material."""

    key_id: int
    scope: str
    state: str
    encryptions: int
    records: int


@dataclass(frozen=True)
class RotationReport:
    """The outcome of rotating one scope's data keys."""

    scope: str
    primary_key_id: int
    resealed: int
    destroyed: tuple[int, ...]
    resumed: bool


@dataclass(frozen=True)
class MasterRotation:
    """The outcome of a master-key rotation (no secrets)."""

    rewrapped: int
    file_rekeyed: bool
    already_done: bool


@dataclass(frozen=True)
class VerifyFailure:
    """A record field that does not open: where, and why (the error message; never a value)."""

    collection: str
    record_id: str
    field: str
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` checked and what failed."""

    collections: int
    records: int
    fields: int
    failures: tuple[VerifyFailure, ...]

    @property
    def ok(self) -> bool:
        """True when every sealed field opened."""
        return not self.failures


# -- helpers ---------------------------------------------------------------------------------------------


def key_info(core: VaultCore) -> list[KeyInfo]:
    """Every data key of the vault with its scope, state, encryption count and number of records."""
    with core.lock:
        core.check_open()
        storage = core.storage
        counts = storage.records_per_key()
        return [
            KeyInfo(r.key_id, r.scope, r.state, r.encryptions, counts.get(r.key_id, 0)) for r in storage.load_keys()
        ]


# -- data-key rotation -----------------------------------------------------------------------------------


def rotate_data_keys(
    core: VaultCore,
    collection: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
    batch_hook: Callable[[], None] | None = None,
) -> list[RotationReport]:
    """Rotate the data keys of one collection, or of every collection and the vault scope.

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
        names = [c.name for c in core.storage.collections()]
        if collection is not None:
            if collection not in names:
                raise ConfigurationError(f"No collection named {collection!r}; existing: {names}.")
            scopes = [collection]
        else:
            scopes = [*names, ""]
    return _rotate_scopes(core, scopes, batch_size, progress, batch_hook)


def upgrade_legacy_keys(core: VaultCore, *, batch_size: int = DEFAULT_BATCH_SIZE) -> list[RotationReport]:
    """Re-seal every scope that still has a live legacy (v1) data key into field format v2; destroy those keys.

    ``Vault.open`` runs it: it is the data-key rotation of those scopes (resumable and crash-safe, other
    connections keep reading and writing), so afterwards every record's fields bind their write version
    and no v1 field opens any more. Until it finishes, records still on a legacy key open as before.

    Raises:
        IntegrityError: a record does not open (run ``vecvault verify``); the legacy keys are kept.
    """
    with core.lock:
        core.check_open()
        core.reload_keys_if_changed()
        keyset = core.keys.keyset
        scopes = sorted({k.scope for k in keyset if k.legacy and keyset.has_live_legacy_keys(k.scope)})
    return _rotate_scopes(core, scopes, batch_size, None, None)


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
    while True:
        after = 0  # one pass over the records in rowid order: every row is read once per pass
        while True:
            moved, after = _reseal_batch(core, scope, old_ids, batch_size, after, batch_hook=batch_hook)
            if after < 0:
                break
            resealed += moved
            tracker.add(moved)
        destroyed = _destroy_unused(core, scope, old_ids)
        if destroyed is not None:
            return resealed, destroyed
        # A record landed on an old key between the last batch and the check (a writer with a stale view):
        # go round again.


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
            if not _every_field_opens_without(core, scope, {key.key_id for key in doomed}):
                return None
            for key in doomed:
                key.destroy()
                storage.update_key(core.keys.key_row(key))
            destroyed = [key.key_id for key in doomed]
            # A stored graph sealed under a destroyed key can never open again: it goes with the key.
            storage.drop_ann(scope, destroyed)
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


# -- master-key rotation ---------------------------------------------------------------------------------


def _provider_key(new: KeyProvider) -> bytes:
    """The new master key: loaded if the provider holds one, else created (and stored) by it now."""
    try:
        return new.load_key()
    except KeyNotFoundError:
        return new.create_key()


def _roll_back_interrupted_rekey(location: str, candidates: Sequence[str | None]) -> None:
    """Play back the journal of an interrupted re-key under the key that wrote it; nothing if there is none.

    Raises:
        WrongKeyError: none of ``candidates`` wrote the journal (it is left untouched).
        StorageError: the journal is still there after the rollback.
    """
    state = file_layer.file_state(location)
    if not state.hot_journal:
        return
    key = file_layer.rollback_key(location, state, candidates, Storage.page_key_fingerprint)
    Storage.open(location, file_key=key).close()  # the first read plays the journal back
    if file_layer.file_state(location).hot_journal:
        raise StorageError(
            f"The rollback journal of {location} could not be played back (another program may hold the vault "
            "open); close every other program using it and run the command again."
        )


def _key_under(location: str, named: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """Which of the named page keys the (encrypted, journal-free) file is under, by its fingerprint."""
    state = file_layer.file_state(location)
    for name, file_key in named:
        if Storage.page_key_fingerprint(file_key) == state.fingerprint:
            return name, file_key
    raise WrongKeyError(
        f"Neither the old nor the new master key opens {location}. Check both key providers; a vault "
        "whose rotation was interrupted opens only with the old or the new key."
    )


def _check_local(location: str) -> str:
    """The checked local path (``~`` expanded) of a vault a file-level operation may change."""
    if is_remote_url(location) or location == ":memory:":
        raise ConfigurationError(
            "Master-key rotation and file-encryption changes work on local vault files; for a libSQL server "
            "export the vault (vecvault export) and import it under the new key."
        )
    path = file_layer.local_path(location)
    if file_layer.file_state(path).kind == "new":
        raise ConfigurationError(f"No vault at {path}; check the path.")
    return path


def rotate_master_key(
    location: str | os.PathLike[str], old: KeyProvider, new: KeyProvider, *, move_registration: bool = True
) -> MasterRotation:
    """Move a vault from the old master key to a new one; resumable after a crash.

    Order (crash-safe): (1) the new master is loaded from ``new``, or created and stored there if it holds
    none, before the vault changes; (2) a journal left by an interrupted re-key is played back under the
    key that wrote it, and the file's current page key is told by its fingerprint
    (:mod:`vecvault.file_layer`), so no key is ever tried on a file it does not belong to; (3) in one
    transaction the data keys are re-wrapped under the new key-encryption key and the file is re-keyed
    (``PRAGMA rekey``, which libSQL runs only in ``journal_mode=DELETE``; WAL is restored afterwards);
    (4) the vault is opened with ``new`` to prove it. Only after this returns may the old key be
    deleted. Close every other connection first.

    Args:
        location: the local vault file.
        old: the provider holding the current master key.
        new: the provider for the new master key (created there if absent).
        move_registration: record in providers that list their vaults (the OS keychain) that the vault
            moved from ``old`` to ``new``; off for a staged in-place rotation, whose entry stays the same.

    Raises:
        WrongKeyError: neither key opens the vault.
        StorageError: another program holds the vault open.
    """
    location = _check_local(os.fspath(location))
    old_master = old.load_key()  # may be a weak key: moving away from it is what this is for
    new_master = _provider_key(new)
    crypto.check_master_key(new_master)
    same = hmac.compare_digest(old_master, new_master)
    old_fk, new_fk = crypto.derive_file_key(old_master), crypto.derive_file_key(new_master)
    _roll_back_interrupted_rekey(location, [old_fk, new_fk])
    encrypted = file_layer.file_state(location).kind == "encrypted"
    file_under, file_key = "plain", None
    if encrypted:
        file_under, file_key = _key_under(location, [("old", old_fk)] if same else [("old", old_fk), ("new", new_fk)])
    storage = Storage.open(location, file_key=file_key)
    try:
        vault_id = storage.get_meta("vault_id")
        if vault_id is None:
            raise StorageError(f"{location} has no vault id; it is not a complete vault.")
        rows = [r for r in storage.load_keys() if r.wrapped is not None and r.state != KeyState.DESTROYED.value]
        materials = _unwrap_all(crypto.derive_kek(new_master, vault_id), vault_id, rows)
        need_wrap = materials is None
        if materials is None:
            materials = _unwrap_all(crypto.derive_kek(old_master, vault_id), vault_id, rows)
            if materials is None:
                raise WrongKeyError(
                    f"The old master key does not open the data keys of {location}; check the old key provider."
                )
        need_rekey = encrypted and file_under == "old" and not same
        result = MasterRotation(rewrapped=0, file_rekeyed=False, already_done=True)
        if need_wrap or need_rekey:
            new_kek = crypto.derive_kek(new_master, vault_id)
            if need_rekey:
                storage.set_journal_mode("DELETE")
            with storage.transaction():
                if need_wrap:
                    for row, (material, key_format) in zip(rows, materials, strict=True):
                        wrapped = crypto.wrap_data_key(new_kek, vault_id, row.key_id, material, key_format=key_format)
                        storage.update_key(KeyRow(row.key_id, row.scope, row.state, wrapped, row.encryptions))
                if need_rekey:
                    storage.rekey(new_fk)
            result = MasterRotation(len(rows) if need_wrap else 0, file_rekeyed=need_rekey, already_done=False)
    finally:
        # Closed without a checkpoint: after a re-key this connection may no longer read the file. The
        # next open (below) turns WAL back on.
        storage.close_without_checkpoint()
    _prove_opens(location, new)
    if move_registration:
        _move_registration(vault_id.hex(), old, new)
    return result


def _move_registration(vault_id: str, old: KeyProvider, new: KeyProvider) -> None:
    """Record in the providers that keep such lists that the vault now uses the new key, not the old one."""
    if isinstance(new, VaultRegistry):
        new.register_vault(vault_id)
    if isinstance(old, VaultRegistry) and old.description != new.description:
        old.unregister_vault(vault_id)


def _unwrap_all(kek: bytes, vault_id: bytes, rows: Sequence[KeyRow]) -> list[tuple[bytes, int]] | None:
    """Each key's material and format (kept on re-wrapping: a legacy key must stay legacy), or None."""
    out = []
    for row in rows:
        if row.wrapped is None:
            continue
        try:
            out.append(crypto.unwrap_data_key_with_format(kek, vault_id, row.key_id, row.wrapped))
        except WrongKeyError:
            return None
    return out


def _prove_opens(location: str, provider: KeyProvider) -> None:
    from vecvault.engine import VaultCore

    VaultCore.open(location, key=provider, create=False).close()


def set_file_encryption(location: str | os.PathLike[str], key: KeyProvider, *, enabled: bool) -> bool:
    """Turn libSQL page encryption on or off for a local vault file, in place; return whether it changed.

    The file key is derived from the master key, so it changes with :func:`rotate_master_key`; this only
    switches the layer. The change is one transaction in ``journal_mode=DELETE``: a crash leaves the file
    as it was (the journal is rolled back by the next open, which detects the old setting). Close every
    other connection first.
    """
    location = _check_local(os.fspath(location))
    master = key.load_key()
    file_key = crypto.derive_file_key(master)
    _roll_back_interrupted_rekey(location, [file_key])
    encrypted = file_layer.file_state(location).kind == "encrypted"
    if encrypted == enabled:
        _prove_opens(location, key)
        return False
    storage = Storage.open(location, file_key=file_key if encrypted else None)
    try:
        _check_vault_key(storage, master)
        storage.set_journal_mode("DELETE")
        # No explicit transaction here: measured on libsql 0.1.x, re-keying a *plain* connection inside
        # BEGIN ... COMMIT writes a file that opens with neither key. On its own, the re-key runs in its
        # own journaled transaction (a crash rolls back on the next open, which detects the old setting).
        storage.rekey(file_key if enabled else "")
    finally:
        storage.close_without_checkpoint()  # see rotate_master_key: the next open restores WAL
    _prove_opens(location, key)
    return True


def _check_vault_key(storage: Storage, master: bytes) -> None:
    """Refuse to touch the file layer with a master key that does not open the vault's data keys."""
    vault_id = storage.get_meta("vault_id")
    if vault_id is None:
        raise StorageError(f"{storage.shown_location} has no vault id; it is not a complete vault.")
    rows = [r for r in storage.load_keys() if r.wrapped is not None]
    if rows and _unwrap_all(crypto.derive_kek(master, vault_id), vault_id, rows) is None:
        raise WrongKeyError(f"The master key does not open {storage.shown_location}; check the key provider.")


# -- shredding -------------------------------------------------------------------------------------------


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


# -- verification ----------------------------------------------------------------------------------------


def verify(core: VaultCore, *, progress: ProgressCallback | None = None, batch_size: int = 2000) -> VerifyReport:
    """Open every sealed field of every record and check what it decodes to; never raises for a record.

    Returns:
        A report listing each field that failed (collection, record id, field, reason).
    """
    failures: list[VerifyFailure] = []
    records = fields = 0
    with core.lock:
        core.check_open()
        storage = core.storage
        configs = storage.collections()
        total = sum(storage.count(c.name) for c in configs)
        call_progress(progress, 0, total)
        for config in configs:
            last = ""
            while True:
                # Sealed columns arrive as bytes (or None) whatever their storage class in the file, so a
                # retyped value is one failed field here, not a failed walk.
                rows = storage.records_after(config.name, ("rev", *_FIELDS), last, batch_size)
                if not rows:
                    break
                for row in rows:
                    record_id, rev = str(row[0]), row[1]
                    for field, blob in zip(_FIELDS, row[2:5], strict=True):
                        fields += 1
                        reason = _check_field(core, config.name, config.dim, record_id, field, blob, rev)
                        if reason is not None:
                            failures.append(VerifyFailure(config.name, record_id, field, reason))
                records += len(rows)
                last = str(rows[-1][0])
                call_progress(progress, records, max(total, records))
    return VerifyReport(len(configs), records, fields, tuple(failures))


def _check_field(
    core: VaultCore, collection: str, dim: int, record_id: str, field: str, blob: Any, rev: Any
) -> str | None:
    try:
        if blob is None:
            raise IntegrityError("the stored value is NULL, not a sealed value")
        if not isinstance(blob, bytes):
            raise IntegrityError("the stored value is not a sealed value")
        plain = core.keys.keyset.open(blob, FieldContext(core.keys.vault_id, collection, record_id, field, rev))
        if field == FIELD_TEXT:
            plain.decode()
        elif field == FIELD_METADATA:
            decode_metadata(plain)
        else:
            decode_vector(plain, dim)
    except UnicodeDecodeError:
        return "the text is not UTF-8"
    except IntegrityError as exc:
        return str(exc)
    return None
