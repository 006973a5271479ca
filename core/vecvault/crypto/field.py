"""The sealed-field format: header, AAD and write version of one record field."""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Any

from vecvault.crypto.aead import _LENGTH, NONCE_BYTES, TAG_BYTES, _length_prefixed
from vecvault.errors import ConfigurationError, IntegrityError

FIELD_FORMAT_V1 = 0x01

FIELD_FORMAT_V2 = 0x02

HEADER_BYTES = 1 + 4

FIELD_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES

_AAD_TAG_FIELD = b"vecvault/field/v1"

_AAD_TAG_FIELD_V2 = b"vecvault/field/v2"

_MAX_REV = 2**63 - 1

_HEADER = struct.Struct(">BI")

_REV_PART = struct.Struct(">IQ")  # the length-prefixed write version: length 8, then rev


@dataclass(frozen=True)
class FieldContext:
    """Where a sealed value lives, and which write of its record it belongs to; bound into its AAD.

    ``rev`` is the write version: the collection revision of the write, the same for every field of one
    write of a record (v1 fields predate it and ignore it).
    """

    vault_id: bytes
    collection: str
    record_id: str
    field: str
    rev: int


def encode_aad(header: bytes, context: FieldContext) -> bytes:
    """Return the AAD of a sealed field: every part length-prefixed, so no two contexts collide.

    The parts are: format tag, header, vault id, collection, write version (v2 only, 8 bytes), record id,
    field name. The header's first byte says the format.
    """
    record_id = context.record_id.encode()
    field_name = context.field.encode()
    if header[:1] == bytes([FIELD_FORMAT_V1]):
        prefix = _aad_prefix_v1(header, context.vault_id, context.collection)
    else:
        prefix = _aad_prefix(header, context.vault_id, context.collection) + _rev_part(context.rev)
    return b"".join((prefix, _LENGTH.pack(len(record_id)), record_id, _LENGTH.pack(len(field_name)), field_name))


@functools.lru_cache(maxsize=1024)
def _aad_prefix(header: bytes, vault_id: bytes, collection: str) -> bytes:
    # The parts shared by every v2 field of a collection under one key, encoded once (a hot path on search);
    # the write version follows them.
    return _length_prefixed((_AAD_TAG_FIELD_V2, header, vault_id, collection.encode()))


@functools.lru_cache(maxsize=1024)
def _aad_prefix_v1(header: bytes, vault_id: bytes, collection: str) -> bytes:
    return _length_prefixed((_AAD_TAG_FIELD, header, vault_id, collection.encode()))


def _rev_part(rev: Any) -> bytes:
    """The length-prefixed write version; a stored rev that is not a plausible one never opens anything."""
    if type(rev) is not int or not 0 <= rev <= _MAX_REV:
        raise IntegrityError("A record's write version (rev) is not a valid revision; the vault was altered.")
    return _REV_PART.pack(8, rev)


def _check_rev(rev: Any) -> bytes:
    """The write version part of a new value's AAD; a bad one is the caller's mistake (ConfigurationError)."""
    try:
        return _rev_part(rev)
    except IntegrityError:
        raise ConfigurationError(f"A write version must be an int between 0 and 2^63 - 1, not {rev!r}.") from None
