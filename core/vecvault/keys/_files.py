"""Private file helpers for the key providers: private reads, exclusive creation, atomic replacement."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from vecvault.errors import KeyNotFoundError, KeyUnavailableError

__all__ = ["MAX_KEY_FILE_BYTES", "PRIVATE_MODE", "read_private_file", "replace_file", "write_new_file"]

PRIVATE_MODE = 0o600
"""Mode of every file vecvault writes that holds or wraps a key."""

MAX_KEY_FILE_BYTES = 64 * 1024
"""Key files are tiny; refusing anything larger keeps a wrong path from reading a huge file."""

_CHECK_MODE = os.name == "posix"
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def read_private_file(path: Path, *, what: str, not_found_hint: str) -> bytes:
    """Read a small key file after checking that only its owner can read or write it.

    The mode is checked on the opened descriptor (``fstat``), so a swap between check and read cannot
    slip a different file in. On non-POSIX systems mode bits carry no meaning and are not checked.

    Args:
        path: the file to read.
        what: what the file is ("key file"), for messages.
        not_found_hint: what to do when the file does not exist.

    Raises:
        KeyNotFoundError: the file does not exist.
        KeyUnavailableError: the file is group/world accessible, not a regular file, too large or
            unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY | _O_CLOEXEC)
    except FileNotFoundError:
        raise KeyNotFoundError(f"No {what} at {path}. {not_found_hint}") from None
    except OSError as exc:
        raise KeyUnavailableError(
            f"Cannot open the {what} {path}: {exc.strerror or exc}. Check the path and its permissions."
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyUnavailableError(f"The {what} {path} is not a regular file; point vecvault at the file.")
        if _CHECK_MODE and info.st_mode & 0o077:
            raise KeyUnavailableError(
                f"The {what} {path} is accessible by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"vecvault refuses to use it. Run `chmod 600 {path}` (and consider the key exposed if "
                "others could read it), then retry."
            )
        if info.st_size > MAX_KEY_FILE_BYTES:
            raise KeyUnavailableError(
                f"The {what} {path} is {info.st_size} bytes, far larger than a key file; check the path."
            )
        chunks: list[bytes] = []
        remaining = MAX_KEY_FILE_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise KeyUnavailableError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make a new directory entry durable (no-op where directories cannot be opened, e.g. Windows)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write less than asked) and fsync."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _write_temp(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fresh 0600 temporary file next to ``path``, fsynced; return its path."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_BINARY | _O_CLOEXEC, PRIVATE_MODE)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)
    return temp


def write_new_file(path: Path, data: bytes, *, what: str) -> None:
    """Create ``path`` holding ``data`` with mode 0600; never overwrite an existing file.

    The content is written to a temporary file, fsynced, then linked into place with ``os.link`` (which
    fails if ``path`` exists), so a crash never leaves a half-written key file behind. Where hard links
    are unsupported it falls back to ``O_CREAT | O_EXCL``.

    Raises:
        KeyUnavailableError: ``path`` exists, or the file could not be written.
    """
    exists_message = (
        f"The {what} {path} already exists; vecvault never overwrites a key. Load it instead, or move it "
        "away first if you really mean to create a new key (every vault sealed under it becomes unreadable)."
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            raise KeyUnavailableError(exists_message)
        temp = _write_temp(path, data)
        try:
            os.link(temp, path)
        except FileExistsError:
            raise KeyUnavailableError(exists_message) from None
        except OSError:
            _write_exclusive(path, data)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        _fsync_dir(path.parent)
    except FileExistsError:
        raise KeyUnavailableError(exists_message) from None
    except OSError as exc:
        raise KeyUnavailableError(f"Cannot write the {what} {path}: {exc.strerror or exc}.") from None


def _write_exclusive(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_BINARY | _O_CLOEXEC, PRIVATE_MODE)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, *, what: str) -> None:
    """Atomically replace ``path`` with ``data`` (temp file + fsync + ``os.replace``), mode 0600.

    Raises:
        KeyUnavailableError: the file could not be written; ``path`` is left as it was.
    """
    try:
        temp = _write_temp(path, data)
        try:
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_dir(path.parent)
    except OSError as exc:
        raise KeyUnavailableError(f"Cannot write the {what} {path}: {exc.strerror or exc}.") from None
