"""The only module that talks to libSQL: connection, schema, migrations, transactions and record SQL.

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
import functools
import hashlib
import importlib
import itertools
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from vecvault.errors import (
    ConfigurationError,
    IntegrityError,
    NotAVaultError,
    SchemaVersionError,
    StorageError,
    VecVaultError,
    WrongKeyError,
)
from vecvault.file_layer import FINGERPRINT_BYTES

__all__ = [
    "RESTORE_HINT",
    "SCHEMA_VERSION",
    "CollectionRow",
    "KeyRow",
    "Storage",
    "is_remote_url",
    "quote_identifier",
]

SCHEMA_VERSION = 5
_SCHEMA_VERSION_TEXT = re.compile(rb"[0-9]{1,9}")
# What every message about a damaged vault file tells the user to do.
RESTORE_HINT = (
    "`vecvault import BUNDLE NEW_PATH` from a bundle made by `vecvault export`, or a copy of the file taken "
    "before the damage"
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
_REMOTE_PREFIXES = ("libsql://", "http://", "https://", "ws://", "wss://")
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
_REMOTE_ROWS_PER_STATEMENT = 256
_LOCAL_ROWS_PER_INSERT = 32  # measured on a 10k bulk add: 16 to 48 rows per statement alike, 1 row 8% slower end to end
_MAX_BOUND_PARAMETERS = 32_000  # SQLite's limit is 32766 since 3.32
_INSERT_VALUES = re.compile(r"^(?P<head>INSERT\s.+\sVALUES\s*)\((?P<marks>\?(?:\s*,\s*\?)*)\)\s*$", re.I | re.S)
_DELETE_WHERE = re.compile(
    r"^(?P<head>DELETE\s+FROM\s+\S+)\s+WHERE\s+(?P<cond>\S+\s*=\s*\?(?:\s+AND\s+\S+\s*=\s*\?)*)\s*$", re.I
)
# Pragmas an embedded replica refuses ("unsupported statement"): its file is written by replication.
# The page size applies only when the file is created (it must precede the switch to WAL). A sealed record
# is ~2.2 KB at 384 dimensions: a 4 KiB page holds one and wastes the rest, a 16 KiB page holds seven, which
# halves the file and doubles insert and scan speed (measured: 35k -> 65k rows/s, 4.1 -> 2.4 KB per record).
# A 32 MiB page cache (SQLite's default is 2 MiB) keeps the pages of records read by searches and gets
# (still sealed: page decryption only undoes the file layer). A vault of up to ~14k records at 384-d fits
# whole, and the load leaves it there: measured at 10k, the exact search p50 went from 0.40 to 0.31 ms,
# and bulk adds were no slower. SQLite fills it only as pages are read; in a larger vault the load fills
# it with pages a search may not read again (+32 MiB RSS after an open at 100k, measured). Loading
# through a 2 MiB cache instead saved that memory but gave back most of the 10k gain (0.36-0.41 ms).
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

Tracer = Callable[[str], None]

# Sealed HNSW graphs (vecvault.ann_store), chunked; added by schema version 2.
_ANN_TABLE = """CREATE TABLE IF NOT EXISTS vv_ann (
    collection TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    count INTEGER NOT NULL,
    rev INTEGER NOT NULL,
    key_id INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (collection, chunk)
)"""

# Records are ~2 KB (a sealed 384-d vector alone is 1.5 KB): far above the size where a WITHOUT ROWID
# table pays off, so they live in a rowid table with a unique (collection, id) index.
_RECORDS_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        rev INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        text BLOB NOT NULL,
        metadata BLOB NOT NULL,
        vector BLOB NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (collection, id)
    )"""
_RECORDS_INDEXES = ("CREATE INDEX IF NOT EXISTS vv_records_by_rev ON vv_records (collection, rev)",)

_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS vv_meta (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS vv_keys (
        key_id INTEGER PRIMARY KEY,
        scope TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        wrapped BLOB,
        encryptions INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS vv_collections (
        name TEXT PRIMARY KEY,
        dim INTEGER NOT NULL,
        metric TEXT NOT NULL,
        vectors TEXT NOT NULL,
        model TEXT,
        rev INTEGER NOT NULL DEFAULT 0,
        epoch INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        options TEXT NOT NULL DEFAULT '{}'
    )""",
    _RECORDS_TABLE.format(name="vv_records"),
    *_RECORDS_INDEXES,
    """CREATE TABLE IF NOT EXISTS vv_deletions (
        collection TEXT NOT NULL,
        id TEXT NOT NULL,
        rev INTEGER NOT NULL,
        PRIMARY KEY (collection, id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS vv_deletions_by_rev ON vv_deletions (collection, rev)",
    _ANN_TABLE,
)

# Migrations from version N to N+1, applied in order inside one transaction on open.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (_ANN_TABLE,),  # 1 -> 2: sealed HNSW graphs (vecvault.ann_store)
    2: (  # 2 -> 3: records move from a WITHOUT ROWID table to a rowid table (2.2x faster inserts)
        _RECORDS_TABLE.format(name="vv_records_v3"),
        "INSERT INTO vv_records_v3 (collection, id, rev, key_id, text, metadata, vector, updated_at) "
        "SELECT collection, id, rev, key_id, text, metadata, vector, updated_at FROM vv_records",
        "DROP TABLE vv_records",
        "ALTER TABLE vv_records_v3 RENAME TO vv_records",
        *_RECORDS_INDEXES,
        "CREATE INDEX IF NOT EXISTS vv_records_by_key ON vv_records (key_id)",
    ),
    # 3 -> 4: no index on the data key id. Each add paid for it (~7% of add throughput); key rotation,
    # its only reader, walks the records in rowid order instead (vecvault.lifecycle).
    3: ("DROP INDEX IF EXISTS vv_records_by_key",),
    # 4 -> 5: sealed fields bind their write version (field format v2, vecvault.crypto). No table changes:
    # the vault re-seals its records under fresh v2 data keys after opening (vecvault.lifecycle); the
    # version tells an older vecvault to upgrade instead of failing on fields it cannot read.
    4: (),
}


def quote_identifier(name: str) -> str:
    """Quote an SQL identifier (table or column name); values are always bound, never quoted."""
    if "\x00" in name:
        raise ConfigurationError("An SQL identifier cannot contain a NUL character.")
    return '"' + name.replace('"', '""') + '"'


def is_remote_url(location: str) -> bool:
    """Whether ``location`` names a libSQL server rather than a local file."""
    return location.lower().startswith(_REMOTE_PREFIXES)


@dataclass(frozen=True)
class KeyRow:
    """A stored data key: scope (collection, or "" for the vault), wrapped material, encryption count.

    ``wrapped`` is None once the key is destroyed.
    """

    key_id: int
    scope: str
    state: str
    wrapped: bytes | None
    encryptions: int


@dataclass(frozen=True)
class CollectionRow:
    """A collection's fixed configuration and its change counters."""

    name: str
    dim: int
    metric: str
    vectors: str
    model: str | None
    rev: int
    epoch: int
    options: str


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


_RECORDS_INSERT = "INSERT OR REPLACE INTO vv_records (collection, id, rev, key_id, text, metadata, vector, updated_at)"


@functools.lru_cache(maxsize=4)
def _records_insert_group(count: int) -> str:
    """An insert of ``count`` records that binds the shared values once.

    ``?1`` to ``?4`` are the collection, rev, key id and time; then each record binds its id, text,
    metadata and vector. Only placeholders are built into the text, never a value.
    """
    rows = ", ".join(f"(?1, ?{5 + 4 * i}, ?2, ?3, ?{6 + 4 * i}, ?{7 + 4 * i}, ?{8 + 4 * i}, ?4)" for i in range(count))
    return f"{_RECORDS_INSERT} VALUES {rows}"


def _multi_row_statement(sql: str, width: int, count: int) -> str | None:
    """``sql`` rewritten to apply ``count`` parameter rows at once, or None if it has no such form."""
    insert = _INSERT_VALUES.match(sql)
    if insert is not None and insert.group("marks").count("?") == width:
        row = "(" + ", ".join("?" * width) + ")"
        return insert.group("head") + ", ".join([row] * count)
    delete = _DELETE_WHERE.match(sql)
    if delete is not None:
        columns = [part.split("=")[0].strip() for part in re.split(r"\s+AND\s+", delete.group("cond"), flags=re.I)]
        if len(columns) != width:
            return None
        if width == 1:
            return f"{delete.group('head')} WHERE {columns[0]} IN ({', '.join('?' * count)})"
        row = "(" + ", ".join("?" * width) + ")"
        return f"{delete.group('head')} WHERE ({', '.join(columns)}) IN (VALUES {', '.join([row] * count)})"
    return None


def display_location(location: str) -> str:
    """A location safe to show in messages: a URL loses its credentials and query string (tokens)."""
    if not is_remote_url(location):
        return location
    scheme, _, rest = location.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


def _load_driver(name: str) -> ModuleType:
    if name not in DRIVERS:
        raise ConfigurationError(f"Unknown libSQL driver {name!r}. Expected one of {list(DRIVERS)}.")
    try:
        return importlib.import_module(name)
    except ImportError:
        package = name.replace("_", "-")
        raise ConfigurationError(f"The libSQL driver {name!r} is not installed: pip install {package}") from None


class Storage:
    """A libSQL connection with vecvault's schema, transactions and record statements.

    Not thread-safe by itself: the vault serialises calls with its own lock. Write transactions also
    take the process-wide write lock.
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

    @property
    def read_only(self) -> bool:
        """Whether the file was opened read-only because this process cannot write it (see :meth:`open`)."""
        return self.read_only_reason is not None

    @property
    def shown_location(self) -> str:
        """The location as messages show it: a URL without credentials or query string."""
        return display_location(self.location)

    # -- opening ----------------------------------------------------------------------------------------

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
        cls,
        location: str,
        *,
        file_key: str | None,
        driver: str = "libsql",
        auth_token: str | None = None,
        sync_url: str | None = None,
        busy_timeout: float = _BUSY_TIMEOUT_S,
    ) -> Storage:
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
        return storage

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

    # -- statements -------------------------------------------------------------------------------------

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

    # -- schema -----------------------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        """The stored schema version, or None for an empty database."""
        tables = {r[0] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "vv_meta" not in tables:
            if tables:
                raise NotAVaultError(
                    f"{self.shown_location} is an SQLite database but not a vecvault vault (it has no vv_meta table)."
                )
            return None
        rows = self.query("SELECT CAST(value AS BLOB) FROM vv_meta WHERE key = 'schema_version'")
        if not rows:
            raise NotAVaultError(f"{self.shown_location} has no schema version; it is not a complete vecvault vault.")
        stored = rows[0][0]
        # Written as ASCII digits (an INTEGER reads back the same through the CAST); anything else, or a
        # version below 1, is a damaged file that no migration can be chosen for.
        if not isinstance(stored, bytes) or _SCHEMA_VERSION_TEXT.fullmatch(stored) is None or int(stored) < 1:
            shown = stored[:24] if isinstance(stored, bytes) else stored
            raise NotAVaultError(
                f"{self.shown_location} has a damaged schema version ({shown!r}, expected a number from 1 to "
                f"{SCHEMA_VERSION}): vecvault cannot tell which format the vault is in, so it does not read it. "
                f"Restore it from a backup: {RESTORE_HINT}."
            )
        return int(stored)

    def create_schema(self, meta: dict[str, bytes]) -> None:
        """Create every table of a new vault and store its metadata, in one transaction."""
        with self.transaction():
            for statement in _SCHEMA:
                self.query(statement)
            rows = [("schema_version", str(SCHEMA_VERSION).encode()), *meta.items()]
            self.execute_many("INSERT INTO vv_meta (key, value) VALUES (?, ?)", rows)

    def migrate(self) -> None:
        """Bring an existing vault's schema up to :data:`SCHEMA_VERSION`."""
        version = self.schema_version()
        if version is None:
            raise NotAVaultError(f"{self.shown_location} is empty; it is not a vault.")
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.shown_location} uses vault schema {version}, newer than this vecvault supports "
                f"({SCHEMA_VERSION}); upgrade: pip install -U vecvault"
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StorageError(
                f"{self.shown_location} uses vault schema {version} and must be upgraded to {SCHEMA_VERSION} "
                f"before this vecvault reads it, which writes. " + self._read_only_message(self.read_only_reason)
            )
        with self.transaction():
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    self.query(statement)
            self.query("UPDATE vv_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION).encode(),))

    def get_meta(self, key: str) -> bytes | None:
        """Read one vault metadata value."""
        rows = self.query("SELECT CAST(value AS BLOB) FROM vv_meta WHERE key = ?", (key,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def set_meta(self, key: str, value: bytes) -> None:
        """Write one vault metadata value."""
        self.query("INSERT OR REPLACE INTO vv_meta (key, value) VALUES (?, ?)", (key, value))

    # -- data keys --------------------------------------------------------------------------------------

    def load_keys(self) -> list[KeyRow]:
        """Every data key row, checked for shape.

        Raises:
            IntegrityError: a row whose key id, scope, state or encryption count has the wrong type or
                range (the key table was altered); the message names the key. Whether the state is a
                known one, and the wrapped material's format, are judged where the key is opened.
        """
        rows = self.query(
            "SELECT key_id, CAST(scope AS BLOB), CAST(state AS BLOB), CAST(wrapped AS BLOB), encryptions "
            "FROM vv_keys ORDER BY key_id"
        )
        return [self._key_row(r) for r in rows]

    def _key_row(self, r: Sequence[Any]) -> KeyRow:
        key_id, scope, state, wrapped, encryptions = r

        def damaged(what: str) -> IntegrityError:
            return IntegrityError(
                f"Data key {key_id!r} in {self.shown_location} is damaged: {what}. The vault's key table was "
                f"altered or corrupted; restore the vault from a backup: {RESTORE_HINT}."
            )

        if not _is_int(key_id) or not 0 < key_id < 2**32:
            raise damaged("its key id is not a 32-bit key id")
        scope_text, state_text = _utf8(scope), _utf8(state)
        if scope_text is None:
            raise damaged("its scope (collection name) is not text")
        if state_text is None:
            raise damaged("its state is not text")
        if not _is_int(encryptions) or encryptions < 0:
            raise damaged(f"its encryption count is {encryptions!r}, not a count (an integer from 0)")
        return KeyRow(key_id, scope_text, state_text, None if wrapped is None else bytes(wrapped), encryptions)

    def insert_key(self, row: KeyRow) -> None:
        """Store a new wrapped data key."""
        self.query(
            "INSERT INTO vv_keys (key_id, scope, state, wrapped, encryptions, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (row.key_id, row.scope, row.state, row.wrapped, row.encryptions, time.time()),
        )

    def update_key(self, row: KeyRow) -> None:
        """Persist a data key's state, wrapping and count."""
        self.query(
            "UPDATE vv_keys SET state = ?, wrapped = ?, encryptions = ? WHERE key_id = ?",
            (row.state, row.wrapped, row.encryptions, row.key_id),
        )

    def add_encryptions(self, key_id: int, count: int) -> None:
        """Add to a data key's persisted encryption counter (inside the writing transaction)."""
        self.query("UPDATE vv_keys SET encryptions = encryptions + ? WHERE key_id = ?", (count, key_id))

    # -- collections ------------------------------------------------------------------------------------

    def collections(self) -> list[CollectionRow]:
        """Every collection, by name."""
        rows = self.query(
            "SELECT name, dim, metric, vectors, model, rev, epoch, options FROM vv_collections ORDER BY name"
        )
        return [_collection_row(r) for r in rows]

    def collection(self, name: str) -> CollectionRow | None:
        """One collection, or None."""
        rows = self.query(
            "SELECT name, dim, metric, vectors, model, rev, epoch, options FROM vv_collections WHERE name = ?",
            (name,),
        )
        return _collection_row(rows[0]) if rows else None

    def create_collection(self, row: CollectionRow) -> None:
        """Insert a collection (no-op if it exists; the caller re-reads and checks)."""
        self.query(
            "INSERT OR IGNORE INTO vv_collections (name, dim, metric, vectors, model, rev, epoch, created_at, "
            "options) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (row.name, row.dim, row.metric, row.vectors, row.model, time.time(), row.options),
        )

    def revision(self, name: str) -> tuple[int, int] | None:
        """A collection's ``(rev, epoch)``: cheap, read before every query for freshness."""
        rows = self.query("SELECT rev, epoch FROM vv_collections WHERE name = ?", (name,))
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def bump_revision(self, name: str) -> tuple[int, int]:
        """Advance a collection's revision (inside a write transaction) and return ``(old_rev, new_rev)``.

        The new revision is the write version sealed into every field of the write, so it must never be
        one a stored record already has: it is above the counter and above every stored record's ``rev``
        (a counter put back by someone editing the file does not make a version come round again).
        """
        rows = self.query(
            "UPDATE vv_collections SET rev = max(rev, coalesce((SELECT max(rev) FROM vv_records "
            "WHERE collection = ?), 0)) + 1 WHERE name = ? RETURNING rev",
            (name, name),
        )
        if not rows:
            raise StorageError(f"Collection {name!r} disappeared while writing; it was dropped by another process.")
        new_rev = int(rows[0][0])
        return new_rev - 1, new_rev

    def bump_epoch(self, name: str) -> int:
        """Start a new epoch (inside a write transaction): other readers will reload the collection."""
        rows = self.query("UPDATE vv_collections SET epoch = epoch + 1 WHERE name = ? RETURNING epoch", (name,))
        return int(rows[0][0])

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its records (inside a write transaction)."""
        self.query("DELETE FROM vv_records WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_ann WHERE collection = ?", (name,))
        self.query("DELETE FROM vv_collections WHERE name = ?", (name,))

    # -- records ----------------------------------------------------------------------------------------

    def upsert_records(
        self,
        collection: str,
        rev: int,
        key_id: int,
        ids: Sequence[str],
        texts: Sequence[bytes],
        metadatas: Sequence[bytes],
        vectors: Sequence[bytes],
    ) -> None:
        """Insert or replace sealed records, given column by column (inside a write transaction)."""
        now = time.time()
        if not len(ids) == len(texts) == len(metadatas) == len(vectors):
            raise ConfigurationError("upsert_records needs one text, metadata and vector per id.")
        start = 0
        if not self.remote and len(ids) >= _LOCAL_ROWS_PER_INSERT:
            # Whole groups as multi-row statements that bind the four shared values once per group: the
            # binding's per-parameter cost is a sixth of a local bulk add.
            sql = _records_insert_group(_LOCAL_ROWS_PER_INSERT)
            shared = (collection, rev, key_id, now)
            while start + _LOCAL_ROWS_PER_INSERT <= len(ids):
                end = start + _LOCAL_ROWS_PER_INSERT
                self._run_multi(
                    sql,
                    shared
                    + tuple(
                        itertools.chain.from_iterable(
                            zip(ids[start:end], texts[start:end], metadatas[start:end], vectors[start:end], strict=True)
                        )
                    ),
                )
                start = end
        if start < len(ids):
            self.execute_many(
                f"{_RECORDS_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (collection, record_id, rev, key_id, text, metadata, vector, now)
                    for record_id, text, metadata, vector in zip(
                        ids[start:], texts[start:], metadatas[start:], vectors[start:], strict=True
                    )
                ],
            )
        if self.query("SELECT 1 FROM vv_deletions WHERE collection = ? LIMIT 1", (collection,)):
            # A re-added id must leave the deletion log, or readers would drop it again.
            self.execute_many(
                "DELETE FROM vv_deletions WHERE collection = ? AND id = ?", [(collection, i) for i in ids]
            )

    def existing_ids(self, collection: str, ids: Sequence[str]) -> list[str]:
        """The subset of ``ids`` stored in the collection."""
        found: list[str] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            found.extend(
                str(r[0])
                for r in self.query(
                    f"SELECT id FROM vv_records WHERE collection = ? AND id IN ({marks})",  # noqa: S608 (placeholders only)
                    (collection, *chunk),
                )
            )
        return found

    def delete_records(self, collection: str, ids: Sequence[str], rev: int) -> int:
        """Delete records by id, logging each for other readers (inside a write transaction)."""
        present = self.existing_ids(collection, ids)
        if not present:
            return 0
        self.execute_many("DELETE FROM vv_records WHERE collection = ? AND id = ?", [(collection, i) for i in present])
        self.execute_many(
            "INSERT OR REPLACE INTO vv_deletions (collection, id, rev) VALUES (?, ?, ?)",
            [(collection, i, rev) for i in present],
        )
        # A stored HNSW graph names the deleted ids (sealed): drop it; the next search stores one without them.
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        return len(present)

    def clear_records(self, collection: str) -> int:
        """Delete every record of a collection (inside a write transaction); readers reload on the new epoch."""
        count = int(self.query("SELECT count(*) FROM vv_records WHERE collection = ?", (collection,))[0][0])
        self.query("DELETE FROM vv_records WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (collection,))
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        return count

    def prune_deletions(self, collection: str, keep: int) -> bool:
        """Forget the deletion log once it grows past ``keep`` rows; True if readers must fully reload."""
        count = int(self.query("SELECT count(*) FROM vv_deletions WHERE collection = ?", (collection,))[0][0])
        if count <= keep:
            return False
        self.query("DELETE FROM vv_deletions WHERE collection = ?", (collection,))
        return True

    def count(self, collection: str) -> int:
        """Number of records in a collection."""
        return int(self.query("SELECT count(*) FROM vv_records WHERE collection = ?", (collection,))[0][0])

    def fetch(self, collection: str, ids: Sequence[str], columns: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Fetch ``columns`` (from id, rev, key_id, text, metadata, vector) of the given records by id."""
        cols = _checked_columns(columns)
        out: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND id IN ({marks})"  # noqa: S608
            for row in self.query(sql, (collection, *chunk)):
                out[str(row[0])] = tuple(row[1:])
        return out

    def scan(self, collection: str, columns: Sequence[str], *, since_rev: int | None = None) -> list[tuple[Any, ...]]:
        """Every record's ``(id, *columns)``, optionally only those written after ``since_rev``."""
        cols = _checked_columns(columns)
        if since_rev is None:
            sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ?"  # noqa: S608
            return self.query(sql, (collection,))
        sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND rev > ?"  # noqa: S608
        return self.query(sql, (collection, since_rev))

    def scan_pages(
        self, collection: str, columns: Sequence[str], *, page: int = 4096
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Every record's ``(id, *columns)`` in pages of at most ``page`` rows, in storage order.

        Keyset pagination on the rowid (the table's own order, no index lookups): a load holds one page of
        sealed blobs at a time instead of the whole collection (run it inside :meth:`snapshot` for a
        consistent view).
        """
        cols = _checked_columns(columns)
        sql = (
            # "+collection" keeps SQLite on the rowid range instead of an index on collection plus a sort per page.
            f"SELECT rowid, id, {cols} FROM vv_records WHERE +collection = ? AND rowid > ? "  # noqa: S608
            "ORDER BY rowid LIMIT ?"
        )
        after = 0
        while True:
            rows = self.query(sql, (collection, after, page))
            if not rows:
                return
            yield [tuple(r[1:]) for r in rows]
            if len(rows) < page:
                return
            after = int(rows[-1][0])

    def records_after(
        self, collection: str, columns: Sequence[str], after_id: str, limit: int
    ) -> list[tuple[Any, ...]]:
        """Up to ``limit`` records' ``(id, *columns)`` with ids after ``after_id``, in id order.

        A walk that can resume from the last id it saw (``verify``), each page its own statement.
        """
        cols = _checked_columns(columns)
        sql = f"SELECT id, {cols} FROM vv_records WHERE collection = ? AND id > ? ORDER BY id LIMIT ?"  # noqa: S608
        return self.query(sql, (collection, after_id, int(limit)))

    def save_ann(self, collection: str, chunks: Iterable[tuple[int, int, int, int, bytes]]) -> None:
        """Replace a collection's stored graph by ``(chunk, count, rev, key_id, blob)`` rows (in a transaction).

        Rows are inserted one by one as ``chunks`` yields them, so a large graph is never held twice.
        """
        self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
        for chunk in chunks:
            self.query(
                "INSERT INTO vv_ann (collection, chunk, count, rev, key_id, blob) VALUES (?, ?, ?, ?, ?, ?)",
                (collection, *chunk),
            )

    def drop_ann(self, collection: str, key_ids: Sequence[int] | None = None) -> None:
        """Delete a collection's stored graph (a cache); with ``key_ids``, only if it is sealed under one of them."""
        if key_ids is None:
            self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
            return
        for key_id in key_ids:
            if self.query("SELECT 1 FROM vv_ann WHERE collection = ? AND key_id = ? LIMIT 1", (collection, key_id)):
                self.query("DELETE FROM vv_ann WHERE collection = ?", (collection,))
                return

    def has_ann(self, collection: str) -> bool:
        """Whether a graph is stored for the collection."""
        return bool(self.query("SELECT 1 FROM vv_ann WHERE collection = ? LIMIT 1", (collection,)))

    def iter_ann(self, collection: str) -> Iterator[tuple[int, int, int, int, bytes]]:
        """Like :meth:`load_ann`, one chunk per statement, so a large graph is read a chunk at a time."""
        listed = self.query("SELECT chunk FROM vv_ann WHERE collection = ? ORDER BY chunk", (collection,))
        for (chunk,) in listed:
            rows = self.query(
                "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? AND chunk = ?",
                (collection, int(chunk)),
            )
            if rows:
                yield _ann_row(rows[0])

    def load_ann(self, collection: str) -> list[tuple[int, int, int, int, bytes]]:
        """A collection's stored graph chunks ``(chunk, count, rev, key_id, blob)`` (empty if none)."""
        rows = self.query(
            "SELECT chunk, count, rev, key_id, CAST(blob AS BLOB) FROM vv_ann WHERE collection = ? ORDER BY chunk",
            (collection,),
        )
        return [_ann_row(r) for r in rows]

    def deletions_since(self, collection: str, rev: int) -> list[str]:
        """Ids deleted after ``rev``."""
        rows = self.query("SELECT id FROM vv_deletions WHERE collection = ? AND rev > ?", (collection, rev))
        return [str(r[0]) for r in rows]

    def all_ids(self, collection: str) -> list[str]:
        """Every record id of a collection."""
        return [str(r[0]) for r in self.query("SELECT id FROM vv_records WHERE collection = ?", (collection,))]

    # -- plain vector mode ------------------------------------------------------------------------------
    # A collection in ``plain`` mode also keeps its vectors unsealed in an F32_BLOB column of its own table,
    # so libSQL's vector functions can rank them inside SQL. Names are derived, values always bound.

    @staticmethod
    def plain_table(collection: str) -> str:
        """The (quoted) name of a plain-mode collection's vector table."""
        digest = hashlib.sha256(collection.encode()).hexdigest()[:20]
        return quote_identifier(f"vv_plain_{digest}")

    @staticmethod
    def plain_index(collection: str) -> str:
        """The (unquoted) name of a plain-mode collection's DiskANN index, as vector_top_k wants it."""
        return f"vv_plain_{hashlib.sha256(collection.encode()).hexdigest()[:20]}_ann"

    def create_plain_table(self, collection: str, dim: int, metric: str, *, native_index: bool) -> None:
        """Create the vector table (and optionally libSQL's DiskANN index) of a plain-mode collection."""
        table = self.plain_table(collection)
        self.query(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, embedding F32_BLOB({int(dim)}))")
        if native_index:
            index = quote_identifier(self.plain_index(collection))
            option = "metric=cos" if metric == "cosine" else "metric=l2"
            self.query(f"CREATE INDEX IF NOT EXISTS {index} ON {table} (libsql_vector_idx(embedding, '{option}'))")

    def upsert_plain(self, collection: str, rows: Sequence[tuple[str, bytes]]) -> None:
        """Insert or replace plain vectors (inside a write transaction)."""
        table = self.plain_table(collection)
        self.execute_many(f"INSERT OR REPLACE INTO {table} (id, embedding) VALUES (?, ?)", list(rows))  # noqa: S608

    def delete_plain(self, collection: str, ids: Sequence[str]) -> None:
        """Delete plain vectors by id (inside a write transaction)."""
        table = self.plain_table(collection)
        self.execute_many(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])  # noqa: S608

    def clear_plain(self, collection: str) -> None:
        """Delete every plain vector of a collection (inside a write transaction)."""
        self.query(f"DELETE FROM {self.plain_table(collection)}")  # noqa: S608

    def drop_plain(self, collection: str) -> None:
        """Drop a plain-mode collection's vector table and index (inside a write transaction)."""
        self.query(f"DROP INDEX IF EXISTS {quote_identifier(self.plain_index(collection))}")
        self.query(f"DROP TABLE IF EXISTS {self.plain_table(collection)}")

    def plain_top_k(
        self,
        collection: str,
        metric: str,
        query: bytes,
        k: int,
        *,
        ids: Sequence[str] | None = None,
        native_index: bool = False,
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest plain vectors as ``(id, distance)``, nearest first, optionally among ``ids``.

        With ``native_index``, libSQL's DiskANN index answers (approximate); otherwise a full scan with
        ``vector_distance_cos`` / ``vector_distance_l2`` (exact).
        """
        table = self.plain_table(collection)
        fn = "vector_distance_cos" if metric == "cosine" else "vector_distance_l2"
        if native_index and ids is None:
            index = self.plain_index(collection)
            sql = (
                f"SELECT v.id, {fn}(v.embedding, ?) AS d FROM vector_top_k(?, ?, ?) AS t "  # noqa: S608
                f"JOIN {table} AS v ON v.rowid = t.id ORDER BY d LIMIT ?"
            )
            rows = self.query(sql, (query, index, query, int(k), int(k)))
            return [(str(r[0]), float(r[1])) for r in rows]
        if ids is None:
            sql = f"SELECT id, {fn}(embedding, ?) AS d FROM {table} ORDER BY d, id LIMIT ?"  # noqa: S608
            return [(str(r[0]), float(r[1])) for r in self.query(sql, (query, int(k)))]
        found: list[tuple[str, float]] = []
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = (
                f"SELECT id, {fn}(embedding, ?) AS d FROM {table} WHERE id IN ({marks}) "  # noqa: S608
                "ORDER BY d, id LIMIT ?"
            )
            found.extend((str(r[0]), float(r[1])) for r in self.query(sql, (query, *chunk, int(k))))
        found.sort(key=lambda item: (item[1], item[0]))
        return found[:k]

    def plain_vectors(self, collection: str, ids: Sequence[str]) -> dict[str, bytes]:
        """Plain vectors by id (raw little-endian float32 bytes)."""
        table = self.plain_table(collection)
        out: dict[str, bytes] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, CAST(embedding AS BLOB) FROM {table} WHERE id IN ({marks})"  # noqa: S608
            out.update((str(r[0]), bytes(r[1])) for r in self.query(sql, tuple(chunk)))
        return out

    # -- housekeeping -----------------------------------------------------------------------------------

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


_RECORD_COLUMNS = ("rev", "key_id", "text", "metadata", "vector")
_SEALED_COLUMNS = frozenset({"text", "metadata", "vector"})


def _blob(column: str) -> str:
    """Select a column of sealed or binary bytes as a BLOB whatever its storage class (module docstring)."""
    return f"CAST({column} AS BLOB)"


def _checked_columns(columns: Sequence[str]) -> str:
    for column in columns:
        if column not in _RECORD_COLUMNS:
            raise ConfigurationError(f"Unknown record column {column!r}. Expected one of {list(_RECORD_COLUMNS)}.")
    return ", ".join(_blob(quote_identifier(c)) if c in _SEALED_COLUMNS else quote_identifier(c) for c in columns)


def _collection_row(r: Sequence[Any]) -> CollectionRow:
    return CollectionRow(
        name=str(r[0]),
        dim=int(r[1]),
        metric=str(r[2]),
        vectors=str(r[3]),
        model=None if r[4] is None else str(r[4]),
        rev=int(r[5]),
        epoch=int(r[6]),
        options=str(r[7]),
    )


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _utf8(value: Any) -> str | None:
    """A TEXT column read through CAST(... AS BLOB), decoded strictly; None if it is not UTF-8 text."""
    if not isinstance(value, bytes):
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def _ann_row(r: Sequence[Any]) -> tuple[int, int, int, int, bytes]:
    # A NULL blob (the column is NOT NULL, so only a rebuilt table holds one) becomes b"": it fails to open.
    return int(r[0]), int(r[1]), int(r[2]), int(r[3]), b"" if r[4] is None else bytes(r[4])


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
