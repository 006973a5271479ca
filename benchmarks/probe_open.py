"""Child process of the benchmarks: time opening a vault (or its physical floor) in a fresh interpreter.

Usage (by bench_core.py; the key material comes in environment variables, never argv)::

    python probe_open.py vault PATH COLLECTION    # Vault.open + collection + first search (loads the index;
                                                  # VECVAULT_BENCH_INDEX=hnsw loads the stored graph too)
    python probe_open.py floor PATH COLLECTION    # raw SELECT of the sealed vectors + AES-GCM decrypt loop

Prints one JSON line: seconds, RSS before (after imports) and after, peak RSS (MiB).
"""

from __future__ import annotations

import json
import os
import sys
import time

import common


def _vault(path: str, name: str) -> dict[str, float]:
    import numpy as np

    from vecvault import Vault

    key = bytes.fromhex(os.environ["VECVAULT_BENCH_MASTER"])
    query = np.ones(int(os.environ.get("VECVAULT_BENCH_DIM", "384")), dtype=np.float32)
    before = common.rss_mib()
    t0 = time.perf_counter()
    vault = Vault.open(path, key=key)
    col = vault.collection(name, index=os.environ.get("VECVAULT_BENCH_INDEX", "exact"))
    col.search(query, k=10)
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "rss_before": before, "rss_after": common.rss_mib(), "peak": common.peak_rss_mib()}
    vault.close()
    return out


def _floor(path: str, name: str) -> dict[str, float]:
    import libsql
    import numpy as np
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from vecvault.crypto import FieldContext, encode_aad

    data_key = bytes.fromhex(os.environ["VECVAULT_BENCH_DATA_KEY"])
    file_key = os.environ.get("VECVAULT_BENCH_FILE_KEY") or None
    vault_id = bytes.fromhex(os.environ["VECVAULT_BENCH_VAULT_ID"])
    dim = int(os.environ.get("VECVAULT_BENCH_DIM", "384"))
    before = common.rss_mib()
    t0 = time.perf_counter()
    kwargs = {"encryption_key": file_key} if file_key else {}
    conn = libsql.connect(path, **kwargs)
    rows = conn.execute("SELECT id, rev, vector FROM vv_records WHERE collection = ?", (name,)).fetchall()
    aead = AESGCM(data_key)
    matrix = np.empty((len(rows), dim), dtype=np.float32)
    for i, (record_id, rev, blob) in enumerate(rows):
        aad = encode_aad(blob[:5], FieldContext(vault_id, name, record_id, "vector", rev))
        matrix[i] = np.frombuffer(aead.decrypt(blob[5:17], blob[17:], aad), dtype=np.float32)
    seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "rss_before": before, "rss_after": common.rss_mib(), "peak": common.peak_rss_mib()}
    conn.close()
    return out


def main() -> None:
    """Run one probe and print its JSON line."""
    mode, path, name = sys.argv[1:4]
    result = _vault(path, name) if mode == "vault" else _floor(path, name)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
