"""Child process of ``bench_open.py``: one fresh-interpreter measurement of a vault open or of its floor.

Usage (by ``bench_open.py``; the master key comes in ``VECVAULT_BENCH_MASTER`` (hex), never in argv)::

    python open_probe.py vault LOCATION DIM
        # Vault.open(LOCATION) + vault.collection("bench") (its stored index mode) + the first search(k=10)

    python open_probe.py wire URL
        # fetch the stored snapshot's blobs over a server URL, 16 per statement (the transfer alone)

    python open_probe.py floor PATH RECORDS DIM FILE_ENCRYPTED GRAPH_BYTES READ_BYTES
        # read PATH (and PATH-wal) once in 8 MiB reads, up to READ_BYTES in all (the records' share of the
        # file: its size without the stored snapshot); one AES-256-CBC pass over those bytes when
        # FILE_ENCRYPTED is 1; one AES-256-GCM decrypt pass over RECORDS * DIM * 4 + GRAPH_BYTES bytes

The floor needs no key of the vault: it times the same amount of physical work (bytes read, bytes through
AES) with random keys. Its GCM input (4 MiB chunks sealed with ``AESGCM``) is prepared before the clock
starts; only the reads, the CBC pass and the ``decrypt_into`` calls (into one preallocated buffer) are timed.

Prints one JSON line: ``seconds`` and its parts, RSS after imports (``rss_before``), RSS after
(``rss_after``) and the peak RSS (``peak``) in MiB, and which ``vecvault`` was imported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import common

READ_CHUNK = 8 << 20  # bytes per read() of the database file
GCM_CHUNK = 4 << 20  # plaintext bytes per sealed GCM chunk
GCM_TAG = 16
COLLECTION = "bench"
K = 10


def probe_vault(location: str, dim: int) -> dict[str, Any]:
    """Open the vault, its ``bench`` collection and run one exact top-10 search; time the three together.

    Args:
        location: the vault's file path or server URL.
        dim: the collection's dimension (for the query vector).

    Returns:
        The timings (s), the RSS figures (MiB), the hit count and the imported vecvault's path.
    """
    t_imp = time.perf_counter()
    import vecvault
    from vecvault import Vault

    import_s = time.perf_counter() - t_imp
    key = bytes.fromhex(os.environ["VECVAULT_BENCH_MASTER"])
    query = common.clustered_vectors(1, dim, part=1)[0]
    before = common.rss_mib()
    t0 = time.perf_counter()
    vault = Vault.open(location, key=key)
    t1 = time.perf_counter()
    col = vault.collection(COLLECTION)
    t2 = time.perf_counter()
    hits = col.search(query, k=K)
    t3 = time.perf_counter()
    out: dict[str, Any] = {
        "seconds": t3 - t0,
        "open_s": t1 - t0,
        "collection_s": t2 - t1,
        "search_s": t3 - t2,
        "import_s": import_s,
        "hits": len(hits),
        "rss_before": before,
        "rss_after": common.rss_mib(),
        "peak": common.peak_rss_mib(),
        "vecvault": os.path.dirname(vecvault.__file__),
    }
    graphs = getattr(col, "_graphs", None)  # which path served (private: read after the clock, best effort)
    out["index_mode"] = getattr(graphs, "mode", None)
    out["graph_loaded"] = getattr(graphs, "graph", None) is not None
    snapshots = getattr(getattr(col, "_mirror", None), "snapshots", None)
    out["snapshot_served"] = bool(getattr(snapshots, "loaded_from_snapshot", False))
    vault.close()
    return out


def seal_buffer(total: int, aead: Any) -> list[tuple[bytes, bytes]]:
    """``total`` bytes of random plaintext sealed in ``GCM_CHUNK`` pieces: (nonce, ciphertext + tag) pairs."""
    plain = os.urandom(min(GCM_CHUNK, max(total, 1)))
    sealed = []
    for offset in range(0, total, GCM_CHUNK):
        size = min(GCM_CHUNK, total - offset)
        nonce = os.urandom(12)
        sealed.append((nonce, aead.encrypt(nonce, plain[:size], None)))
    return sealed


def database_files(path: str) -> list[str]:
    """The database file and its ``-wal`` sibling when that holds anything."""
    out = [path]
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        out.append(wal)
    return out


def probe_floor(
    path: str, records: int, dim: int, file_encrypted: bool, graph_bytes: int, read_bytes: int
) -> dict[str, Any]:
    """The physical floor of an open: read the file once, CBC over it (file encryption), GCM over the vectors.

    Args:
        path: the vault's database file.
        records: records in the collection (the GCM pass covers ``records * dim * 4`` bytes).
        dim: the vector dimension.
        file_encrypted: whether to add the AES-256-CBC pass over every byte read.
        graph_bytes: extra GCM bytes (a stored HNSW graph), 0 for an exact collection.
        read_bytes: how many bytes of the files to read (the vault before its snapshot was stored: the
            snapshot is vecvault's own addition, not part of the data an open must at least read).

    Returns:
        The timings (s) of the whole and its three parts, the byte counts and the RSS figures (MiB).
    """
    import numpy as np
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    before = common.rss_mib()
    gcm_bytes = records * dim * 4 + graph_bytes
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    sealed = seal_buffer(gcm_bytes, aead)
    # Allocated, not touched: its pages fault in during the decrypts, as the vault's matrix does in its open.
    matrix = np.empty(gcm_bytes, dtype=np.uint8)
    target = matrix.data  # a writable memoryview of the buffer
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    cbc_out = bytearray(READ_CHUNK + 16)
    cbc_key, cbc_iv = os.urandom(32), os.urandom(16)
    files = database_files(path)
    file_bytes = 0
    read_s = cbc_s = 0.0
    t0 = time.perf_counter()
    for name in files:
        decryptor = Cipher(algorithms.AES(cbc_key), modes.CBC(cbc_iv)).decryptor() if file_encrypted else None
        with open(name, "rb", buffering=0) as fh:
            while file_bytes < read_bytes:
                ta = time.perf_counter()
                got = fh.readinto(view[: min(READ_CHUNK, read_bytes - file_bytes)])
                tb = time.perf_counter()
                read_s += tb - ta
                if not got:
                    break
                file_bytes += got
                if decryptor is not None:
                    decryptor.update_into(view[:got], cbc_out)
                    cbc_s += time.perf_counter() - tb
    t1 = time.perf_counter()
    offset = 0
    for nonce, blob in sealed:
        size = len(blob) - GCM_TAG
        aead.decrypt_into(nonce, blob, None, target[offset : offset + size])
        offset += size
    t2 = time.perf_counter()
    out: dict[str, Any] = {
        "seconds": t2 - t0,
        "read_s": read_s,
        "cbc_s": cbc_s,
        "gcm_s": t2 - t1,
        "file_bytes": file_bytes,
        "files": len(files),
        "gcm_bytes": gcm_bytes,
        "rss_before": before,
        "rss_after": common.rss_mib(),
        "peak": common.peak_rss_mib(),
    }
    return out


def probe_wire(url: str) -> dict[str, Any]:
    """The transfer alone: fetch the stored snapshot's blobs over ``url``, 16 per statement, nothing opened.

    What a remote open cannot go below with this binding and protocol (Hrana over HTTP: JSON, base64).
    """
    import libsql

    before = common.rss_mib()
    t0 = time.perf_counter()
    conn = libsql.connect(url, auth_token="")
    numbers = [
        r[0] for r in conn.execute("SELECT chunk FROM vv_snapshots WHERE collection = ?", (COLLECTION,)).fetchall()
    ]
    total = 0
    for start in range(0, len(numbers), 16):
        rows = conn.execute(
            "SELECT blob FROM vv_snapshots WHERE collection = ? AND chunk >= ? AND chunk < ?",
            (COLLECTION, start, start + 16),
        ).fetchall()
        total += sum(len(r[0]) for r in rows)
    seconds = time.perf_counter() - t0
    conn.close()
    return {"seconds": seconds, "bytes": total, "rss_before": before, "peak": common.peak_rss_mib()}


def main() -> None:
    """Run one probe and print its JSON line."""
    mode = sys.argv[1]
    if mode == "vault":
        result = probe_vault(sys.argv[2], int(sys.argv[3]))
    elif mode == "wire":
        result = probe_wire(sys.argv[2])
    elif mode == "floor":
        path, records, dim, enc, graph, read_bytes = sys.argv[2:8]
        result = probe_floor(path, int(records), int(dim), enc == "1", int(graph), int(read_bytes))
    else:
        raise SystemExit(f"unknown probe {mode!r}: expected 'vault' or 'floor'")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
