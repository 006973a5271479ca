"""The chunked format: every chunk bound to its kind, vault, collection, revision, position and save."""

from __future__ import annotations

import os

import pytest

from vecvault.crypto import DataKey, Keyset, chunked
from vecvault.errors import IntegrityError

VAULT = os.urandom(16)


@pytest.fixture
def keyset() -> Keyset:
    keys = Keyset()
    keys.add(DataKey.generate(keys.new_key_id(), scope="c"))
    return keys


def _seal(keyset: Keyset, parts: list[bytes], kind: chunked.ChunkKind = chunked.SNAPSHOT, rev: int = 7) -> list:
    key = keyset.primary_for("c")
    assert key is not None
    return list(chunked.seal_chunks(kind, key, VAULT, "c", rev, parts, len(parts)))


def _reader(keyset: Keyset, kind: chunked.ChunkKind = chunked.SNAPSHOT) -> chunked.ChunkReader:
    return chunked.ChunkReader(kind, keyset, VAULT, "c")


def test_chunks_open_in_order_and_at_random_into_buffers(keyset: Keyset) -> None:
    parts = [os.urandom(100 + i) for i in range(6)]
    chunks = _seal(keyset, parts)
    reader = _reader(keyset)
    assert reader.open(chunks[0]) == parts[0]
    for index in (4, 1, 5, 3, 2):
        out = bytearray(len(parts[index]))
        reader.open_at_into(chunks[index], memoryview(out))
        assert out == parts[index]
    reader.finish()
    assert reader.rev == 7 and reader.count == 6


@pytest.mark.parametrize(
    "damage",
    ["twice", "missing", "from another save", "moved", "another collection", "another kind", "wrong size"],
)
def test_every_misplaced_chunk_is_refused(keyset: Keyset, damage: str) -> None:
    parts = [os.urandom(64) for _ in range(4)]
    chunks = _seal(keyset, parts)
    other = _seal(keyset, parts)  # the same value saved again: another save id
    reader = _reader(keyset)
    reader.open(chunks[0])
    out = memoryview(bytearray(64))
    moved = chunks[2]
    attempts = {
        "twice": lambda: reader.open_at_into(chunks[1], out),
        "missing": reader.finish,
        "from another save": lambda: reader.open_at_into(other[2], out),
        "moved": lambda: reader.open_at_into(chunked.SealedChunk(1, 4, moved.rev, moved.key_id, moved.blob), out),
        "another collection": lambda: chunked.ChunkReader(chunked.SNAPSHOT, keyset, VAULT, "d").open(chunks[0]),
        "another kind": lambda: _reader(keyset, chunked.GRAPH).open(chunks[0]),
        "wrong size": lambda: reader.open_at_into(chunks[1], memoryview(bytearray(63))),
    }
    if damage == "twice":
        reader.open_at_into(chunks[1], out)
    if damage == "missing":
        for chunk in chunks[1:3]:
            reader.open_at_into(chunk, out)
    with pytest.raises(IntegrityError):
        attempts[damage]()


def test_a_later_chunk_under_another_key_is_refused_without_looking_keys_up(keyset: Keyset) -> None:
    chunks = _seal(keyset, [b"a" * 10, b"b" * 10])
    second = DataKey.generate(keyset.new_key_id(), scope="c")
    keyset.add(second)
    foreign = list(chunked.seal_chunks(chunked.SNAPSHOT, second, VAULT, "c", 7, [b"a" * 10, b"b" * 10], 2))
    # The other save's chunk wearing this save's (plaintext) save id, and a key this process does not know.
    save_id = chunks[0].blob[4 : 4 + chunked.SAVE_ID_BYTES]
    blob = (second.key_id + 1).to_bytes(4, "big") + save_id + foreign[1].blob[4 + chunked.SAVE_ID_BYTES :]
    disguised = chunked.SealedChunk(1, 2, 7, second.key_id + 1, blob)
    looked_up: list[int] = []
    keyset.on_unknown_key = looked_up.append
    reader = _reader(keyset)
    reader.open(chunks[0])
    with pytest.raises(IntegrityError):
        reader.open_at_into(disguised, memoryview(bytearray(10)))
    assert looked_up == []


def test_graph_chunks_keep_their_format(keyset: Keyset) -> None:
    key = keyset.primary_for("c")
    assert key is not None
    data = os.urandom(chunked.CHUNK_BYTES + 10)
    rev, opened = chunked.open_graph(keyset, VAULT, "c", chunked.seal_graph(key, VAULT, "c", 3, data))
    assert (rev, bytes(opened)) == (3, data)
