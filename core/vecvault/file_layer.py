"""The file layer of a local vault: which page key its file is under, and the files that travel with it.

libSQL's page encryption (see :mod:`vecvault.storage`) has no header of its own, so this module answers
from the bytes on disk, before libSQL reads anything:

- **Page-key fingerprint.** The first 8 bytes of an encrypted vault file depend on its page key only
  (measured on libsql 0.1.x: the same for every file and page size under one key, different under
  another key), so they tell which key a file is under without trying to open it.
  :meth:`vecvault.storage.Storage.page_key_fingerprint` computes them for a candidate key.
- **An interrupted re-key** (``PRAGMA rekey`` in ``journal_mode=DELETE``) leaves a hot rollback journal.
  Until it is rolled back, its copy of page 1 is the truth: the file's own page 1 may already be
  rewritten under the new key. The journal must be rolled back under the key its pages were written
  with (the old one); opening it under another key corrupts the vault. :func:`file_state` reads that
  copy, so every caller decides from what the file *was*, and :func:`rollback_key` picks the one
  candidate key that wrote it, or refuses.
- **Sidecars without their vault** (``-wal``, ``-shm``, ``-journal`` left by a crashed process after the
  vault file was deleted) would be replayed into a new vault created at the same path:
  :func:`check_no_orphan_sidecars` refuses to create one there.
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vecvault.errors import ConfigurationError, StorageError, WrongKeyError

__all__ = [
    "FINGERPRINT_BYTES",
    "SIDECAR_SUFFIXES",
    "FileState",
    "check_no_orphan_sidecars",
    "file_state",
    "journal_page_one",
    "local_path",
    "rollback_key",
]

SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
FINGERPRINT_BYTES = 8
_SQLITE_MAGIC = b"SQLite format 3\x00"
_JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
_JOURNAL_HEADER = struct.Struct(">8sIIIII")  # magic, records, checksum nonce, initial pages, sector, page size
_PAGE_NUMBER = struct.Struct(">I")
_NO_RECORD_COUNT = (0, 0xFFFFFFFF)  # "up to the end of the file" (a journal cut short by a crash)


@dataclass(frozen=True)
class FileState:
    """What a local vault file is (or was, before an interrupted re-key).

    Attributes:
        kind: ``"new"`` (absent or empty), ``"plain"`` (unencrypted SQLite) or ``"encrypted"``.
        fingerprint: for ``"encrypted"``, the first 8 bytes of page 1 (they name its page key).
        hot_journal: a rollback journal holds the file's previous page 1; ``kind`` and ``fingerprint``
            describe that previous state, which the next open restores.
    """

    kind: str
    fingerprint: bytes = b""
    hot_journal: bool = False


def _journal_path(path: str) -> str:
    return path + "-journal"


def local_path(location: str) -> str:
    """A local vault path as given by a user, checked and with ``~`` expanded.

    Raises:
        ConfigurationError: the path is empty, names a directory, or its directory does not exist (or is
            a file), each with what to do.
    """
    if not location.strip():
        raise ConfigurationError('The vault path is empty; give the path of a vault file, e.g. "notes.db".')
    path = os.path.expanduser(location)
    if os.path.isdir(path):
        raise ConfigurationError(f"{path} is a directory; give the path of a vault file, e.g. {path}/vault.db")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(parent):
        raise ConfigurationError(
            f"The directory {parent} does not exist, so no vault can be opened or created at {path}: create it "
            f"first (mkdir -p {parent}) or choose another path."
        )
    if not os.path.isdir(parent):
        raise ConfigurationError(f"{parent} is a file, not a directory; choose another path for the vault.")
    return path


def journal_page_one(path: str) -> bytes | None:
    """The first 16 bytes of page 1 as a hot rollback journal of ``path`` saved it, or None.

    None when there is no journal, it is empty or its header is not a live journal's (SQLite ignores
    such a journal), or it holds no whole copy of page 1 (the re-key had not yet changed page 1).
    A copy that is plain SQLite must pass the journal's record checksum; an encrypted copy is checked
    by its callers, whose key fingerprint it must match.
    """
    journal = _journal_path(path)
    try:
        size = os.path.getsize(journal)
        handle = open(journal, "rb")  # noqa: SIM115 (closed below; read by offsets)
    except OSError:
        return None
    with handle:
        offset = 0
        while offset + _JOURNAL_HEADER.size <= size:
            handle.seek(offset)
            magic, records, nonce, _, sector, page = _JOURNAL_HEADER.unpack(handle.read(_JOURNAL_HEADER.size))
            if magic != _JOURNAL_MAGIC or sector < _JOURNAL_HEADER.size or page < 512:
                return None
            offset += sector
            width = 4 + page + 4
            count = (size - offset) // width if records in _NO_RECORD_COUNT else records
            for _ in range(count):
                if offset + width > size:
                    return None
                handle.seek(offset)
                record = handle.read(width)
                if _PAGE_NUMBER.unpack_from(record)[0] == 1:
                    image = record[4 : 4 + page]
                    if (
                        image[:16] == _SQLITE_MAGIC
                        and _checksum(nonce, image) != _PAGE_NUMBER.unpack_from(record, 4 + page)[0]
                    ):
                        return None  # a torn record: SQLite would not play it back either
                    return image[:16]
                offset += width
            offset = -(-offset // sector) * sector  # the next header starts on a sector boundary
    return None


def _checksum(nonce: int, page: bytes) -> int:
    """SQLite's journal record checksum (``pager_cksum``): the nonce plus every 200th byte from the end."""
    total = nonce
    i = len(page) - 200
    while i > 0:
        total += page[i]
        i -= 200
    return total & 0xFFFFFFFF


def _classify(head: bytes) -> FileState:
    if head[: len(_SQLITE_MAGIC)] == _SQLITE_MAGIC:
        return FileState("plain")
    return FileState("encrypted", head[:FINGERPRINT_BYTES])


def file_state(path: str) -> FileState:
    """Classify a local vault file from its bytes; a hot journal's copy of page 1 takes precedence.

    Raises:
        ConfigurationError: ``path`` is a directory.
    """
    if os.path.isdir(path):
        raise ConfigurationError(f"{path} is a directory; give the path of a vault file, e.g. {path}/vault.db")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return FileState("new")
    except PermissionError:
        raise StorageError(
            f"{path} cannot be read: permission denied. Run as the user who owns the vault, or give this user "
            f"read access (e.g. chmod u+r {path})."
        ) from None
    if not head:
        return FileState("new")
    saved = journal_page_one(path)
    if saved is not None:
        state = _classify(saved)
        return FileState(state.kind, state.fingerprint, hot_journal=True)
    return _classify(head)


def rollback_key(
    path: str,
    state: FileState,
    candidates: Sequence[str | None],
    fingerprint: Callable[[str], bytes],
) -> str | None:
    """The page key (``None`` for a plain file) that the file's hot journal was written under.

    Args:
        path: the vault file (for messages).
        state: :func:`file_state` of it, with ``hot_journal`` set.
        candidates: the page keys the caller holds (``None`` stands for "no page encryption").
        fingerprint: :meth:`vecvault.storage.Storage.page_key_fingerprint`.

    Raises:
        WrongKeyError: no candidate wrote the journal; nothing was opened, the journal is untouched.
    """
    if state.kind == "plain":
        return None  # the saved pages are plain: rolling them back needs no key
    for key in candidates:
        if key is not None and hmac.compare_digest(fingerprint(key), state.fingerprint):
            return key
    journal = _journal_path(path)
    raise WrongKeyError(
        f"{journal} is the rollback journal of an interrupted re-key (`vecvault rotate --master` or "
        "`--file`), written under a master key that was not given here. It was left untouched: rerun the "
        "interrupted command with the same key options (for --master: the old and the new key), or open "
        "the vault with the key it had before that command. Do not delete the journal: it holds the "
        "only intact copy of the pages being rewritten."
    )


def check_no_orphan_sidecars(path: str) -> None:
    """Refuse to create a vault at ``path`` while a previous vault's WAL, shm or journal file is there.

    Raises:
        StorageError: a sidecar exists while the vault file itself is missing or empty.
    """
    found = [path + suffix for suffix in SIDECAR_SUFFIXES if os.path.exists(path + suffix)]
    if not found:
        return
    names = ", ".join(found)
    raise StorageError(
        f"{path} does not exist, but {names} does: files a crashed process left beside a vault that was then "
        "deleted or moved. A new vault here would replay them and hold that old vault's data. If that vault "
        "is gone for good, delete them; if it was moved, move them with it. Then run the command again."
    )
