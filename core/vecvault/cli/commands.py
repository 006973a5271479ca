"""The ``vecvault`` subcommands, one handler each: ``cmd_NAME(args, out) -> exit status``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from typing import Any, TextIO

from vecvault.cli.help import SHRED_BACKUPS_URL
from vecvault.cli.keychain import _rotate_master
from vecvault.cli.options import (
    NEW_PASSPHRASE_ENV,
    PASSPHRASE_ENV,
    _auth_token,
    _bundle_source,
    _is_server,
    _open,
    _prompt,
    _provider,
    _require_existing,
    _require_local,
    _UsageError,
    _vault_key,
)
from vecvault.cli.progress import terminal_progress
from vecvault.errors import ConfigurationError, VecVaultError
from vecvault.keys import (
    KeyProvider,
    PassphraseKeyProvider,
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
    print("Back up the master key now: without it the vault cannot be opened (`vecvault --help` says how).", file=out)
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
                    "snapshot_rev": c.snapshot_rev,
                    "snapshot_bytes": c.snapshot_bytes,
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
        if c["snapshot_rev"] is not None:
            size = c["snapshot_bytes"] / 2**20
            print(f"    sealed snapshot: {size:.1f} MiB, as of revision {c['snapshot_rev']}", file=out)
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
        "Backups made before now still hold these records under the current master key. To make them "
        "unreadable too: rotate the master key (vecvault rotate --master), then destroy every copy of the old "
        f"one. Details: vecvault shred --help, or {SHRED_BACKUPS_URL}",
        file=out,
    )
    return 0


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
