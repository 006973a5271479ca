"""Sealed fields, the data-key set and key derivation. Pure: no I/O, no database, no globals.

Key hierarchy::

    master key (32 bytes, from a KeyProvider)
      └─ KEK = HKDF-SHA256(master, salt=vault_id, info="vecvault/v1/kek")
           └─ data keys (32 random bytes each, stored wrapped under the KEK, AAD = tag ‖ vault_id ‖ key_id)
                └─ per-purpose subkeys = HKDF-SHA256(data key, info="vecvault/v1/<purpose>")

Field format v2 (one sealed value)::

    0x02 ‖ key_id (4 bytes, big-endian) ‖ nonce (12 bytes, random) ‖ ciphertext ‖ tag (16 bytes)

The AAD binds, each length-prefixed: the format tag, the 5-byte header, the vault id, the collection, the
write version ``rev`` (8 bytes, big-endian), the record id and the field name. So a value moved to another
field, record, collection or vault fails to open, and so does a value put beside fields of another write of
the same record: the three fields of one write (text, metadata, vector) carry the same ``rev``, the
collection's revision of that write, stored beside them in plaintext and strictly increasing per
collection, so a combination of fields that was never written together does not open. Every failure to
open a field raises the same :class:`~vecvault.errors.IntegrityError`.

Field format v1 (written before the write version existed) has the same layout with ``0x01`` and an AAD
without ``rev``. It is only ever opened, never written: see *Key formats* below.

**Key formats.** A data key has a format, authenticated by its wrapping (the wrap AAD's tag differs:
``vecvault/datakey-wrap/v1`` or ``/v2``), so nobody without the KEK can change it. A v2 key seals and
opens v2 fields only; a legacy (v1) key opens v1 fields only and never seals again. So a v2 field can never
be passed off as a v1 one (no key opens both), and once a vault's legacy keys are destroyed no v1 field
opens at all. A vault that still has live legacy keys re-seals every record under fresh v2 keys when it is
opened (the resumable data-key rotation of :mod:`vecvault.lifecycle`), then destroys the legacy keys.

**What the seals do not stop.** Someone who can write the file can put back an earlier write of a record
*whole*: its three sealed fields together with its plaintext ``rev`` and ``key_id``, as long as that
write's data key is alive. That is a write that happened, so it opens (whole-record rollback; the same goes
for deleting records, or putting back a copy of the whole file). Only combinations never written are refused.

Modules: :mod:`~vecvault.crypto.kdf` (key derivation), :mod:`~vecvault.crypto.aead` (the primitive and
the AAD encoding), :mod:`~vecvault.crypto.field` (the field format), :mod:`~vecvault.crypto.keyset` (data
keys, wrapping, sealing and opening) and :mod:`~vecvault.crypto.chunked` (large values in sealed chunks).
"""

from __future__ import annotations

from vecvault.crypto.aead import NONCE_BYTES, TAG_BYTES, Aead
from vecvault.crypto.field import (
    FIELD_FORMAT_V1,
    FIELD_FORMAT_V2,
    FIELD_OVERHEAD,
    HEADER_BYTES,
    FieldContext,
    encode_aad,
)
from vecvault.crypto.kdf import KEY_BYTES, check_master_key, derive_file_key, derive_kek, derive_subkey
from vecvault.crypto.keyset import (
    KEY_FORMAT_LEGACY,
    KEY_FORMAT_V2,
    MAX_ENCRYPTIONS_PER_KEY,
    DataKey,
    Keyset,
    KeyState,
    unwrap_data_key,
    unwrap_data_key_with_format,
    wrap_data_key,
)

__all__ = [
    "FIELD_FORMAT_V1",
    "FIELD_FORMAT_V2",
    "FIELD_OVERHEAD",
    "HEADER_BYTES",
    "KEY_BYTES",
    "KEY_FORMAT_LEGACY",
    "KEY_FORMAT_V2",
    "MAX_ENCRYPTIONS_PER_KEY",
    "NONCE_BYTES",
    "TAG_BYTES",
    "Aead",
    "DataKey",
    "FieldContext",
    "KeyState",
    "Keyset",
    "check_master_key",
    "derive_file_key",
    "derive_kek",
    "derive_subkey",
    "encode_aad",
    "unwrap_data_key",
    "unwrap_data_key_with_format",
    "wrap_data_key",
]
