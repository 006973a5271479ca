"""The storage layer on both libSQL bindings: ``libsql`` (default) and ``libsql-experimental``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vecvault import ConfigurationError, IntegrityError, Vault, WrongKeyError

DRIVERS = ["libsql", "libsql_experimental"]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("file_encryption", [None, False])
def test_vault_round_trip_on_each_driver(
    tmp_path: Path, master_key: bytes, driver: str, file_encryption: bool | None
) -> None:
    path = tmp_path / "v.db"
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(40, 4)).astype(np.float32)
    with Vault.open(path, key=master_key, driver=driver, file_encryption=file_encryption) as vault:
        col = vault.collection("c", dim=4)
        col.add(
            texts=[f"t{i}" for i in range(40)],
            vectors=vectors,
            metadatas=[{"i": i} for i in range(40)],
            ids=[str(i) for i in range(40)],
        )
        assert col.search(vectors[7], k=1)[0].id == "7"
        assert {h.id for h in col.search(vectors[7], k=3, filter={"i": {"$gte": 38}})} == {"38", "39"}
        assert col.delete(ids=["7"]) == 1
        with pytest.raises(ConfigurationError):
            col.add(texts=["x"], vectors=[[1.0, 2.0]])
    with Vault.open(path, key=master_key, driver=driver) as vault:
        col = vault.collection("c")
        assert col.count() == 39
        assert col.get(["8"])[0].metadata == {"i": 8}
    with pytest.raises(WrongKeyError):
        Vault.open(path, key=os.urandom(32), driver=driver)


@pytest.mark.parametrize(("writer", "reader"), [DRIVERS, DRIVERS[::-1]])
def test_a_vault_written_by_one_driver_opens_with_the_other(
    tmp_path: Path, master_key: bytes, writer: str, reader: str
) -> None:
    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, driver=writer) as vault:
        vault.collection("c", dim=2).add(texts=["hello"], vectors=[[1.0, 0.0]], ids=["h"])
    with Vault.open(path, key=master_key, driver=reader) as vault:
        hit = vault.collection("c").search([1.0, 0.0], k=1)[0]
        assert (hit.id, hit.text) == ("h", "hello")


@pytest.mark.parametrize("driver", DRIVERS)
def test_tampering_is_caught_on_each_driver(tmp_path: Path, master_key: bytes, driver: str) -> None:
    import sqlite3

    path = tmp_path / "v.db"
    with Vault.open(path, key=master_key, driver=driver, file_encryption=False) as vault:
        vault.collection("c", dim=2).add(texts=["secret"], vectors=[[1.0, 0.0]], ids=["x"])
    con = sqlite3.connect(path)
    (blob,) = con.execute("SELECT vector FROM vv_records").fetchone()
    con.execute("UPDATE vv_records SET vector = ?", (blob[:-1] + bytes([blob[-1] ^ 1]),))
    con.commit()
    con.close()
    with Vault.open(path, key=master_key, driver=driver) as vault, pytest.raises(IntegrityError):
        vault.collection("c").search([1.0, 0.0], k=1)


def test_unknown_driver_names_the_choices(tmp_path: Path, master_key: bytes) -> None:
    with pytest.raises(ConfigurationError, match="Expected one of"):
        Vault.open(tmp_path / "v.db", key=master_key, driver="sqlite3")
