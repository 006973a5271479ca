"""The ``vecvault`` command: create, inspect, verify, rotate, shred, export and import vaults.

Every command takes the vault path as a positional argument and the same key options: ``--key-env VAR``,
``--key-file PATH``, ``--passphrase`` (with ``--passphrase-file PATH``, default ``<vault>.vvkey``) or
``--keyring SERVICE/ACCOUNT``. With none, ``VECVAULT_KEY`` is used when set, else the OS keychain (service
``vecvault``, account ``default``). A passphrase is read with a hidden prompt, or from
``VECVAULT_PASSPHRASE`` when there is no terminal (for scripts; anything that can read the process
environment can read it too).

Exit status: 0 success, 1 a vecvault error (printed as one ``vecvault: error: ...`` line, never a
traceback) or a failed ``verify``, 2 bad arguments, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import hmac
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from vecvault.errors import ConfigurationError, KeyNotFoundError, VecVaultError
from vecvault.keys import (
    EnvKeyProvider,
    KeyFileProvider,
    KeyProvider,
    KeyringKeyProvider,
    PassphraseKeyProvider,
    default_key_provider,
)
from vecvault.progress import terminal_progress

__all__ = ["COMMANDS", "build_parser", "main"]

PASSPHRASE_ENV = "VECVAULT_PASSPHRASE"  # noqa: S105 (a variable name)
NEW_PASSPHRASE_ENV = "VECVAULT_NEW_PASSPHRASE"  # noqa: S105
BUNDLE_PASSPHRASE_ENV = "VECVAULT_BUNDLE_PASSPHRASE"  # noqa: S105
PASSPHRASE_SUFFIX = ".vvkey"  # noqa: S105 (a file suffix)
AUTH_TOKEN_ENV = "VECVAULT_AUTH_TOKEN"  # noqa: S105 (a variable name)
STAGING_SUFFIX = ".rotating"
BACKUP_SUFFIX = ".previous"

COMMANDS = ("init", "info", "verify", "rotate", "passwd", "shred", "export", "import", "demo")


class _UsageError(Exception):
    """A bad combination of arguments found after parsing: reported like argparse does (exit 2)."""


# -- key options -----------------------------------------------------------------------------------------


def _add_key_options(parser: argparse.ArgumentParser, prefix: str = "", *, title: str | None = None) -> None:
    group = parser.add_argument_group(title or "master key (default: VECVAULT_KEY if set, else the OS keychain)")
    which = group.add_mutually_exclusive_group()
    which.add_argument(f"--{prefix}key-env", metavar="VAR", help="read the base64 key from this environment variable")
    which.add_argument(f"--{prefix}key-file", metavar="PATH", help="a 0600 file holding the base64 key")
    which.add_argument(
        f"--{prefix}passphrase",
        action="store_true",
        help=f"a passphrase-protected key file (prompted, or ${PASSPHRASE_ENV if not prefix else NEW_PASSPHRASE_ENV})",
    )
    which.add_argument(f"--{prefix}keyring", metavar="SERVICE/ACCOUNT", help="an OS keychain entry")
    group.add_argument(
        f"--{prefix}passphrase-file",
        metavar="PATH",
        help=f"the passphrase key file (default: the vault path + {PASSPHRASE_SUFFIX}); implies --{prefix}passphrase",
    )
    if not prefix:
        server = parser.add_argument_group("libSQL server (when PATH is a libsql://, http:// or https:// URL)")
        server.add_argument(
            "--auth-token", metavar="TOKEN", help=f"the server's auth token (default: ${AUTH_TOKEN_ENV} if set)"
        )


def _add_bundle_key_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bundle key (default: the vault's master key)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--bundle-key-env", metavar="VAR", help="a master key from this environment variable")
    which.add_argument("--bundle-key-file", metavar="PATH", help="a master key from this 0600 key file")
    which.add_argument("--bundle-keyring", metavar="SERVICE/ACCOUNT", help="a master key from this keychain entry")
    which.add_argument(
        "--bundle-passphrase",
        action="store_true",
        help=f"a bundle passphrase instead of a key (prompted, or ${BUNDLE_PASSPHRASE_ENV})",
    )


def _parse_keyring(value: str, option: str) -> KeyringKeyProvider:
    service, sep, account = value.rpartition("/")
    if not sep or not service or not account:
        raise _UsageError(f"{option} takes SERVICE/ACCOUNT (e.g. vecvault/notes), not {value!r}")
    return KeyringKeyProvider(service, account)


def _prompt(label: str, env: str, *, confirm: bool = False) -> Callable[[], str]:
    """A passphrase source: the environment variable if set, else a hidden prompt on a terminal."""

    def read() -> str:
        value = os.environ.get(env)
        if value is not None:
            return value
        if not sys.stdin.isatty():
            raise ConfigurationError(
                f"{label} is needed but there is no terminal to ask it on; set {env} for non-interactive use."
            )
        first = getpass.getpass(f"{label}: ")
        if confirm and getpass.getpass(f"{label} (again): ") != first:
            raise ConfigurationError("The two passphrases differ; nothing was changed. Run the command again.")
        return first

    return read


def _provider(args: argparse.Namespace, vault_path: str, prefix: str = "") -> KeyProvider | None:
    """The key provider named by the options with this prefix; None when none was given."""
    attr = prefix.replace("-", "_")
    env, key_file = getattr(args, f"{attr}key_env"), getattr(args, f"{attr}key_file")
    keyring_entry = getattr(args, f"{attr}keyring")
    passphrase_file = getattr(args, f"{attr}passphrase_file")
    passphrase = getattr(args, f"{attr}passphrase") or passphrase_file is not None
    if passphrase and (env or key_file or keyring_entry):
        raise _UsageError(f"--{prefix}passphrase-file goes with --{prefix}passphrase, not another key option")
    if env:
        return EnvKeyProvider(env)
    if key_file:
        return KeyFileProvider(key_file)
    if keyring_entry:
        return _parse_keyring(keyring_entry, f"--{prefix}keyring")
    if passphrase:
        if prefix and passphrase_file is None:
            raise _UsageError(f"--{prefix}passphrase needs --{prefix}passphrase-file PATH (a new key file)")
        path = passphrase_file or vault_path + PASSPHRASE_SUFFIX
        new_file = not os.path.exists(os.path.expanduser(path))
        label = "New vault passphrase" if prefix else "Vault passphrase"
        return PassphraseKeyProvider(
            path, _prompt(label, NEW_PASSPHRASE_ENV if prefix else PASSPHRASE_ENV, confirm=new_file)
        )
    return None


def _vault_key(args: argparse.Namespace, vault_path: str) -> KeyProvider:
    return _provider(args, vault_path) or default_key_provider()


# -- commands --------------------------------------------------------------------------------------------


def _open(args: argparse.Namespace, *, create: bool = False) -> Any:
    from vecvault.vault import Vault

    return Vault.open(args.path, key=_vault_key(args, args.path), create=create, auth_token=_auth_token(args))


def _auth_token(args: argparse.Namespace) -> str | None:
    """The libSQL server token: ``--auth-token``, else ``VECVAULT_AUTH_TOKEN``; None for a local vault."""
    return getattr(args, "auth_token", None) or os.environ.get(AUTH_TOKEN_ENV) or None


def _is_server(path: str) -> bool:
    from vecvault.storage import is_remote_url

    return is_remote_url(path)


def _require_existing(path: str) -> None:
    if _is_server(path):
        return  # whether a server holds a vault is found by opening it (unreachable, refused and empty differ)
    if not os.path.exists(os.path.expanduser(path)):
        raise ConfigurationError(f"No vault at {path}; check the path, or create one with `vecvault init {path}`.")


def _require_local(path: str, command: str, alternative: str) -> None:
    if _is_server(path):
        raise ConfigurationError(
            f"`vecvault {command}` works on local vault files, not on a libSQL server; {alternative}"
        )


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    """Create a new vault (a local file, or in an empty database on a libSQL server)."""
    from vecvault.vault import Vault

    server = _is_server(args.path)
    if server and args.no_file_encryption:
        raise _UsageError(
            "--no-file-encryption is for local files: a libSQL server database is not page-encrypted by vecvault "
            "(sealed fields stay sealed either way)"
        )
    if not server and os.path.exists(os.path.expanduser(args.path)):
        raise ConfigurationError(f"{args.path} exists; `vecvault init` only creates new vaults.")
    provider = _vault_key(args, args.path)
    if server:
        _refuse_existing_server_vault(args, provider)
    encryption = None if server else not args.no_file_encryption
    with Vault.open(args.path, key=provider, file_encryption=encryption, auth_token=_auth_token(args)) as vault:
        print(f"created vault {vault.location}", file=out)
        print(f"  vault id:        {vault.vault_id}", file=out)
        print(f"  master key:      {vault.key_description}", file=out)
        print(f"  file encryption: {'on' if vault.file_encrypted else 'off'}", file=out)
    print("Back up the master key now: without it the vault cannot be opened.", file=out)
    return 0


def _refuse_existing_server_vault(args: argparse.Namespace, provider: KeyProvider) -> None:
    """``init`` on a server: the database must not hold a vault already (whatever its key)."""
    from vecvault.vault import Vault

    try:
        Vault.open(args.path, key=provider, create=False, auth_token=_auth_token(args)).close()
    except ConfigurationError as exc:
        if "No vault at" in str(exc):
            return
        raise
    except VecVaultError:
        pass  # a vault under another key, or not a vault: refused below either way
    raise ConfigurationError(f"{args.path} already holds a vault; `vecvault init` only creates new vaults.")


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    """Describe a vault: collections, keys, file encryption, key provider (never a secret or a text)."""
    _require_existing(args.path)
    with _open(args) as vault:
        collections = vault.collection_info()
        keys = vault.key_info()
        data: dict[str, Any] = {
            "path": vault.location,
            "vault_id": vault.vault_id,
            "file_encryption": vault.file_encrypted,
            "key_provider": vault.key_description,
            "collections": [
                {
                    "name": c.name,
                    "count": c.count,
                    "dim": c.dim,
                    "metric": c.metric,
                    "vectors": c.vectors,
                    "model": c.model,
                }
                for c in collections
            ],
            "kv_namespaces": [{"name": n.name, "count": n.count} for n in vault.kv_info()],
            "data_keys": [
                {
                    "key_id": k.key_id,
                    "scope": k.scope,
                    "state": k.state,
                    "encryptions": k.encryptions,
                    "records": k.records,
                }
                for k in keys
            ],
        }
    if args.json:
        print(json.dumps(data, indent=2), file=out)
        return 0
    print(f"vault {data['path']}", file=out)
    print(f"  vault id:        {data['vault_id']}", file=out)
    print(f"  file encryption: {'on' if data['file_encryption'] else 'off'}", file=out)
    print(f"  master key:      {data['key_provider']}", file=out)
    print(f"collections ({len(collections)}):", file=out)
    if not collections:
        print("  (none)", file=out)
    for c in data["collections"]:
        model = f", model {c['model']}" if c["model"] else ""
        print(
            f"  {c['name']}: {c['count']} records, dim {c['dim']}, {c['metric']}, vectors {c['vectors']}{model}",
            file=out,
        )
    if data["kv_namespaces"]:
        print(f"key-value namespaces ({len(data['kv_namespaces'])}):", file=out)
        for n in data["kv_namespaces"]:
            print(f"  {n['name']}: {n['count']} entries (keys and values sealed)", file=out)
    print(f"data keys ({len(keys)}):", file=out)
    for k in data["data_keys"]:
        scope = repr(k["scope"]) if k["scope"] else "(vault)"
        print(
            f"  {k['key_id']:>10}  {k['state']:<9}  scope {scope}, {k['records']} records, "
            f"{k['encryptions']} encryptions",
            file=out,
        )
    return 0


def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    """Open every sealed field of every record; exit 1 if any fails."""
    _require_existing(args.path)
    with _open(args) as vault, terminal_progress("verifying") as progress:
        report = vault.verify(progress=progress)
    for failure in report.failures:
        print(f"FAILED {failure.collection!r} record {failure.record_id!r} {failure.field}: {failure.reason}", file=out)
    status = "ok" if report.ok else f"{len(report.failures)} FAILED fields"
    entries = f", {report.entries} key-value entries in {report.namespaces} namespaces" if report.namespaces else ""
    print(
        f"verified {report.records} records ({report.fields} sealed fields) in {report.collections} "
        f"collections{entries}: {status}",
        file=out,
    )
    return 0 if report.ok else 1


def cmd_rotate(args: argparse.Namespace, out: TextIO) -> int:
    """Rotate the master key, the data keys, or the file encryption layer."""
    from vecvault import lifecycle

    _require_existing(args.path)
    if args.collection is not None and not args.data:
        raise _UsageError("--collection goes with --data")
    if args.off and not args.file:
        raise _UsageError("--off goes with --file")
    new = _provider(args, args.path, "new-")
    if new is not None and not args.master:
        raise _UsageError("--new-* key options go with --master")
    if args.data:
        with _open(args) as vault, terminal_progress("re-sealing records") as progress:
            reports = vault.rotate_data_keys(args.collection, batch_size=args.batch_size, progress=progress)
        for r in reports:
            scope = repr(r.scope) if r.scope else "(vault)"
            how = "resumed" if r.resumed else "rotated"
            destroyed = ", ".join(str(k) for k in r.destroyed) or "none"
            print(
                f"{how} {scope}: primary key {r.primary_key_id}, {r.resealed} records re-sealed, "
                f"destroyed keys: {destroyed}",
                file=out,
            )
        return 0
    if args.file:
        _require_local(args.path, "rotate --file", "a libSQL server database is not page-encrypted by vecvault.")
        changed = lifecycle.set_file_encryption(args.path, _vault_key(args, args.path), enabled=not args.off)
        state = "off" if args.off else "on"
        print(f"file encryption {state}" + ("" if changed else " (unchanged)"), file=out)
        return 0
    return _rotate_master(args, new, out)


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
            "old key once you no longer need old backups (see docs: key management).",
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


def cmd_passwd(args: argparse.Namespace, out: TextIO) -> int:
    """Change the passphrase of a passphrase-protected key file (re-wraps the same master key)."""
    _require_existing(args.path)
    provider = _provider(args, args.path)
    if not isinstance(provider, PassphraseKeyProvider):
        raise _UsageError("passwd changes a passphrase: use it with --passphrase [--passphrase-file PATH]")
    old = _prompt("Current passphrase", PASSPHRASE_ENV)()
    checked = PassphraseKeyProvider(provider.path, old)
    _open_with(args.path, checked)  # the old passphrase must open this vault before anything changes
    new = _prompt("New passphrase", NEW_PASSPHRASE_ENV, confirm=True)()
    checked.change_passphrase(old, new)
    _open_with(args.path, PassphraseKeyProvider(provider.path, new))
    print(f"passphrase changed for {provider.path} (same master key; the vault was not rewritten)", file=out)
    return 0


def _open_with(path: str, provider: KeyProvider) -> None:
    from vecvault.vault import Vault

    Vault.open(path, key=provider, create=False).close()


def cmd_shred(args: argparse.Namespace, out: TextIO) -> int:
    """Crypto-shred a collection (or, with --all, every collection)."""
    _require_existing(args.path)
    if args.all == (args.collection is not None):
        raise _UsageError("shred takes a COLLECTION, or --all (not both)")
    what = "EVERY collection" if args.all else f"the collection {args.collection!r}"
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigurationError(f"shred destroys {what} for good; confirm with --yes when not on a terminal.")
        answer = input(f"Destroy {what} of {args.path} for good? Type 'yes' to confirm: ")
        if answer.strip() != "yes":
            print("nothing shredded", file=out)
            return 1
    with _open(args) as vault:
        if args.all:
            names = vault.shred_all()
            print(f"shredded {len(names)} collections: {', '.join(repr(n) for n in names) or '(none)'}", file=out)
        else:
            count = vault.shred(args.collection)
            print(f"shredded {args.collection!r}: {count} records deleted, its data keys destroyed", file=out)
    print(
        "Backups made before now still hold these records under their old wrapped keys; see "
        "docs/key-management.md (shredding and backups).",
        file=out,
    )
    return 0


def _bundle_source(args: argparse.Namespace) -> tuple[KeyProvider | None, str | None]:
    if args.bundle_passphrase:
        return None, _prompt("Bundle passphrase", BUNDLE_PASSPHRASE_ENV, confirm=args.command == "export")()
    if args.bundle_key_env:
        return EnvKeyProvider(args.bundle_key_env), None
    if args.bundle_key_file:
        return KeyFileProvider(args.bundle_key_file), None
    if args.bundle_keyring:
        return _parse_keyring(args.bundle_keyring, "--bundle-keyring"), None
    return None, None


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    """Write an encrypted, authenticated bundle of every collection."""
    from vecvault.backup import export_vault

    _require_existing(args.path)
    key, passphrase = _bundle_source(args)
    with _open(args) as vault, terminal_progress("exporting") as progress:
        report = export_vault(vault, args.bundle, key=key, passphrase=passphrase, progress=progress)
    print(
        f"exported {report.records} records in {report.collections} collections to {args.bundle} "
        f"({report.bytes} bytes)",
        file=out,
    )
    return 0


def cmd_import(args: argparse.Namespace, out: TextIO) -> int:
    """Restore a bundle into a new vault file."""
    from vecvault.backup import import_bundle

    if not os.path.exists(args.bundle):
        raise ConfigurationError(f"No bundle at {args.bundle}; check the path.")
    _require_local(
        args.path,
        "import",
        "it builds a new vault file and moves it into place only when complete. Import into a local file, or "
        "open the server vault in Python and add the records there.",
    )
    key, passphrase = _bundle_source(args)
    with terminal_progress("importing") as progress:
        report = import_bundle(
            args.bundle,
            args.path,
            key=_vault_key(args, args.path),
            bundle_key=key,
            passphrase=passphrase,
            file_encryption=False if args.no_file_encryption else None,
            progress=progress,
        )
    print(f"imported {report.records} records in {report.collections} collections into {args.path}", file=out)
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    """Run the demo (vecvault.demo), if it is installed."""
    if importlib.util.find_spec("vecvault.demo") is None:
        raise ConfigurationError(
            "The demo is not part of this installation (no module vecvault.demo); install the examples: "
            "pip install 'vecvault[examples]'"
        )
    demo = importlib.import_module("vecvault.demo")
    result = demo.main(list(args.demo_args))
    return int(result or 0)


# -- parser ----------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # same output and status 2, but never an exit in-process
        self.print_usage(sys.stderr)
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The ``vecvault`` argument parser (``vecvault --help``)."""
    parser = _Parser(
        prog="vecvault",
        description="Manage encrypted vecvault vector stores: keys, rotation, shredding, backups.",
        epilog="Run `vecvault COMMAND --help` for a command's options. Docs: docs/key-management.md",
    )
    from vecvault import __version__

    parser.add_argument("--version", action="version", version=f"vecvault {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("init", help="create a new vault", description=cmd_init.__doc__)
    p.add_argument("path", metavar="PATH", help="the new vault file")
    p.add_argument(
        "--no-file-encryption", action="store_true", help="do not page-encrypt the file (sealed fields stay sealed)"
    )
    _add_key_options(p)

    p = sub.add_parser("info", help="describe a vault (no secrets, no texts)", description=cmd_info.__doc__)
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_key_options(p)

    p = sub.add_parser("verify", help="open every sealed field; exit 1 on any failure", description=cmd_verify.__doc__)
    p.add_argument("path", metavar="PATH", help="the vault file")
    _add_key_options(p)

    p = sub.add_parser(
        "rotate", help="rotate the master key, data keys or file encryption", description=cmd_rotate.__doc__
    )
    p.add_argument("path", metavar="PATH", help="the vault file")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--master", action="store_true", help="move the vault to a new master key (no record rewritten)")
    what.add_argument("--data", action="store_true", help="re-seal records under fresh data keys (resumable)")
    what.add_argument("--file", action="store_true", help="turn libSQL file encryption on (or off with --off)")
    p.add_argument("--collection", metavar="NAME", help="with --data: only this collection")
    p.add_argument(
        "--batch-size", type=_positive_int, default=500, metavar="N", help="with --data: records per transaction"
    )
    p.add_argument("--off", action="store_true", help="with --file: turn file encryption off")
    _add_key_options(p)
    _add_key_options(p, "new-", title="new master key (with --master; default for a keychain key: the same entry)")

    p = sub.add_parser("passwd", help="change the passphrase of a passphrase key file", description=cmd_passwd.__doc__)
    p.add_argument("path", metavar="PATH", help="the vault file")
    _add_key_options(p)

    p = sub.add_parser("shred", help="destroy a collection's keys and records for good", description=cmd_shred.__doc__)
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("collection", metavar="COLLECTION", nargs="?", help="the collection to shred")
    p.add_argument("--all", action="store_true", help="shred every collection")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_key_options(p)

    p = sub.add_parser("export", help="write an encrypted bundle", description=cmd_export.__doc__)
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle file to create")
    _add_key_options(p)
    _add_bundle_key_options(p)

    p = sub.add_parser("import", help="restore a bundle into a new vault", description=cmd_import.__doc__)
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle file")
    p.add_argument("path", metavar="PATH", help="the new vault file (must not exist)")
    p.add_argument("--no-file-encryption", action="store_true", help="do not page-encrypt the new file")
    _add_key_options(p)
    _add_bundle_key_options(p)

    p = sub.add_parser("demo", help="run the demo (needs vecvault[examples])", description=cmd_demo.__doc__)
    p.add_argument("demo_args", nargs=argparse.REMAINDER, metavar="ARGS", help="passed to the demo")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value


_HANDLERS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "init": cmd_init,
    "info": cmd_info,
    "verify": cmd_verify,
    "rotate": cmd_rotate,
    "passwd": cmd_passwd,
    "shred": cmd_shred,
    "export": cmd_export,
    "import": cmd_import,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vecvault`` command; return its exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["demo"] and argv[1:2] not in (["-h"], ["--help"]):
            # The demo parses its own options; argparse.REMAINDER would reject a leading "--option".
            return _HANDLERS["demo"](argparse.Namespace(command="demo", demo_args=argv[1:]), sys.stdout)
        args = parser.parse_args(argv)
        return _HANDLERS[args.command](args, sys.stdout)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else 0
    except _UsageError as exc:
        print(f"vecvault: error: {exc}", file=sys.stderr)
        return 2
    except VecVaultError as exc:
        print(f"vecvault: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"vecvault: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vecvault: interrupted", file=sys.stderr)
        return 130


def _one_line(message: str) -> str:
    return " ".join(message.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
