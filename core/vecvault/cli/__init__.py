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
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from vecvault.cli.commands import (
    cmd_demo,
    cmd_export,
    cmd_import,
    cmd_info,
    cmd_init,
    cmd_passwd,
    cmd_rotate,
    cmd_shred,
    cmd_verify,
)
from vecvault.cli.help import (
    EPILOG,
    EXPORT_EPILOG,
    IMPORT_EPILOG,
    INIT_EPILOG,
    PASSWD_EPILOG,
    ROTATE_EPILOG,
    SHRED_EPILOG,
)
from vecvault.cli.options import _add_bundle_key_options, _add_key_options, _positive_int, _UsageError
from vecvault.errors import VecVaultError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = ("init", "info", "verify", "rotate", "passwd", "shred", "export", "import", "demo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # same output and status 2, but never an exit in-process
        self.print_usage(sys.stderr)
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The ``vecvault`` argument parser (``vecvault --help``)."""
    parser = _Parser(
        prog="vecvault",
        description="Manage encrypted vecvault vector stores: keys, rotation, shredding, backups.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from vecvault import __version__

    parser.add_argument("--version", action="version", version=f"vecvault {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=_HANDLERS[name].__doc__,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command("init", "create a new vault", INIT_EPILOG)
    p.add_argument("path", metavar="PATH", help="the new vault file")
    p.add_argument(
        "--no-file-encryption", action="store_true", help="do not page-encrypt the file (sealed fields stay sealed)"
    )
    _add_key_options(p)

    p = command("info", "describe a vault (no secrets, no texts)")
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_key_options(p)

    p = command("verify", "open every sealed field; exit 1 on any failure")
    p.add_argument("path", metavar="PATH", help="the vault file")
    _add_key_options(p)

    p = command("rotate", "rotate the master key, data keys or file encryption", ROTATE_EPILOG)
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

    p = command("passwd", "change the passphrase of a passphrase key file", PASSWD_EPILOG)
    p.add_argument("path", metavar="PATH", help="the vault file")
    _add_key_options(p)

    p = command("shred", "destroy a collection's keys and records for good", SHRED_EPILOG)
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("collection", metavar="COLLECTION", nargs="?", help="the collection to shred")
    p.add_argument("--all", action="store_true", help="shred every collection")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_key_options(p)

    p = command("export", "write an encrypted bundle", EXPORT_EPILOG)
    p.add_argument("path", metavar="PATH", help="the vault file")
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle file to create")
    _add_key_options(p)
    _add_bundle_key_options(p)

    p = command("import", "restore a bundle into a new vault", IMPORT_EPILOG)
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle file")
    p.add_argument("path", metavar="PATH", help="the new vault file (must not exist)")
    p.add_argument("--no-file-encryption", action="store_true", help="do not page-encrypt the new file")
    _add_key_options(p)
    _add_bundle_key_options(p)

    p = command("demo", "run the demo (needs vecvault[examples] for real embeddings)")
    p.add_argument("demo_args", nargs=argparse.REMAINDER, metavar="ARGS", help="passed to the demo")
    return parser


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
