"""Encrypted, authenticated export and import of a whole vault (the stable import path).

Implemented in :mod:`vecvault.ops.backup`, which documents the bundle format.
"""

from __future__ import annotations

from vecvault.ops.backup import (
    BUNDLE_MAGIC,
    BUNDLE_VERSION,
    BundleReport,
    export_vault,
    import_bundle,
    read_bundle_header,
)

__all__ = ["BUNDLE_MAGIC", "BUNDLE_VERSION", "BundleReport", "export_vault", "import_bundle", "read_bundle_header"]
