"""Key lifecycle: data-key rotation, master-key rotation, file-encryption changes, shredding, verification.

The stable import path of these operations; each lives in its own module of :mod:`vecvault.ops`.

Every operation here keeps the vault readable at every instant and survives a crash at any point; running
the same operation again after a crash finishes it.

- **Data-key rotation** (:func:`rotate_data_keys`): a fresh primary data key for a collection, then every
  record is re-sealed under it in batches, one transaction per batch, each record updated with a
  compare-and-swap on ``(key_id, rev)`` so a concurrent writer always wins. Which records to re-seal is
  read from the key ids in their sealed fields' headers, never from the plaintext ``key_id`` column. The
  old keys are destroyed only in a transaction that first opens every sealed field of the collection and
  finds each one authenticated under a key that stays (no write can slip in between); a field that does
  not open stops the rotation with an IntegrityError naming its record, and nothing is destroyed. A second
  run after a crash sees the keys still enabled and resumes instead of starting over.
- **Format upgrade** (:func:`upgrade_legacy_keys`, run by ``Vault.open``): a vault that still has legacy
  (v1) data keys re-seals those scopes by the same rotation, into field format v2 under fresh v2 keys, and
  destroys the legacy keys (see :mod:`vecvault.crypto`).
- **Master-key rotation** (:func:`rotate_master_key`): the data keys are re-wrapped under the new master's
  key-encryption key and the file's page encryption is re-keyed, in one libSQL transaction (measured: a
  ``PRAGMA rekey`` inside a transaction commits or rolls back together with it). No record is rewritten.
  The new master must be stored by its provider *before* the vault stops accepting the old one; this
  function obtains it from the new provider first, creating it there only if it is absent.
- **File encryption** (:func:`set_file_encryption`): turn libSQL page encryption on or off in place.
- **Shredding** (:func:`shred`, :func:`shred_all`): destroy data keys and delete their records.
- **Verification** (:func:`verify`): open every sealed field of every record, under the record's write
  version; report what fails.

A stored HNSW graph sealed under a key that is destroyed (rotation, shred) is deleted with it: it is only
a cache, rebuilt from the records.

A crash in the middle of a file re-key leaves a rollback journal (``<vault>-journal``) written under the
*old* file key, while page 1 of the file may already be under the new one. Opening a hot journal under
another key corrupts the vault (measured on libsql 0.1.x), so every open first reads the journal's copy of
page 1 (:mod:`vecvault.file_layer`) and plays it back only under the key whose fingerprint it carries:
:meth:`Vault.open` does so by itself when it holds that key, and rerunning the interrupted command
(:func:`rotate_master_key`, :func:`set_file_encryption`) rolls back and finishes.
"""

from __future__ import annotations

from vecvault.ops.inventory import KeyInfo, key_info
from vecvault.ops.master import MasterRotation, rotate_master_key, set_file_encryption
from vecvault.ops.rotation import DEFAULT_BATCH_SIZE, RotationReport, rotate_data_keys, upgrade_legacy_keys
from vecvault.ops.shred import shred, shred_all
from vecvault.ops.verify import VerifyFailure, VerifyReport, verify

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "KeyInfo",
    "MasterRotation",
    "RotationReport",
    "VerifyFailure",
    "VerifyReport",
    "key_info",
    "rotate_data_keys",
    "rotate_master_key",
    "set_file_encryption",
    "shred",
    "shred_all",
    "upgrade_legacy_keys",
    "verify",
]
