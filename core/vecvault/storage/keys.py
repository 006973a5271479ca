"""The wrapped data keys (``vv_keys``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vecvault.errors import (
    IntegrityError,
)
from vecvault.storage._sql import (
    _is_int,
    _utf8,
)
from vecvault.storage.connection import Connection
from vecvault.storage.schema import RESTORE_HINT


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


class KeysSQL(Connection):
    """The wrapped data keys (``vv_keys``)."""

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
