"""The libSQL connection: opening, retries, transactions, remote errors, checkpoints, read-only files.

Everything stored here is either plaintext by design (ids, collection names, key ids, revisions,
timestamps) or an already-sealed blob; this module never sees a key or a decrypted value, except the
derived page-encryption key string it hands to libSQL.

Traps of the binding that this module absorbs (measured on ``libsql`` 0.1.x and ``libsql-experimental``):

- every SQL error is a bare ``ValueError``, and some failures raise ``pyo3_runtime.PanicException``, a
  ``BaseException``: both become :class:`StorageError` here;
- only ``bytes`` binds as a BLOB (not ``bytearray``/``memoryview``); ints near 2^63 bind as REAL;
- ``executemany`` wants a list; ``executescript`` swallows errors; ``close()`` is ignored while a cursor
  lives; a connection waiting on a busy lock holds the GIL, so two connections of one process must never
  wait on each other: every write transaction of the process takes one process-wide lock;
- a TEXT value that is not valid UTF-8 makes the binding panic as it converts the row, so a value that
  someone retyped in the file would abort a whole read (and ``verify``) without naming its record. Every
  column that holds sealed or binary bytes is therefore selected as ``CAST(column AS BLOB)`` (see
  :func:`_blob`): whatever its storage class, it arrives as ``bytes`` (an INTEGER or REAL as its text
  form, NULL as None) and fails authentication where it is opened. Measured at 20k records of 384
  dimensions, fastest runs: the paged scan alone 29.6 ms plain vs 29.7 ms with CAST, a vault's whole
  vector load 108.6 vs 108.0 ms, a 2k-record get 33.0 vs 32.5 ms (a BLOB cast to BLOB is a no-op).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from vecvault.errors import (
    ConfigurationError,
    NotAVaultError,
    StorageError,
    VecVaultError,
    WrongKeyError,
)
from vecvault.file_layer import FINGERPRINT_BYTES
from vecvault.storage._sql import (
    _MAX_BOUND_PARAMETERS,
    _REMOTE_ROWS_PER_STATEMENT,
    _multi_row_statement,
    display_location,
    is_remote_url,
)

DRIVERS = ("libsql", "libsql_experimental")

_SQLITE_MAGIC = b"SQLite format 3\x00"

_PAGE = 4096

_NEW_FILE_PAGE_SIZE = 16384

_BUSY_TIMEOUT_S = 1.0  # short: a waiting connection holds the GIL, so wait in Python between tries

_LOCK_RETRIES = 30

# A TRUNCATE checkpoint cannot finish while another connection (another process, an export, a second
# Vault) holds a read transaction: that reader pins the old pages, deleted ciphertext included. Each try
# runs with busy_timeout=0 (SQLite's busy wait would hold the GIL for the whole busy timeout; measured:
# a delete took 1.0 s with a reader present) and the tries are spaced by sleeps in Python.
_CHECKPOINT_PATIENCE_S = 0.03  # after a delete, clear or shred

_CLOSE_CHECKPOINT_PATIENCE_S = 0.25  # on close: the last chance this process has

_CHECKPOINT_PAUSE_S = 0.005

# Remote (Hrana) failures after which the connection is dead: the binding never recovers it by itself
# (an expired stream or a server restart leaves every later statement failing), so Storage reopens it.
_CONNECTION_LOST = (
    "http error",
    "stream_expired",
    "stream has expired",
    "invalid baton",
    "stream not found",
    "connection refused",
    "connection reset",
    "connection closed",
    "broken pipe",
    "error trying to connect",
    "incompletemessage",
    "error reading a body",
    "unexpected eof",
    "transaction_timeout",
    "transaction timed out",
)

# Of those, the failures where the server certainly did not run the statement: safe to retry once.
_NOT_EXECUTED = (
    "stream_expired",
    "stream has expired",
    "invalid baton",
    "stream not found",
    "error trying to connect",
    "connection refused",
)

_READ_ONLY_PREFIXES = ("select", "pragma", "begin")

# Pragmas an embedded replica refuses ("unsupported statement"): its file is written by replication. The
# page size applies only when a file is created (before the switch to WAL). Why 16 KiB pages and a 32 MiB
# page cache, with the measurements: docs/performance.md, "Storage settings".
_PAGE_CACHE_KIB = 32 * 1024

_LOCAL_ONLY_PRAGMAS = (
    f"PRAGMA page_size={_NEW_FILE_PAGE_SIZE}",
    "PRAGMA journal_mode=WAL",
    "PRAGMA secure_delete=ON",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA cache_size=-{_PAGE_CACHE_KIB}",
)

# One lock for every write transaction in this process (see the module docstring).
_PROCESS_WRITE_LOCK = threading.RLock()
_FILE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

Tracer = Callable[[str], None]

_C = TypeVar("_C", bound="Connection")


def _is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "sqlite_busy" in text


def _is_connection_lost(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _CONNECTION_LOST)


def _was_not_executed(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _NOT_EXECUTED)


def _load_driver(name: str) -> ModuleType:
    if name not in DRIVERS:
        raise ConfigurationError(f"Unknown libSQL driver {name!r}. Expected one of {list(DRIVERS)}.")
    try:
        return importlib.import_module(name)
    except ImportError:
        package = name.replace("_", "-")
        raise ConfigurationError(f"The libSQL driver {name!r} is not installed: pip install {package}") from None


class Connection:
    """A libSQL connection: opening, retries, transactions, remote-error sorting, checkpoints.

    Not thread-safe by itself: the vault serialises calls with its own lock. Write transactions also
    take the process-wide write lock. The table modules of this package build on it.
    """

    def __init__(
        self,
        connection: Any,
        *,
        location: str,
        remote: bool,
        file_encrypted: bool,
        replica: bool = False,
        reconnect: Callable[[], Any] | None = None,
        read_only_reason: str | None = None,
    ) -> None:
        self._conn = connection
        self.location = location
        self.remote = remote
        self.replica = replica
        self.file_encrypted = file_encrypted
        self.tracer: Tracer | None = None
        self._in_tx = False
        self._closed = False
        self._reconnect = reconnect
        self._broken = False  # remote: the connection died; reopen it before the next statement
        self._busy_timeout_ms = int(_BUSY_TIMEOUT_S * 1000)
        self._checkpoint_pending = False  # a checkpoint was blocked by readers: finish it at the next chance
        self.read_only_reason = read_only_reason  # why this process cannot write the file (None: it can)
        self._connect: Callable[[], Any] | None = None  # opens another connection like this one (see reader())

    @property
    def read_only(self) -> bool:
        """Whether the file was opened read-only because this process cannot write it (see :meth:`open`)."""
        return self.read_only_reason is not None

    @property
    def shown_location(self) -> str:
        """The location as messages show it: a URL without credentials or query string."""
        return display_location(self.location)

    @staticmethod
    def page_key_fingerprint(file_key: str, driver: str = "libsql") -> bytes:
        """The first bytes every file encrypted under ``file_key`` starts with (see :mod:`vecvault.file_layer`).

        Measured, not derived: a throwaway database is created under the key in a private temporary
        directory and its first bytes are read back, so the answer follows the binding's cipher.
        """
        if len(file_key) != 32:  # "" would silently disable libSQL's encryption
            raise AssertionError("file key must be 32 characters")
        module = _load_driver(driver)
        with tempfile.TemporaryDirectory(prefix="vecvault-fp-") as folder:
            path = os.path.join(folder, "probe.db")
            try:
                conn = module.connect(path, encryption_key=file_key, isolation_level=None)
                try:
                    conn.execute("CREATE TABLE probe (x)").fetchall()
                finally:
                    conn.close()
            except BaseException as exc:
                if not isinstance(exc, Exception) and not _is_panic(exc):
                    raise
                raise StorageError(f"libSQL could not create an encrypted probe file: {exc}") from None
            with open(path, "rb") as handle:
                return handle.read(FINGERPRINT_BYTES)

    @staticmethod
    def check_can_create(location: str) -> None:
        """Refuse early, before any key is made, a new local vault where this process cannot write.

        Raises:
            StorageError: ``location`` does not exist and cannot be created (read-only file system or
                directory), with what to do.
        """
        if os.path.exists(location):
            return
        reason = read_only_reason(location)
        if reason is not None:
            raise StorageError(
                f"No vault at {location}, and none can be created there: {reason}. Create the vault in a "
                "writable directory."
            )

    @classmethod
    def open(
        cls: type[_C],
        location: str,
        *,
        file_key: str | None,
        driver: str = "libsql",
        auth_token: str | None = None,
        sync_url: str | None = None,
        busy_timeout: float = _BUSY_TIMEOUT_S,
    ) -> _C:
        """Connect to a local file (optionally page-encrypted), an embedded replica or a libSQL server URL.

        A server URL (``libsql://``, ``http(s)://``) uses the binding's remote (Hrana) mode: every
        statement is a round trip, ``BEGIN IMMEDIATE``/``COMMIT`` run on the connection's server-side
        stream, and a dead connection (server restart, stream expired after ~10 s idle) is reopened by
        :meth:`query`. A local path with ``sync_url`` is an embedded replica: reads are local, writes and
        transactions are forwarded to the primary, and :meth:`snapshot` pulls the primary's changes.

        A local file this process cannot write (a read-only file, or a directory where SQLite cannot create
        the ``-wal``/``-shm`` files, or a read-only file system) is opened read-only: with SQLite's
        ``mode=ro`` where the WAL can be shared (the directory is writable, or both files exist), else
        ``immutable=1`` when no ``-wal`` holds changes (measured: ``mode=ro`` cannot open a WAL database
        without them, and ``immutable`` ignores a ``-wal``). Every write transaction then raises a
        :class:`StorageError` that says so; see :func:`read_only_reason`.
        """
        module = _load_driver(driver)
        remote = is_remote_url(location)
        if location.lower().startswith(("ws://", "wss://")):
            raise ConfigurationError(
                "The libSQL Python binding speaks to servers over HTTP, not WebSocket; use the same address "
                f"with http:// or https:// (or libsql://) instead of {display_location(location)!r}."
            )
        if sync_url and remote:
            raise ConfigurationError(
                "sync_url makes a local file an embedded replica; give a local path as the location, "
                f"not {display_location(location)!r}."
            )
        kwargs: dict[str, Any] = {"isolation_level": None}
        if remote:
            kwargs["auth_token"] = auth_token or ""
        else:
            kwargs["timeout"] = busy_timeout
            kwargs["_check_same_thread"] = False
            if sync_url:
                kwargs["sync_url"] = sync_url
                kwargs["auth_token"] = auth_token or ""
            if file_key is not None:
                if len(file_key) != 32:  # "" would silently disable libSQL's encryption
                    raise AssertionError("file key must be 32 characters")
                kwargs["encryption_key"] = file_key

        target = location  # a file: URI instead when the file must be opened read-only (below)

        def connect() -> Any:
            try:
                return module.connect(target, **kwargs)
            except TypeError:
                # libsql-experimental spells the thread flag without the underscore and has no timeout
                # (the busy timeout is then set with a pragma).
                if "_check_same_thread" not in kwargs:
                    raise
                kwargs["check_same_thread"] = kwargs.pop("_check_same_thread")
                kwargs.pop("timeout", None)
                return module.connect(target, **kwargs)

        shown = display_location(location)
        reason = None
        if not remote and not sync_url and location != ":memory:" and not location.startswith("file:"):
            cls.check_can_create(location)
            reason = read_only_reason(location)
            if reason is not None:
                target = _read_only_uri(location, reason)
        try:
            conn = connect()
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            message = str(exc)
            if sync_url and "encryption" in message.lower():
                raise ConfigurationError(
                    f"This libSQL binding refuses file encryption on an embedded replica ({message}); open "
                    "it with file_encryption=False (sealed fields stay sealed), or use libsql<=0.1.8 / "
                    "libsql-experimental, which allow it."
                ) from None
            if sync_url:
                raise StorageError(
                    f"Could not start the embedded replica {shown!r} from {display_location(sync_url)!r}: "
                    f"{message}. libsql>=0.1.9 replicates only from Turso Cloud; for a self-hosted sqld use "
                    "driver='libsql_experimental' or libsql<=0.1.8."
                ) from None
            raise StorageError(f"Could not open {shown!r}: {message}") from None
        storage = cls(
            conn,
            location=location,
            remote=remote,
            file_encrypted=file_key is not None,
            replica=bool(sync_url),
            reconnect=connect if remote else None,
            read_only_reason=reason,
        )
        if not remote:
            storage._configure_local(busy_timeout)
        if location != ":memory:" and not sync_url:
            storage._connect = connect
        return storage

    @property
    def can_open_readers(self) -> bool:
        """Whether :meth:`reader` can open a second connection (not for ``:memory:`` or a replica)."""
        return self._connect is not None and not self._closed

    @contextlib.contextmanager
    def reader(self: _C) -> Iterator[_C | None]:
        """A second connection to the same database, for reads in another thread; None where there is none.

        There is none for ``:memory:`` (a second connection is another database) or an embedded replica (it
        would be a second replica). It reads committed data only, so it may see a later state than this
        connection's read snapshot: a caller must check what it reads belongs with that snapshot.
        """
        connect = self._connect
        if connect is None or self._closed:
            yield None
            return
        try:
            conn = connect()
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            yield None
            return
        other = type(self)(
            conn,
            location=self.location,
            remote=self.remote,
            file_encrypted=self.file_encrypted,
            reconnect=connect if self.remote else None,
            read_only_reason=self.read_only_reason,
        )
        try:
            if not self.remote:
                other.query(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            yield other
        finally:
            other.close_without_checkpoint()

    def _configure_local(self, busy_timeout: float) -> None:
        self._busy_timeout_ms = int(busy_timeout * 1000)
        if self.replica:
            self.sync()  # the first pull; a replica file is empty until then
        try:
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            self._close_quietly()
            message = str(exc)
            if _is_read_only_failure(message) or "unable to open database file" in message.lower():
                # SQLite could not open, or write what even a read needs (a case the check in open()
                # missed): never call that a wrong key or a damaged file.
                reason = self.read_only_reason or read_only_reason(self.location)
                hint = (
                    self._read_only_message(reason)
                    if reason is not None or _is_read_only_failure(message)
                    else "Check that the file and its directory exist and that this process may read them."
                )
                raise StorageError(f"Could not open {self.shown_location}: {message}. {hint}") from None
            size = os.path.getsize(self.location) if os.path.exists(self.location) else 0
            if self.file_encrypted and size >= _PAGE and size % _PAGE == 0:
                raise WrongKeyError(
                    f"{self.shown_location} could not be decrypted: the master key is not this vault's key, or the "
                    "file is not a vecvault database. Check the key provider (keychain entry, VECVAULT_KEY, "
                    "key file, passphrase)."
                ) from None
            raise NotAVaultError(
                f"{self.shown_location} is not a vecvault database (or it is damaged beyond opening): {exc}"
            ) from None
        pragmas = ["PRAGMA foreign_keys=ON"]
        if not self.replica:
            local: tuple[str, ...] = _LOCAL_ONLY_PRAGMAS
            if self.read_only:  # the page size and journal mode are the file's own: setting them writes
                local = tuple(p for p in local if not p.startswith(("PRAGMA page_size", "PRAGMA journal_mode")))
            pragmas += [*local, f"PRAGMA busy_timeout={self._busy_timeout_ms}"]
        for pragma in pragmas:
            self.query(pragma)

    def sync(self) -> None:
        """Embedded replica: pull the primary's committed changes (a no-op for other connections)."""
        if not self.replica or self._in_tx:
            return
        try:
            self._run(lambda: self._conn.sync(), "-- replica sync")
        except StorageError as exc:
            raise StorageError(
                f"Could not pull the primary's changes into the replica {self.shown_location} ({exc}); check that the "
                "primary (sync_url) runs and is reachable. count(), ids() and get() by id still read the local copy."
            ) from None

    def _run(self, fn: Callable[[], Any], sql: str) -> Any:
        if self._closed:
            raise StorageError("The vault is closed; open it again with Vault.open(...).")
        if self.tracer is not None:
            self.tracer(sql)
        if self._broken:
            self._reopen()
        try:
            return self._call(fn)
        except _ConnectionLostError as lost:
            # Reopen and retry once, only where repeating cannot apply a write twice: outside a
            # transaction, and for a read or a statement the server certainly never ran.
            retry = not self._in_tx and (lost.not_executed or sql.lstrip().lower().startswith(_READ_ONLY_PREFIXES))
            if not retry:
                raise StorageError(self._lost_message(lost.reason, sql)) from None
            self._reopen()
            try:
                return self._call(fn)
            except _ConnectionLostError as again:
                raise StorageError(self._lost_message(again.reason, sql)) from None

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except VecVaultError:
            raise
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            if _is_locked(exc):
                raise _LockedError(str(exc)) from None
            message = str(exc)
            if self.remote and _is_connection_lost(message):
                self._broken = True
                raise _ConnectionLostError(message, not_executed=_was_not_executed(message)) from None
            if self.remote and ("status=401" in message or "unauthorized" in message.lower()):
                raise StorageError(
                    f"The libSQL server at {display_location(self.location)} refused the credentials "
                    f"({message}); pass a valid token: Vault.open(..., auth_token=...), or --auth-token / "
                    "VECVAULT_AUTH_TOKEN on the command line."
                ) from None
            if self.remote and ("status=403" in message or "forbidden" in message.lower()):
                self._broken = True  # the server ends the stream with the refusal
                raise StorageError(
                    f"The libSQL server at {display_location(self.location)} does not allow this with the given "
                    f"auth_token ({message}); use a token with write access (a read-only token can only read)."
                ) from None
            if _is_read_only_failure(message) and not self.remote:
                raise StorageError(
                    self._read_only_message(self.read_only_reason or read_only_reason(self.location))
                ) from None
            if "malformed" in message or "not a database" in message:
                raise StorageError(
                    f"The vault file is damaged ({message}); restore it from a backup (vecvault import)."
                ) from None
            raise StorageError(f"libSQL failed: {message}") from None

    def _reopen(self) -> None:
        """Replace a dead remote connection with a fresh one (opening is lazy: no round trip)."""
        if self._reconnect is None:
            return
        with contextlib.suppress(BaseException):
            self._conn.close()
        try:
            self._conn = self._reconnect()
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise
            raise StorageError(
                f"Could not reconnect to {display_location(self.location)}: {exc}; check that the server runs."
            ) from None
        self._broken = False

    def _lost_message(self, reason: str, sql: str) -> str:
        where = display_location(self.location)
        lowered = reason.lower()
        if "transaction_timeout" in lowered or "transaction timed out" in lowered:
            return (
                f"The libSQL server at {where} rolled back this write: it held the write lock while another "
                f"client waited past the server's limit ({reason}). Nothing of it was stored; retry it."
            )
        if sql == "COMMIT":
            return (
                f"The connection to the libSQL server at {where} was lost while committing ({reason}); the "
                "write may or may not be stored. Repeat it (adds are upserts); vecvault reconnects on the next call."
            )
        if self._in_tx:
            return (
                f"The connection to the libSQL server at {where} was lost during a write ({reason}); nothing of "
                "it was stored. Retry it; vecvault reconnects on the next call. (A read-only auth_token also "
                "ends a write this way.)"
            )
        return (
            f"Could not reach the libSQL server at {where} ({reason}); check that it is running and reachable. "
            "vecvault reconnects on the next call."
        )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement with bound parameters and return every row."""

        def go() -> list[tuple[Any, ...]]:
            cursor = self._conn.execute(sql, tuple(params))
            try:
                rows = cursor.fetchall()
                return list(rows) if rows else []  # the binding returns None for row-less statements
            finally:
                del cursor

        result: list[tuple[Any, ...]] = self._retry_locked(lambda: self._run(go, sql))
        return result

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows (inside a transaction).

        On a server URL the binding's ``executemany`` costs one round trip per row, so a plain
        ``INSERT ... VALUES (?, ...)`` or ``DELETE ... WHERE a = ? AND b = ?`` is sent as multi-row
        statements instead (same effect, rows applied in order): ~100x fewer round trips for a bulk add.
        """
        if not rows:
            return
        batch = rows if isinstance(rows, list) and isinstance(rows[0], tuple) else [tuple(r) for r in rows]
        if self.remote and len(batch) > 1:
            width = len(batch[0])
            per_statement = max(1, min(_REMOTE_ROWS_PER_STATEMENT, _MAX_BOUND_PARAMETERS // max(1, width)))
            for start in range(0, len(batch), per_statement):
                chunk = batch[start : start + per_statement]
                multi = _multi_row_statement(sql, width, len(chunk))
                if multi is None:
                    break
                self._run_multi(multi, tuple(value for row in chunk for value in row))
            else:
                return
        self._run(lambda: self._conn.executemany(sql, batch), sql)

    def _run_multi(self, sql: str, params: tuple[Any, ...]) -> None:
        self._run(lambda: self._conn.execute(sql, params), sql)

    def _retry_locked(self, fn: Callable[[], Any]) -> Any:
        # Only statements outside an explicit transaction are retried here; a transaction retries whole.
        for attempt in range(_LOCK_RETRIES):
            try:
                return fn()
            except _LockedError:
                if self._in_tx or attempt == _LOCK_RETRIES - 1:
                    raise StorageError(
                        "The database stayed locked by another writer; retry, or raise busy_timeout."
                    ) from None
                time.sleep(min(0.5, 0.05 * (attempt + 1)))
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``), serialised with every other writer of the process."""
        if self._in_tx:
            yield
            return
        if self.read_only:
            raise StorageError(self._read_only_message(self.read_only_reason))
        with _PROCESS_WRITE_LOCK:
            for attempt in range(_LOCK_RETRIES):
                try:
                    self._run(lambda: self._conn.execute("BEGIN IMMEDIATE"), "BEGIN IMMEDIATE")
                    break
                except _LockedError:
                    if attempt == _LOCK_RETRIES - 1:
                        raise StorageError(
                            "Another process kept the vault locked for writing; retry, or raise busy_timeout."
                        ) from None
                    time.sleep(min(0.5, 0.05 * (attempt + 1)))
            self._in_tx = True
            try:
                yield
            except BaseException:
                self._in_tx = False
                self._rollback_quietly()
                raise
            try:
                # Still "in the transaction" while committing: a lost COMMIT is never retried blindly.
                self._run(lambda: self._conn.execute("COMMIT"), "COMMIT")
            except BaseException:
                self._in_tx = False
                self._rollback_quietly()
                raise
            self._in_tx = False
            if self._checkpoint_pending:
                # A checkpoint readers blocked earlier: one try, no wait. The write is committed
                # whatever happens here, so a failure only leaves the checkpoint pending.
                with contextlib.suppress(StorageError):
                    self.checkpoint(patience=0.0)

    def _rollback_quietly(self) -> None:
        if self._broken:
            return  # the server already dropped the transaction with the connection
        with contextlib.suppress(BaseException):
            self._conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every statement inside sees the same committed state.

        On a server URL the reads inside run one by one (no read transaction: it would cost two more
        round trips per query); the revision counters keep the index correct, and a record deleted
        between ranking and fetching is left out of the hits. An embedded replica first pulls the
        primary's changes, then reads its local file.
        """
        if self._in_tx:
            yield
            return
        if self.remote or self.replica:
            self.sync()
            yield
            return
        self._retry_locked(lambda: self._run(lambda: self._conn.execute("BEGIN"), "BEGIN"))
        self._in_tx = True
        try:
            yield
        finally:
            self._in_tx = False
            with contextlib.suppress(BaseException):
                self._conn.execute("COMMIT")

    @property
    def checkpoint_pending(self) -> bool:
        """Whether a checkpoint was blocked by readers and is still to be done (see :meth:`checkpoint`)."""
        return self._checkpoint_pending

    def checkpoint(self, *, patience: float = _CHECKPOINT_PATIENCE_S) -> bool:
        """Copy the WAL into the database and truncate it, so deleted ciphertext leaves the files.

        A read transaction of another connection (another process, an export, a second :class:`Vault`
        on the file) pins the pages it may still read, deleted records' old ciphertext included, and
        SQLite reports the checkpoint busy. It is tried again for up to ``patience`` seconds, sleeping
        between tries (never in SQLite's GIL-holding busy wait); if readers still block it, it stays
        pending, and the end of this connection's next write transaction, the next call, and
        :meth:`close` finish it.

        Returns:
            True once the WAL is empty (or the database has no WAL to checkpoint), False while pending.
        """
        if self.remote or self.replica or self.read_only:
            return True
        if self._in_tx:  # a checkpoint cannot pass this connection's own transaction
            self._checkpoint_pending = True
            return False
        deadline = time.monotonic() + patience
        while not self._try_checkpoint():
            if time.monotonic() >= deadline:
                self._checkpoint_pending = True
                return False
            time.sleep(_CHECKPOINT_PAUSE_S)
        self._checkpoint_pending = False
        return True

    def _try_checkpoint(self) -> bool:
        """One ``wal_checkpoint(TRUNCATE)`` that never waits on a lock; True if it completed.

        Its row is ``(busy, log_frames, checkpointed_frames)``: busy=1 when readers or a writer kept it
        from copying and truncating the whole WAL.
        """

        def pragma(sql: str) -> list[tuple[Any, ...]]:
            cursor = self._conn.execute(sql)
            try:
                return list(cursor.fetchall() or [])
            finally:
                del cursor

        sql = "PRAGMA wal_checkpoint(TRUNCATE)"
        self._run(lambda: pragma("PRAGMA busy_timeout=0"), "PRAGMA busy_timeout=0")
        try:
            rows = self._run(lambda: pragma(sql), sql)
        except _LockedError:
            return False
        finally:
            restore = f"PRAGMA busy_timeout={self._busy_timeout_ms}"
            self._run(lambda: pragma(restore), restore)
        return bool(rows) and int(rows[0][0]) == 0

    def close(self) -> None:
        """Checkpoint (waiting a little longer for readers than after a delete) and close; safe to call twice."""
        if self._closed:
            return
        try:
            self.checkpoint(patience=_CLOSE_CHECKPOINT_PATIENCE_S)
        finally:
            self._close_quietly()

    def rekey(self, file_key: str) -> None:
        """Re-key the file's page encryption (``""``: turn it off); the key never reaches the tracer.

        libSQL runs it only in ``journal_mode=DELETE`` (:meth:`set_journal_mode`); inside a transaction it
        commits or rolls back with it (measured on libsql 0.1.x).
        """
        if file_key and (len(file_key) != 32 or not set(file_key) <= _FILE_KEY_CHARS):
            raise AssertionError("a derived file key must be 32 base64url characters")
        sql = f"PRAGMA rekey = '{file_key}'"
        self._run(lambda: self._conn.execute(sql).fetchall(), "PRAGMA rekey = <file key>")

    def set_journal_mode(self, mode: str) -> None:
        """Switch the journal mode once, without lock retries: a vault another program holds fails at once.

        Raises:
            StorageError: the mode did not change (another program has the vault open).
        """
        if mode.upper() not in ("DELETE", "WAL"):
            raise ConfigurationError(f"Unknown journal mode {mode!r}; vecvault uses DELETE and WAL.")
        sql = f"PRAGMA journal_mode={mode}"
        try:
            rows = self._run(lambda: self._conn.execute(sql).fetchall(), sql)
        except StorageError:
            rows = []
        got = str(rows[0][0]).lower() if rows else ""
        if got != mode.lower():
            raise StorageError(
                f"Could not switch {self.shown_location} to journal_mode={mode} (it stayed {got or 'unknown'}): "
                "another program has the vault open. Close every other program using it, then run the command again."
            )

    def close_without_checkpoint(self) -> None:
        """Close at once: after a re-key this connection may no longer read the file (the next open restores WAL)."""
        self._close_quietly()

    def _read_only_message(self, reason: str | None) -> str:
        why = reason or "SQLite could not write it"
        return (
            f"The vault {self.shown_location} is read-only ({why}): it can be read, but not written. To write, "
            "make it writable (chmod u+w on the file and its directory, or remount the file system "
            "read-write), or copy the vault (with any -wal file beside it) somewhere writable and open the copy."
        )

    def _close_quietly(self) -> None:
        self._closed = True
        with contextlib.suppress(BaseException):
            self._conn.close()


class _LockedError(StorageError):
    """Internal: the statement hit a lock held by another connection."""


class _ConnectionLostError(StorageError):
    """Internal: the remote connection died; ``not_executed`` when the server surely did not run the statement."""

    def __init__(self, reason: str, *, not_executed: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_executed = not_executed


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def _on_read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # no statvfs (Windows)
        return False


def read_only_reason(location: str) -> str | None:
    """Why this process cannot write the local vault at ``location``, or None if it can.

    Writing needs the file itself, and its ``-wal`` and ``-shm`` files: SQLite creates those in the
    directory unless both exist already.
    """
    path = Path(location)
    directory = path.parent
    if not directory.is_dir():
        return None  # nothing to say about writability: opening reports the missing directory
    if _on_read_only_file_system(directory if not path.exists() else path):
        return f"the file system holding {directory} is mounted read-only"
    if path.exists() and not _writable(path):
        return f"the file {location} is read-only"
    if not _writable(directory):
        wal, shm = Path(f"{location}-wal"), Path(f"{location}-shm")
        if path.exists() and all(p.exists() and _writable(p) for p in (wal, shm)):
            return None
        return (
            f"its directory {directory} is read-only, and SQLite needs to create {path.name}-wal and "
            f"{path.name}-shm there"
        )
    return None


def _read_only_uri(location: str, reason: str) -> str:
    """The ``file:`` URI that opens an existing local vault read-only (see :meth:`Storage.open`)."""
    path = Path(os.path.abspath(location))
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if _writable(path.parent) or (wal.exists() and shm.exists()):
        return path.as_uri() + "?mode=ro"  # shares the WAL with writers elsewhere
    if not wal.exists() or wal.stat().st_size == 0:
        return path.as_uri() + "?immutable=1"  # nothing but the file to read; nothing can write it here
    raise StorageError(
        f"The vault {location} is read-only ({reason}), and {wal.name} holds committed changes that are not in "
        f"the file yet: without {shm.name}, which cannot be created there, SQLite cannot read them. Copy the "
        f"vault with its {wal.name} somewhere writable and open the copy, or make {path.parent} writable."
    )


def _is_read_only_failure(message: str) -> bool:
    text = message.lower()
    return "readonly database" in text or "read-only file system" in text
