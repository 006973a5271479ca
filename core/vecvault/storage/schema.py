"""The vault's schema: tables, migrations, its version and metadata values."""

from __future__ import annotations

import re

from vecvault.errors import (
    NotAVaultError,
    SchemaVersionError,
    StorageError,
)
from vecvault.storage.chunks import chunk_table
from vecvault.storage.connection import Connection
from vecvault.storage.snapshots import SNAPSHOT_TABLE

SCHEMA_VERSION = 7

_SCHEMA_VERSION_TEXT = re.compile(rb"[0-9]{1,9}")

# What every message about a damaged vault file tells the user to do.
RESTORE_HINT = (
    "`vecvault import BUNDLE NEW_PATH` from a bundle made by `vecvault export`, or a copy of the file taken "
    "before the damage"
)

# Sealed HNSW graphs (vecvault.ann_store), chunked; added by schema version 2.
_ANN_TABLE = chunk_table("vv_ann")

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

# Sealed key-value namespaces (vecvault.kv); added by schema version 6. Names share one space with the
# collections (and with them the data keys' scopes). An entry is found by its blind-index lookup (an HMAC
# of the key under the namespace's data key); its key and value are sealed fields. Values run from bytes to
# megabytes, so a rowid table with a unique (namespace, lookup) index, walked in rowid order by rotation.
_KV_TABLES = (
    """CREATE TABLE IF NOT EXISTS vv_kv_namespaces (
        name TEXT PRIMARY KEY,
        rev INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS vv_kv (
        namespace TEXT NOT NULL,
        lookup BLOB NOT NULL,
        rev INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        key BLOB NOT NULL,
        value BLOB NOT NULL,
        UNIQUE (namespace, lookup)
    )""",
)

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
    *_KV_TABLES,
    SNAPSHOT_TABLE,
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
    5: _KV_TABLES,  # 5 -> 6: sealed key-value namespaces (vecvault.kv)
    6: (SNAPSHOT_TABLE,),  # 6 -> 7: sealed mirror snapshots (vecvault.search.snapshot): a cache, empty at first
}


class SchemaSQL(Connection):
    """The vault's schema: tables, migrations, its version and metadata values."""

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
