"""The options every command shares: where the master key comes from, the server token, paths."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from vecvault.errors import ConfigurationError
from vecvault.keys import (
    EnvKeyProvider,
    KeyFileProvider,
    KeyProvider,
    KeyringKeyProvider,
    PassphraseKeyProvider,
    default_key_provider,
)

PASSPHRASE_ENV = "VECVAULT_PASSPHRASE"  # noqa: S105 (a variable name)

NEW_PASSPHRASE_ENV = "VECVAULT_NEW_PASSPHRASE"  # noqa: S105

BUNDLE_PASSPHRASE_ENV = "VECVAULT_BUNDLE_PASSPHRASE"  # noqa: S105

PASSPHRASE_SUFFIX = ".vvkey"  # noqa: S105 (a file suffix)

AUTH_TOKEN_ENV = "VECVAULT_AUTH_TOKEN"  # noqa: S105 (a variable name)
STAGING_SUFFIX = ".rotating"  # the keychain entry that holds a new key during an in-place rotation
BACKUP_SUFFIX = ".previous"  # the keychain entries that keep old keys after one


class _UsageError(Exception):
    """A bad combination of arguments found after parsing: reported like argparse does (exit 2)."""


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, not {text!r}")
    return value
