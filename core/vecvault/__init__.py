"""vecvault: an encrypted, local-first vector store on libSQL.

Text, metadata and embeddings are sealed with AES-256-GCM before they reach the database and opened only
in the process that holds the key. Start with :meth:`Vault.open`:

```python
from vecvault import Vault

# The master key: VECVAULT_KEY if it is set, else the OS keychain (created there for a new vault).
with Vault.open("memories.db") as vault:
    notes = vault.collection("notes", dim=3)
    notes.add(texts=["hello"], vectors=[[0.1, 0.2, 0.3]])
    hits = notes.search([0.1, 0.2, 0.3], k=1)
```
"""

from __future__ import annotations

from vecvault.errors import (
    ConfigurationError,
    IntegrityError,
    KeyNotFoundError,
    KeyUnavailableError,
    NotAVaultError,
    SchemaVersionError,
    StorageError,
    UnsupportedFilterError,
    VaultKeyError,
    VecVaultError,
    WrongKeyError,
)
from vecvault.records import Hit, Record
from vecvault.vault import DEFAULT_K, Collection, CollectionInfo, Vault

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_K",
    "Collection",
    "CollectionInfo",
    "ConfigurationError",
    "Hit",
    "IntegrityError",
    "KeyNotFoundError",
    "KeyUnavailableError",
    "NotAVaultError",
    "Record",
    "SchemaVersionError",
    "StorageError",
    "UnsupportedFilterError",
    "Vault",
    "VaultKeyError",
    "VecVaultError",
    "WrongKeyError",
    "__version__",
]
