"""What ``vecvault info`` shows of the data keys: ids, scopes, states, counts; never key material."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vecvault.engine import VaultCore


@dataclass(frozen=True)
class KeyInfo:
    """One data key as ``vecvault info`` shows it: id, scope, state, use counts. Never key material.

    ``records`` counts the records (of a collection) or entries (of a key-value namespace) it seals.
    """

    key_id: int
    scope: str
    state: str
    encryptions: int
    records: int


def key_info(core: VaultCore) -> list[KeyInfo]:
    """Every data key of the vault with its scope, state, encryption count and number of records."""
    with core.lock:
        core.check_open()
        storage = core.storage
        counts = storage.records_per_key()
        for key_id, entries in storage.kv_entries_per_key().items():  # key-value entries count as records
            counts[key_id] = counts.get(key_id, 0) + entries
        return [
            KeyInfo(r.key_id, r.scope, r.state, r.encryptions, counts.get(r.key_id, 0)) for r in storage.load_keys()
        ]
