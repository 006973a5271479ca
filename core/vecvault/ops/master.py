"""Master-key rotation and file-encryption changes: the key-encryption key and the libSQL page key."""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass

from vecvault import crypto, file_layer
from vecvault.crypto import KeyState
from vecvault.errors import (
    ConfigurationError,
    KeyNotFoundError,
    StorageError,
    WrongKeyError,
)
from vecvault.keys.base import KeyProvider, VaultRegistry
from vecvault.storage import KeyRow, Storage, is_remote_url


@dataclass(frozen=True)
class MasterRotation:
    """The outcome of a master-key rotation (no secrets)."""

    rewrapped: int
    file_rekeyed: bool
    already_done: bool


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
        if hmac.compare_digest(Storage.page_key_fingerprint(file_key), state.fingerprint):
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
