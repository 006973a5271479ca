"""Verification: open every sealed field of every record and report what fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vecvault.crypto import FieldContext
from vecvault.errors import (
    IntegrityError,
)
from vecvault.progress import ProgressCallback, call_progress
from vecvault.records import FIELD_METADATA, FIELD_TEXT, FIELD_VECTOR, decode_metadata, decode_vector

if TYPE_CHECKING:
    from vecvault.engine import VaultCore
    from vecvault.storage import KvRow


_FIELDS = (FIELD_TEXT, FIELD_METADATA, FIELD_VECTOR)


@dataclass(frozen=True)
class VerifyFailure:
    """A record field that does not open: where, and why (the error message; never a value).

    For a key-value entry, ``collection`` is its namespace and ``record_id`` is ``"lookup:"`` and the hex
    of its blind-index lookup (its key is private), ``field`` is ``kv-key`` or ``kv-value``.
    """

    collection: str
    record_id: str
    field: str
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """What :func:`verify` checked and what failed."""

    collections: int
    records: int
    fields: int
    failures: tuple[VerifyFailure, ...]
    namespaces: int = 0
    entries: int = 0

    @property
    def ok(self) -> bool:
        """True when every sealed field opened."""
        return not self.failures


def verify(core: VaultCore, *, progress: ProgressCallback | None = None, batch_size: int = 2000) -> VerifyReport:
    """Open every sealed field of every record and key-value entry and check what it decodes to; never raises.

    Returns:
        A report listing each field that failed (collection, record id, field, reason).
    """
    failures: list[VerifyFailure] = []
    records = fields = 0
    with core.lock:
        core.check_open()
        storage = core.storage
        configs = storage.collections()
        total = sum(storage.count(c.name) for c in configs)
        namespaces = storage.kv_namespaces()
        kv_total = sum(count for _, count in namespaces)
        call_progress(progress, 0, total + kv_total)
        for config in configs:
            last = ""
            while True:
                # Sealed columns arrive as bytes (or None) whatever their storage class in the file, so a
                # retyped value is one failed field here, not a failed walk.
                rows = storage.records_after(config.name, ("rev", *_FIELDS), last, batch_size)
                if not rows:
                    break
                for row in rows:
                    record_id, rev = str(row[0]), row[1]
                    for field, blob in zip(_FIELDS, row[2:5], strict=True):
                        fields += 1
                        reason = _check_field(core, config.name, config.dim, record_id, field, blob, rev)
                        if reason is not None:
                            failures.append(VerifyFailure(config.name, record_id, field, reason))
                records += len(rows)
                last = str(rows[-1][0])
                call_progress(progress, records, max(total + kv_total, records))
        entries = 0
        for namespace, _ in namespaces:
            for page in storage.kv_pages(namespace):
                for entry in page:
                    fields += 2
                    failures.extend(_check_entry(core, namespace, entry))
                entries += len(page)
                call_progress(progress, records + entries, max(total + kv_total, records + entries))
    return VerifyReport(len(configs), records, fields, tuple(failures), len(namespaces), entries)


def _check_entry(core: VaultCore, namespace: str, row: KvRow) -> list[VerifyFailure]:
    from vecvault.kv import FIELD_KV_KEY, FIELD_KV_VALUE, KvSealer

    sealer = KvSealer(core, namespace)
    where = "lookup:" + row.lookup.hex()
    try:
        (key,) = sealer.open_keys([row])
    except IntegrityError as exc:
        return [VerifyFailure(namespace, where, FIELD_KV_KEY, str(exc)), _value_unchecked(namespace, where)]
    try:
        sealer.open_values([key], [row])
    except IntegrityError as exc:
        return [VerifyFailure(namespace, where, FIELD_KV_VALUE, str(exc))]
    return []


def _value_unchecked(namespace: str, where: str) -> VerifyFailure:
    from vecvault.kv import FIELD_KV_VALUE

    return VerifyFailure(namespace, where, FIELD_KV_VALUE, "not checked: its key does not open")


def _check_field(
    core: VaultCore, collection: str, dim: int, record_id: str, field: str, blob: Any, rev: Any
) -> str | None:
    try:
        if blob is None:
            raise IntegrityError("the stored value is NULL, not a sealed value")
        if not isinstance(blob, bytes):
            raise IntegrityError("the stored value is not a sealed value")
        plain = core.keys.keyset.open(blob, FieldContext(core.keys.vault_id, collection, record_id, field, rev))
        if field == FIELD_TEXT:
            plain.decode()
        elif field == FIELD_METADATA:
            decode_metadata(plain)
        else:
            decode_vector(plain, dim)
    except UnicodeDecodeError:
        return "the text is not UTF-8"
    except IntegrityError as exc:
        return str(exc)
    return None
