"""The only package that talks to libSQL: one module per table, composed into :class:`Storage`.

- :mod:`~vecvault.storage.connection`: opening (local files, embedded replicas, servers), the binding's
  traps, retries, transactions, remote-error sorting, checkpoints, read-only files.
- :mod:`~vecvault.storage.schema`: tables, migrations, the schema version, metadata values.
- :mod:`~vecvault.storage.keys`, :mod:`~vecvault.storage.collections`, :mod:`~vecvault.storage.records`,
  :mod:`~vecvault.storage.ann`, :mod:`~vecvault.storage.snapshots` (both on
  :mod:`~vecvault.storage.chunks`), :mod:`~vecvault.storage.plain`,
  :mod:`~vecvault.storage.kv`: the SQL of one
  table (or table family) each.

Everything stored is either plaintext by design (ids, collection names, key ids, revisions, timestamps) or
an already-sealed blob; this package never sees a key or a decrypted value, except the derived
page-encryption key string it hands to libSQL. Values are always bound, identifiers always quoted.
"""

from __future__ import annotations

from vecvault.storage._sql import display_location, is_remote_url, quote_identifier
from vecvault.storage.ann import AnnSQL
from vecvault.storage.collections import CollectionRow, CollectionsSQL
from vecvault.storage.connection import Tracer, read_only_reason
from vecvault.storage.keys import KeyRow, KeysSQL
from vecvault.storage.kv import KvRow, KvSQL
from vecvault.storage.plain import PlainSQL
from vecvault.storage.records import RecordsSQL
from vecvault.storage.schema import RESTORE_HINT, SCHEMA_VERSION, SchemaSQL
from vecvault.storage.snapshots import SnapshotsSQL

__all__ = [
    "RESTORE_HINT",
    "SCHEMA_VERSION",
    "CollectionRow",
    "KeyRow",
    "KvRow",
    "Storage",
    "Tracer",
    "display_location",
    "is_remote_url",
    "quote_identifier",
    "read_only_reason",
]


class Storage(SchemaSQL, KeysSQL, CollectionsSQL, RecordsSQL, AnnSQL, SnapshotsSQL, PlainSQL, KvSQL):
    """A libSQL connection with vecvault's schema, transactions and the statements of every table.

    Each base class holds the SQL of one table (or table family) on a shared
    :class:`~vecvault.storage.connection.Connection`; callers see one object, so a write transaction
    spans tables. Not thread-safe by itself: the vault serialises calls with its own lock.
    """
