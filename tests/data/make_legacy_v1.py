"""How ``legacy-v1.db`` was made: a vault written by vecvault before field format v2 (no write version).

Run with a checkout from before format v2 on the path (it was made at commit 925e8be)::

    PYTHONPATH=<old checkout>/core python tests/data/make_legacy_v1.py tests/data/legacy-v1.db

Master key ``bytes(range(32))``, no file encryption, pages shrunk to 1 KiB so the file stays small.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys

import numpy as np

from vecvault import Vault


def main(out: str) -> None:
    tmp = out + ".tmp"
    for path in (tmp, tmp + "-wal", tmp + "-shm", out):
        if os.path.exists(path):
            os.unlink(path)
    rng = np.random.default_rng(12)
    with Vault.open(tmp, key=bytes(range(32)), file_encryption=False) as vault:
        notes = vault.collection("notes", dim=4)
        ids = [f"n{i}" for i in range(40)]
        notes.add(
            texts=[f"note {i} v1" for i in range(40)],
            vectors=rng.random((40, 4)),
            metadatas=[{"i": i, "acl": "public"} for i in range(40)],
            ids=ids,
        )
        vault.rotate_data_keys("notes")  # a destroyed key, and records re-sealed
        notes.add(
            texts=[f"note {i} v2" for i in range(10)],
            vectors=rng.random((10, 4)),
            metadatas=[{"i": i, "acl": "private"} for i in range(10)],
            ids=ids[:10],
        )
        notes.delete(["n39"])
        docs = vault.collection("docs", dim=3, metric="euclidean")
        docs.add(texts=["a", "b", "c"], vectors=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], ids=["a", "b", "c"])
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.close()
    shutil.move(tmp, out)
    for path in (tmp + "-wal", tmp + "-shm"):
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main(sys.argv[1])
