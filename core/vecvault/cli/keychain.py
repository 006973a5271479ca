"""``rotate --master`` in place in the OS keychain: staged, resumable, never for an entry other vaults use."""

from __future__ import annotations

import argparse
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, TextIO

from vecvault.cli.help import DOCS_URL
from vecvault.cli.options import BACKUP_SUFFIX, STAGING_SUFFIX, _require_local, _UsageError, _vault_key
from vecvault.errors import ConfigurationError, KeyNotFoundError
from vecvault.keys import (
    KeyProvider,
    KeyringKeyProvider,
)


def _rotate_master(args: argparse.Namespace, new: KeyProvider | None, out: TextIO) -> int:
    from vecvault import lifecycle

    _require_local(
        args.path,
        "rotate --master",
        "export the vault (`vecvault export URL BUNDLE`) and import the bundle into a local vault under the new key "
        "(`vecvault import BUNDLE PATH --key-... --bundle-key-...`).",
    )
    old = _vault_key(args, args.path)
    if new is not None:
        result = lifecycle.rotate_master_key(args.path, old, new)
        _print_master(result, out)
        print(
            f"The vault now opens only with the new key ({new.description}). Keep a backup of it; delete the "
            f"old key once you no longer need old backups (guide: {DOCS_URL}).",
            file=out,
        )
        return 0
    if not isinstance(old, KeyringKeyProvider):
        raise _UsageError(
            "rotate --master needs the new key's location for this key provider: --new-key-file PATH (created if "
            "absent), --new-key-env VAR (set it first), --new-passphrase [--new-passphrase-file PATH] or "
            "--new-keyring SERVICE/ACCOUNT. Only a keychain key is rotated in place."
        )
    # In place in the keychain: the new key is staged in a second entry first, so at every instant the key
    # that opens the vault is stored somewhere; a re-run after a crash resumes from the staged entry. The
    # old key is kept in a backup entry, and the entry is rotated only if no other vault uses it.
    staging = KeyringKeyProvider(old.service, old.account + STAGING_SUFFIX)
    resuming = _holds_key(staging)
    vault_id = _vault_id_with(args.path, [old, staging] if resuming else [old])
    if not resuming:
        _check_entry_is_this_vaults(old, vault_id)
    current = old.load_key()
    # A run killed after the swap below leaves the entry already holding the staged key: its backup exists.
    swapped = resuming and hmac.compare_digest(staging.load_key(), current)
    backup = None if swapped else _backup_entry(old, current)
    if resuming:
        print(f"resuming an interrupted rotation (staged key in account {staging.account!r})", file=out)
    else:
        staging.create_key()
    result = lifecycle.rotate_master_key(args.path, old, staging, move_registration=False)
    old.store_key(staging.load_key(), overwrite=True)
    staging.delete_key()
    _print_master(result, out)
    kept = (
        f"{backup.service}/{backup.account}"
        if backup is not None
        else f"the entry {old.service}/{old.account}{BACKUP_SUFFIX}-* that the interrupted run made"
    )
    print(
        f"The keychain entry {old.service}/{old.account} now holds the new key. The old key is kept in {kept} "
        "for backups made before this rotation: delete that entry (`keyring del SERVICE ACCOUNT`) once you no "
        "longer need them.",
        file=out,
    )
    return 0


def _holds_key(provider: KeyringKeyProvider) -> bool:
    try:
        provider.load_key()
    except KeyNotFoundError:
        return False
    return True


def _vault_id_with(path: str, providers: Sequence[KeyProvider]) -> str:
    """The vault's id, read with the first provider whose key opens it (the old key, or a staged one)."""
    from vecvault.errors import WrongKeyError
    from vecvault.vault import Vault

    error: WrongKeyError | None = None
    for provider in providers:
        try:
            with Vault.open(path, key=provider, create=False) as vault:
                return vault.vault_id
        except WrongKeyError as exc:
            error = exc
    assert error is not None
    raise error


def _check_entry_is_this_vaults(entry: KeyringKeyProvider, vault_id: str) -> None:
    """Refuse an in-place rotation of an entry whose key other vaults use (or may use)."""
    users = entry.registered_vaults()
    if users == frozenset({vault_id}):
        return
    if users is None:
        why = "it was created before vecvault kept a list of the vaults using each key, so other vaults may use it"
    else:
        others = len(users - {vault_id})
        why = f"{others} other vault{'s' if others != 1 else ''} use{'s' if others == 1 else ''} it"
    raise ConfigurationError(
        f"Not rotating the keychain entry {entry.service}/{entry.account} in place: {why}, and they would no "
        "longer open. Move this vault to a key of its own instead: vecvault rotate --master PATH --new-keyring "
        f"{entry.service}/NEW-ACCOUNT (the entry {entry.account!r} and the other vaults stay as they are)."
    )


def _backup_entry(old: KeyringKeyProvider, key: bytes) -> KeyringKeyProvider:
    """The entry that keeps ``key`` after an in-place rotation: ``<account>.previous-<tag of the key>``.

    Named after the key it holds (a short hash: the keychain already guards the key itself), so each
    rotation's backup has its own entry and a resumed rotation finds the one it made.
    """
    tag = hashlib.sha256(b"vecvault/keychain-backup-name\0" + key).hexdigest()[:8]
    backup = KeyringKeyProvider(old.service, f"{old.account}{BACKUP_SUFFIX}-{tag}")
    try:
        held = backup.load_key()
    except KeyNotFoundError:
        backup.store_key(key)
        return backup
    if not hmac.compare_digest(held, key):
        raise ConfigurationError(
            f"The keychain entry {backup.service}/{backup.account} holds another key; rename or delete it, then "
            "run the command again."
        )
    return backup


def _print_master(result: Any, out: TextIO) -> None:
    if result.already_done:
        print("master key: already rotated (nothing left to do)", file=out)
    else:
        rekeyed = ", file re-keyed" if result.file_rekeyed else ""
        print(f"master key rotated: {result.rewrapped} data keys re-wrapped{rekeyed}", file=out)
