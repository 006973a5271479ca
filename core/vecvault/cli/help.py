"""The help texts of the ``vecvault`` command: what to do after an interruption, where keys live."""

from __future__ import annotations

from vecvault.cli.options import BACKUP_SUFFIX, PASSPHRASE_SUFFIX, STAGING_SUFFIX

DOCS_URL = "https://github.com/vecvault/vecvault/blob/main/docs/key-management.md"

SHRED_BACKUPS_URL = DOCS_URL + "#shredding"

# Help text a pip user can act on without the docs: where the key lives, how to back it up, what to do
# after an interruption. Links leave only for the full guide (absolute: an installed package has no docs/).
EPILOG = f"""\
where the master key lives (no key option given):
  VECVAULT_KEY when that variable is set, else the OS keychain entry service "vecvault", account
  "default" (macOS Keychain, Windows Credential Manager, Linux Secret Service). vecvault never falls
  back from one to the other, and never creates a new key because reading one failed.

back up the master key now: without it the vault cannot be opened.
  keychain entry      copy its value (`keyring get vecvault default`, or your keychain manager)
                      into your password manager
  --key-file PATH     copy the file
  --passphrase        copy the key file (default: the vault path + {PASSPHRASE_SUFFIX}) and keep the passphrase

interrupted (crash, Ctrl-C, power loss)?
  Run the same command again: rotate --data, --master and --file resume or finish, and import starts
  over. Never delete a <vault>-journal file by hand: it holds the only intact copy of the pages being
  rewritten, and the next open plays it back under the right key.

shredding does not reach old backups: copies of the file and export bundles made before a shred stay
  readable under the old master key; see `vecvault shred --help`.

Run `vecvault COMMAND --help` for a command's options and recovery steps.
Full guide: {DOCS_URL}
"""

ROTATE_EPILOG = f"""\
--data     A fresh data key becomes primary, then records are re-sealed in batches (one transaction
           each); the old key is destroyed when no record uses it. Other programs may keep working.
--master   Re-wraps the data keys and re-keys the file in one transaction; no record is rewritten.
           Close every other program using the vault first. Afterwards only the new key opens the
           vault: back it up, and delete the old key once you no longer need backups made before.
           A keychain entry is rotated in place (no --new-* option) only if no other vault uses it:
           the new key is staged in <account>{STAGING_SUFFIX}, the old key is kept in
           <account>{BACKUP_SUFFIX}-<tag> (printed; backups made before open only with it), and the
           entry then holds the new key. Otherwise move the vault to an entry of its own:
             vecvault rotate --master PATH --new-keyring vecvault/NEW-ACCOUNT
           For other providers name the new key: --new-key-file PATH (created if absent),
           --new-key-env VAR (set it first), --new-passphrase --new-passphrase-file PATH, --new-keyring.
--file     Turns libSQL page encryption on (or off with --off) in one journaled transaction.

If any rotation is interrupted, run the same command again: it resumes (--data) or finishes
(--master, --file). Keep the <vault>-journal file a crash leaves: the next open plays it back under the
key that wrote it, and refuses (touching nothing) under any other.
Full guide: {DOCS_URL}
"""

SHRED_EPILOG = f"""\
Shredding destroys the collection's data keys (their wrapped copies are overwritten in the file) and
deletes its records; it cannot be undone.

It does not reach old backups: a copy of the file, a snapshot or an export bundle made before the
shred still holds the records under the old master key. To make those dead too:
  1. vecvault shred PATH COLLECTION
  2. vecvault rotate --master PATH ...   (the live vault moves to a new master key)
  3. destroy every copy of the old master key (keychain entry and its {BACKUP_SUFFIX}-* backups, key
     files, password-manager entries, the old passphrase and every copy of its key file).
Export bundles sealed under a bundle passphrase do not depend on the master key: delete them.
Full guide: {SHRED_BACKUPS_URL}
"""

INIT_EPILOG = """\
The master key is read from where the key option says (default: VECVAULT_KEY if set, else the keychain
entry vecvault/default) and created there only if absent: a new keychain entry, key file or passphrase
key file; an environment variable must be set first, e.g. to the output of
  python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"
An existing key is used, never replaced. One key per vault is a good habit: --keyring vecvault/NAME.
Back the key up right away: `vecvault --help` says how.
"""

PASSWD_EPILOG = """\
Only the small key file is rewritten (atomically), so backups of the vault made before still open with
the old passphrase and a copy of the old key file. If the passphrase leaked with the key file, rotate
the master key instead (vecvault rotate --master).
"""  # noqa: S105 (help text, not a password)

EXPORT_EPILOG = """\
The bundle is sealed under the vault's master key unless a --bundle-* option names another key or a
passphrase; keep that key (or passphrase) with the bundle's backups. Bundles made before a shred still
hold the shredded collection.
"""

IMPORT_EPILOG = """\
The whole bundle is authenticated before anything is written, and the new vault appears at PATH only
when complete. If an import is interrupted, run it again: it removes what the interrupted run left.
The new vault gets a fresh vault id and data keys under the key options given; --bundle-* names the
key the bundle was sealed under when it differs.
"""
