"""Export bundles: round trips under the same and a new key, and every kind of tampering refused."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vecvault import IntegrityError, Vault, WrongKeyError
from vecvault.backup import BUNDLE_MAGIC, export_vault, import_bundle, read_bundle_header
from vecvault.errors import ConfigurationError
from vecvault.keys import StaticKeyProvider
from vecvault.keys.passphrase_provider import MINIMUM_ARGON2_PARAMS

DIM = 4
CANARY = "canary-bundle-91c2"


@pytest.fixture
def key() -> StaticKeyProvider:
    return StaticKeyProvider.generate()


@pytest.fixture
def source(tmp_path: Path, key: StaticKeyProvider) -> Iterator[Vault]:
    vault = Vault.open(tmp_path / "src.db", key=key)
    try:
        rng = np.random.default_rng(1)
        notes = vault.collection("notes", dim=DIM, metric="dot", model="tiny")
        notes.add(
            texts=[f"{CANARY} {i} é" for i in range(300)],
            vectors=rng.random((300, DIM)),
            metadatas=[{"i": i, "tags": ["a", str(i % 3)], "nested": {"x": i / 7}} for i in range(300)],
            ids=[f"n{i}" for i in range(300)],
        )
        vault.collection("empty", dim=3, metric="euclidean")
        yield vault
    finally:
        vault.close()


def _names(folder: Path) -> list[str]:
    """Files in the folder, apart from the (open) source vault and its WAL."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("src.db"))


def _snapshot(vault: Vault) -> dict[str, object]:
    out: dict[str, object] = {}
    for info in vault.collection_info():
        col = vault.collection(info.name, metric=info.metric)
        out[info.name] = (
            (info.dim, info.metric, info.vectors, info.model, info.count),
            sorted((r.id, r.text, repr(r.metadata), r.vector.tobytes()) for r in col.get()),
        )
    return out


@pytest.fixture
def bundle(tmp_path: Path, source: Vault) -> Path:
    path = tmp_path / "b.vvb"
    report = export_vault(source, path, chunk_size=1024)  # small chunks: many of them to reorder
    assert (report.collections, report.records) == (2, 300)
    return path


def test_round_trip_same_key(tmp_path: Path, source: Vault, bundle: Path, key) -> None:
    assert CANARY.encode() not in bundle.read_bytes()
    calls: list[tuple[int, int]] = []
    report = import_bundle(bundle, tmp_path / "copy.db", key=key, progress=lambda d, t: calls.append((d, t)))
    assert (report.collections, report.records) == (2, 300)
    assert calls[-1] == (300, 300)
    with Vault.open(tmp_path / "copy.db", key=key, create=False) as copy:
        assert _snapshot(copy) == _snapshot(source)
        assert copy.vault_id != source.vault_id  # a new vault with its own data keys
        assert copy.verify().ok
        assert copy.file_encrypted
    assert _names(tmp_path) == ["b.vvb", "copy.db"]


def test_round_trip_new_key_and_passphrase(tmp_path: Path, source: Vault, bundle: Path, key) -> None:
    new = StaticKeyProvider.generate()
    with pytest.raises(WrongKeyError):
        import_bundle(bundle, tmp_path / "x.db", key=new)  # bundle sealed under the old key
    assert not (tmp_path / "x.db").exists()
    import_bundle(bundle, tmp_path / "new.db", key=new, bundle_key=key, file_encryption=False)
    with Vault.open(tmp_path / "new.db", key=new, create=False) as copy:
        assert _snapshot(copy) == _snapshot(source)
        assert not copy.file_encrypted
    with pytest.raises(WrongKeyError):
        Vault.open(tmp_path / "new.db", key=key, create=False)
    pbundle = tmp_path / "p.vvb"
    export_vault(source, pbundle, passphrase="correct horse battery", argon2_params=MINIMUM_ARGON2_PARAMS)
    assert read_bundle_header(pbundle)["kdf"]["kind"] == "argon2id"
    with pytest.raises(WrongKeyError):
        import_bundle(pbundle, tmp_path / "p.db", key=new, passphrase="wrong horse")
    with pytest.raises(ConfigurationError, match="passphrase"):
        import_bundle(pbundle, tmp_path / "p.db", key=new)
    import_bundle(pbundle, tmp_path / "p.db", key=new, passphrase="correct horse battery")
    with Vault.open(tmp_path / "p.db", key=new, create=False) as copy:
        assert _snapshot(copy) == _snapshot(source)


def test_export_and_import_never_overwrite(tmp_path: Path, source: Vault, bundle: Path, key) -> None:
    with pytest.raises(ConfigurationError, match="never overwrites"):
        export_vault(source, bundle)
    with pytest.raises(ConfigurationError, match="exists"):
        import_bundle(bundle, tmp_path / "src.db", key=key)


def test_rerunning_a_finished_import_reports_it_done_and_never_overwrites(
    tmp_path: Path, source: Vault, bundle: Path, key
) -> None:
    target = tmp_path / "copy.db"
    import_bundle(bundle, target, key=key)
    before = target.read_bytes()
    report = import_bundle(bundle, target, key=key)  # as after a kill between publishing and exiting
    assert (report.collections, report.records) == (2, 300)
    assert target.read_bytes() == before
    other = tmp_path / "other.vvb"
    export_vault(source, other)
    with pytest.raises(ConfigurationError, match="exists"):
        import_bundle(other, target, key=key)  # another bundle: the target is not its import
    with pytest.raises(ConfigurationError, match="exists"):
        import_bundle(bundle, target, key=StaticKeyProvider.generate(), bundle_key=key)  # a key that does not open it


def _chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    (hlen,) = struct.unpack(">I", data[8:12])
    start = 12 + hlen + 32
    out, pos = [], start
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append(data[pos : pos + 4 + n])
        pos += 4 + n
    return data[:start], out


def _tamper_cases(data: bytes) -> dict[str, bytes]:
    head, chunks = _chunks(data)
    assert len(chunks) > 10
    flip_body = bytearray(data)
    flip_body[len(head) + 100] ^= 0x01
    flip_header = bytearray(data)
    flip_header[20] ^= 0x01
    flip_tag = bytearray(data)
    flip_tag[-1] ^= 0x80
    return {
        "flip a body byte": bytes(flip_body),
        "flip a header byte": bytes(flip_header),
        "flip the last tag byte": bytes(flip_tag),
        "truncate mid-chunk": data[:-7],
        "drop the final chunk": head + b"".join(chunks[:-1]),
        "drop a middle chunk": head + b"".join(chunks[:3] + chunks[4:]),
        "swap two chunks": head + b"".join([chunks[1], chunks[0], *chunks[2:]]),
        "duplicate a chunk": head + b"".join([chunks[0], *chunks]),
        "append data": data + b"\x00\x00\x00\x10" + b"x" * 16,
        "only the header": head,
        "bad magic": b"X" + data[1:],
    }


@pytest.mark.parametrize(
    "case",
    [
        "flip a body byte",
        "flip a header byte",
        "flip the last tag byte",
        "truncate mid-chunk",
        "drop the final chunk",
        "drop a middle chunk",
        "swap two chunks",
        "duplicate a chunk",
        "append data",
        "only the header",
        "bad magic",
    ],
)
def test_tampered_bundle_is_refused_and_nothing_imported(tmp_path: Path, bundle: Path, key, case: str) -> None:
    bad = tmp_path / "bad.vvb"
    bad.write_bytes(_tamper_cases(bundle.read_bytes())[case])
    with pytest.raises(IntegrityError):
        import_bundle(bad, tmp_path / "restored.db", key=key)
    assert _names(tmp_path) == ["b.vvb", "bad.vvb"]


def test_bundle_starts_with_magic_and_hides_content(bundle: Path) -> None:
    data = bundle.read_bytes()
    assert data.startswith(BUNDLE_MAGIC)
    assert CANARY.encode() not in data
    assert b"nested" not in data
    assert b"tiny" not in data
    header = read_bundle_header(bundle)
    assert header["version"] == 1
    assert header["kdf"] == {"kind": "master"}
    assert "key_check" not in header
