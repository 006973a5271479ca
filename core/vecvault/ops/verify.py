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


_FIELDS = (FIELD_TEXT, FIELD_METADATA, FIELD_VECTOR)

@dataclass(frozen=True)
class VerifyFailure:
    """A record field that does not open: where, and why (the error message; never a value)."""

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

    @property
    def ok(self) -> bool:
        """True when every sealed field opened."""
        return not self.failures

def verify(core: VaultCore, *, progress: ProgressCallback | None = None, batch_size: int = 2000) -> VerifyReport:
    """Open every sealed field of every record and check what it decodes to; never raises for a record.

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
        call_progress(progress, 0, total)
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
                call_progress(progress, records, max(total, records))
    return VerifyReport(len(configs), records, fields, tuple(failures))

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
