"""The sealed-field format: known answers, round trips, tamper detection and the key set."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from vecvault import crypto
from vecvault.crypto import (
    FIELD_FORMAT_V1,
    FIELD_FORMAT_V2,
    FIELD_OVERHEAD,
    KEY_FORMAT_LEGACY,
    KEY_FORMAT_V2,
    Aead,
    DataKey,
    FieldContext,
    Keyset,
    KeyState,
    derive_file_key,
    derive_kek,
    encode_aad,
    unwrap_data_key,
    unwrap_data_key_with_format,
    wrap_data_key,
)
from vecvault.errors import ConfigurationError, IntegrityError, WrongKeyError

WYCHEPROOF = Path(__file__).resolve().parents[2] / "data" / "wycheproof" / "aes_gcm_test.json"
VAULT_ID = bytes(range(16))
CTX = FieldContext(VAULT_ID, "notes", "rec-1", "text", 7)


def _wycheproof_cases(key_bits: int) -> list[dict[str, object]]:
    data = json.loads(WYCHEPROOF.read_text())
    cases = []
    for group in data["testGroups"]:
        if group["ivSize"] == 96 and group["keySize"] == key_bits and group["tagSize"] == 128:
            cases.extend(group["tests"])
    return cases


def _keyset(scope: str = "notes") -> Keyset:
    keyset = Keyset()
    keyset.add(DataKey.generate(keyset.new_key_id(), scope=scope))
    return keyset


# -- AES-256-GCM known answers (Wycheproof, 96-bit IVs) ---------------------------------------------------


@pytest.mark.parametrize("case", _wycheproof_cases(256), ids=lambda c: f"tc{c['tcId']}")
def test_wycheproof_aes256_gcm(case: dict[str, str]) -> None:
    aead = Aead(bytes.fromhex(case["key"]))
    nonce, aad = bytes.fromhex(case["iv"]), bytes.fromhex(case["aad"])
    sealed = bytes.fromhex(case["ct"]) + bytes.fromhex(case["tag"])
    if case["result"] == "valid":
        assert aead.encrypt(nonce, bytes.fromhex(case["msg"]), aad) == sealed
        assert aead.decrypt(nonce, sealed, aad) == bytes.fromhex(case["msg"])
    else:
        with pytest.raises(IntegrityError):
            aead.decrypt(nonce, sealed, aad)


def test_wycheproof_has_cases() -> None:
    cases = _wycheproof_cases(256)
    assert len(cases) > 50
    assert {c["result"] for c in cases} == {"valid", "invalid"}


@pytest.mark.parametrize("bits", [128, 192])
def test_aead_refuses_short_keys(bits: int) -> None:
    key = bytes.fromhex(_wycheproof_cases(bits)[0]["key"])
    with pytest.raises(ConfigurationError):
        Aead(key)


# -- field format -----------------------------------------------------------------------------------------


def test_known_answer_with_injected_nonce() -> None:
    material = bytes(range(32))
    key = DataKey(key_id=0x01020304, state=KeyState.PRIMARY, scope="notes", material=material)
    keyset = Keyset([key])
    nonce = bytes(12)
    blob = keyset._seal_from_parts(key, b"hello", CTX, nonce)
    # Header, nonce, then AES-GCM under the HKDF row-seal subkey with the documented AAD.
    assert blob[:5] == bytes([FIELD_FORMAT_V2, 1, 2, 3, 4])
    assert blob[5:17] == nonce
    expected = Aead(crypto.derive_subkey(material, "row-seal")).encrypt(nonce, b"hello", encode_aad(blob[:5], CTX))
    assert blob[17:] == expected
    assert len(blob) == FIELD_OVERHEAD + 5
    assert keyset.open(blob, CTX) == b"hello"


def test_aad_is_length_prefixed_so_contexts_do_not_collide() -> None:
    a = encode_aad(b"\x02head", FieldContext(VAULT_ID, "ab", "c", "text", 1))
    b = encode_aad(b"\x02head", FieldContext(VAULT_ID, "a", "bc", "text", 1))
    assert a != b


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=40))
def test_round_trip(plaintext: bytes, collection: str, record_id: str) -> None:
    keyset = _keyset(collection)
    ctx = FieldContext(VAULT_ID, collection, record_id, "metadata", 1)
    assert keyset.open(keyset.seal(plaintext, ctx), ctx) == plaintext


def test_every_single_byte_flip_is_rejected() -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret text of a record", CTX)
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[i] ^= bit
            with pytest.raises(IntegrityError):
                keyset.open(bytes(tampered), CTX)


def test_every_truncation_and_extension_is_rejected() -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret text", CTX)
    for n in range(len(blob)):
        with pytest.raises(IntegrityError):
            keyset.open(blob[:n], CTX)
    with pytest.raises(IntegrityError):
        keyset.open(blob + b"\x00", CTX)


@pytest.mark.parametrize(
    "moved",
    [
        FieldContext(VAULT_ID, "notes", "rec-2", "text", 7),  # another row
        FieldContext(VAULT_ID, "notes", "rec-1", "metadata", 7),  # another column
        FieldContext(bytes(16), "notes", "rec-1", "text", 7),  # another vault
        FieldContext(VAULT_ID, "notes", "rec-1", "text", 8),  # beside the fields of another write
        FieldContext(VAULT_ID, "notes", "rec-1", "text", 6),
    ],
)
def test_a_field_moved_elsewhere_is_rejected(moved: FieldContext) -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret", CTX)
    with pytest.raises(IntegrityError):
        keyset.open(blob, moved)


def test_a_field_moved_to_another_collection_is_rejected() -> None:
    keyset = _keyset("notes")
    keyset.add(DataKey.generate(keyset.new_key_id(), scope="other"))
    blob = keyset.seal(b"secret", CTX)
    with pytest.raises(IntegrityError):
        keyset.open(blob, FieldContext(VAULT_ID, "other", "rec-1", "text", 7))


def test_unknown_version_and_key_id_are_typed_errors() -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret", CTX)
    with pytest.raises(IntegrityError, match="format version"):
        keyset.open(b"\x03" + blob[1:], CTX)
    with pytest.raises(IntegrityError, match="data key"):
        keyset.open(blob[:1] + struct.pack(">I", 7) + blob[5:], CTX)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_integrity_error(data: bytes) -> None:
    keyset = _keyset()
    with pytest.raises(IntegrityError):
        keyset.open(data, CTX)


def test_random_bytes_with_a_valid_header_raise_integrity_error() -> None:
    keyset = _keyset()
    header = struct.pack(">BI", FIELD_FORMAT_V2, keyset.primary("notes").key_id)
    for _ in range(200):
        with pytest.raises(IntegrityError):
            keyset.open(header + os.urandom(40), CTX)


def test_no_repeated_nonce_over_100k_seals() -> None:
    keyset = _keyset()
    nonces = {keyset.seal(b"x", CTX)[5:17] for _ in range(100_000)}
    assert len(nonces) == 100_000
    assert keyset.primary("notes").encryptions == 100_000


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=30), st.binary(max_size=300)),
        min_size=1,
        max_size=12,
        unique_by=lambda item: item[0],
    ),
    st.sampled_from(["text", "metadata", "vector"]),
)
def test_batch_sealing_equals_one_by_one_sealing(items: list[tuple[str, bytes]], field_name: str) -> None:
    keyset = _keyset()
    key = keyset.primary("notes")
    ids = [record_id for record_id, _ in items]
    nonces = os.urandom(12 * len(items))
    batch = keyset.seal_field_batch(
        key, VAULT_ID, "notes", ids, field_name, [p for _, p in items], rev=41, nonces=nonces
    )
    for i, (record_id, plaintext) in enumerate(items):
        ctx = FieldContext(VAULT_ID, "notes", record_id, field_name, 41)
        assert batch[i] == keyset._seal_from_parts(key, plaintext, ctx, nonces[12 * i : 12 * (i + 1)])
        assert keyset.open(batch[i], ctx) == plaintext


def test_batch_sealing_draws_fresh_nonces_counts_and_checks_its_key() -> None:
    keyset = _keyset()
    key = keyset.primary("notes")
    ids = [f"r{i}" for i in range(5000)]
    sealed = keyset.seal_field_batch(key, VAULT_ID, "notes", ids, "text", [b"x"] * 5000, rev=1)
    assert len({blob[5:17] for blob in sealed}) == 5000
    assert key.encryptions == 5000
    with pytest.raises(ConfigurationError, match="one per record"):
        keyset.seal_field_batch(key, VAULT_ID, "notes", ["a", "b"], "text", [b"x"], rev=1)
    with pytest.raises(ConfigurationError, match="another collection"):
        keyset.seal_field_batch(key, VAULT_ID, "other", ["a"], "text", [b"x"], rev=1)
    with pytest.raises(ConfigurationError, match="12 bytes"):
        keyset.seal_field_batch(key, VAULT_ID, "notes", ["a"], "text", [b"x"], rev=1, nonces=bytes(11))
    for bad in (-1, 2**63, "1", True, None):
        with pytest.raises(ConfigurationError, match="write version"):
            keyset.seal_field_batch(key, VAULT_ID, "notes", ["a"], "text", [b"x"], rev=bad)  # type: ignore[arg-type]
    key.state = KeyState.DISABLED
    with pytest.raises(ConfigurationError, match="cannot seal"):
        keyset.seal_field_batch(key, VAULT_ID, "notes", ["a"], "text", [b"x"], rev=1)


def test_destroyed_and_disabled_keys_do_not_open() -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret", CTX)
    key = keyset.primary("notes")
    key.state = KeyState.DISABLED
    with pytest.raises(IntegrityError):
        keyset.open(blob, CTX)
    key.state = KeyState.ENABLED
    assert keyset.open(blob, CTX) == b"secret"
    key.destroy()
    with pytest.raises(IntegrityError):
        keyset.open(blob, CTX)


def test_rotation_bound_is_checked() -> None:
    keyset = _keyset()
    keyset.primary("notes").encryptions = crypto.MAX_ENCRYPTIONS_PER_KEY - 3
    assert not keyset.needs_rotation("notes", 2)
    assert keyset.needs_rotation("notes", 3)


def test_a_new_primary_demotes_the_old_one_in_its_scope_only() -> None:
    keyset = _keyset("a")
    keyset.add(DataKey.generate(keyset.new_key_id(), scope="b"))
    old_a = keyset.primary("a")
    keyset.add(DataKey.generate(keyset.new_key_id(), scope="a"))
    assert old_a.state is KeyState.ENABLED
    assert keyset.primary("a") is not old_a
    assert keyset.primary("b").state is KeyState.PRIMARY


# -- key wrapping and derivation --------------------------------------------------------------------------


def test_data_key_wrap_round_trip_and_wrong_master() -> None:
    material = os.urandom(32)
    kek = derive_kek(os.urandom(32), VAULT_ID)
    wrapped = wrap_data_key(kek, VAULT_ID, 42, material)
    assert unwrap_data_key(kek, VAULT_ID, 42, wrapped) == material
    with pytest.raises(WrongKeyError):
        unwrap_data_key(derive_kek(os.urandom(32), VAULT_ID), VAULT_ID, 42, wrapped)
    with pytest.raises(WrongKeyError):
        unwrap_data_key(kek, VAULT_ID, 43, wrapped)  # bound to its key id


def test_file_key_is_32_url_safe_characters_and_depends_on_master() -> None:
    a, b = derive_file_key(os.urandom(32)), derive_file_key(os.urandom(32))
    assert len(a) == 32 and a != b
    assert set(a) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize("bad", [b"", b"x" * 31, b"x" * 33])
def test_master_key_must_be_32_bytes(bad: bytes) -> None:
    with pytest.raises(ConfigurationError):
        derive_kek(bad, VAULT_ID)


def test_reprs_hold_no_key_material() -> None:
    keyset = _keyset()
    key = keyset.primary("notes")
    assert key.material is not None
    for text in (repr(key), repr(keyset), repr(key.aead)):
        assert key.material.hex() not in text
        assert repr(key.material) not in text


def test_aad_matches_its_documented_encoding() -> None:
    header = bytes([FIELD_FORMAT_V2, 0, 0, 0, 9])
    ctx = FieldContext(VAULT_ID, "notes", "rec-ü", "metadata", 0x0102030405)
    rev = (0x0102030405).to_bytes(8, "big")
    parts = [b"vecvault/field/v2", header, VAULT_ID, b"notes", rev, "rec-ü".encode(), b"metadata"]
    assert encode_aad(header, ctx) == b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    # v1 (only ever opened now) had no write version.
    header = bytes([FIELD_FORMAT_V1, 0, 0, 0, 9])
    parts = [b"vecvault/field/v1", header, VAULT_ID, b"notes", "rec-ü".encode(), b"metadata"]
    assert encode_aad(header, ctx) == b"".join(len(p).to_bytes(4, "big") + p for p in parts)


# -- write versions and key formats ------------------------------------------------------------------------


def _legacy_field(key: DataKey, plaintext: bytes, ctx: FieldContext) -> bytes:
    """A v1 field as vecvault wrote them before the write version: sealed from the documented format."""
    assert key.material is not None
    header = struct.pack(">BI", FIELD_FORMAT_V1, key.key_id)
    nonce = os.urandom(12)
    return (
        header
        + nonce
        + Aead(crypto.derive_subkey(key.material, "row-seal")).encrypt(nonce, plaintext, encode_aad(header, ctx))
    )


def _legacy_keyset() -> tuple[Keyset, DataKey]:
    key = DataKey.generate(0x0A0B0C0D, scope="notes")
    key.key_format = KEY_FORMAT_LEGACY
    return Keyset([key]), key


def test_a_legacy_key_opens_v1_fields_only_and_never_seals() -> None:
    keyset, key = _legacy_keyset()
    blob = _legacy_field(key, b"old", CTX)
    assert keyset.open(blob, CTX) == b"old"
    assert keyset.open(blob, FieldContext(VAULT_ID, "notes", "rec-1", "text", 99)) == b"old"  # v1: no version
    assert keyset.open_field_batch(VAULT_ID, "notes", ["rec-1"], "text", [blob], [None]) == [b"old"]
    with pytest.raises(ConfigurationError, match="legacy"):
        keyset.seal(b"new", CTX)
    with pytest.raises(ConfigurationError, match="legacy"):
        keyset.seal_field_batch(key, VAULT_ID, "notes", ["a"], "text", [b"x"], rev=1)
    key.key_format = KEY_FORMAT_V2  # the same material as a v2 key (never happens: the wrap binds the format)
    v2 = keyset.seal(b"new", CTX)
    key.key_format = KEY_FORMAT_LEGACY
    with pytest.raises(IntegrityError, match="another format"):
        keyset.open(v2, CTX)


def test_a_v2_field_cannot_be_downgraded_to_v1() -> None:
    keyset = _keyset()
    key = keyset.primary("notes")
    blob = keyset.seal(b"secret", CTX)
    with pytest.raises(IntegrityError, match="another format"):
        keyset.open(bytes([FIELD_FORMAT_V1]) + blob[1:], CTX)
    with pytest.raises(IntegrityError, match="another format"):
        keyset.open(_legacy_field(key, b"forged?", CTX), CTX)  # even a real v1 field under a v2 key
    with pytest.raises(IntegrityError):
        keyset.open_field_batch(VAULT_ID, "notes", ["rec-1"], "text", [bytes([FIELD_FORMAT_V1]) + blob[1:]], [7])


@pytest.mark.parametrize("bad", [-1, 2**63, "7", 7.0, None, True])
def test_a_stored_write_version_that_is_no_revision_never_opens(bad: object) -> None:
    keyset = _keyset()
    blob = keyset.seal(b"secret", CTX)
    with pytest.raises(IntegrityError):
        keyset.open(blob, FieldContext(VAULT_ID, "notes", "rec-1", "text", bad))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        keyset.open_field_batch(VAULT_ID, "notes", ["rec-1"], "text", [blob], [bad])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["a", "b"])), min_size=1, max_size=30))
def test_batch_opening_equals_one_by_one_opening_across_versions_and_keys(rows: list[tuple[int, str]]) -> None:
    keyset = _keyset()
    keys = {"a": keyset.primary("notes")}
    keyset.add(DataKey.generate(keyset.new_key_id(), scope="notes"))
    keys["b"] = keyset.primary("notes")
    ids = [f"r{i}" for i in range(len(rows))]
    blobs = [
        keyset.seal_with_key(keys[which], f"v{i}".encode(), FieldContext(VAULT_ID, "notes", ids[i], "text", rev))
        for i, (rev, which) in enumerate(rows)
    ]
    revs = [rev for rev, _ in rows]
    want = [f"v{i}".encode() for i in range(len(rows))]
    assert keyset.open_field_batch(VAULT_ID, "notes", ids, "text", blobs, revs) == want
    if len(rows) > 1:  # one value beside another write's version fails, and the message names its record
        shifted = [*revs[:-1], revs[-1] + 1]
        with pytest.raises(IntegrityError, match=repr(ids[-1])):
            keyset.open_field_batch(VAULT_ID, "notes", ids, "text", blobs, shifted)


def test_the_key_format_is_bound_by_the_wrap() -> None:
    material = os.urandom(32)
    kek = derive_kek(os.urandom(32), VAULT_ID)
    legacy = wrap_data_key(kek, VAULT_ID, 42, material, key_format=KEY_FORMAT_LEGACY)
    current = wrap_data_key(kek, VAULT_ID, 42, material)
    assert len(legacy) == len(current)  # no format byte to flip: the format is only in the wrap AAD
    assert unwrap_data_key_with_format(kek, VAULT_ID, 42, legacy) == (material, KEY_FORMAT_LEGACY)
    assert unwrap_data_key_with_format(kek, VAULT_ID, 42, current) == (material, KEY_FORMAT_V2)
    assert unwrap_data_key(kek, VAULT_ID, 42, legacy) == material
    parts = (b"vecvault/datakey-wrap/v1", VAULT_ID, bytes([0, 0, 0, 42]))
    v1_aad = b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    assert AESGCM(kek).decrypt(legacy[:12], legacy[12:], v1_aad) == material  # as keys were wrapped before formats
    with pytest.raises(WrongKeyError):
        unwrap_data_key_with_format(kek, VAULT_ID, 43, current)
    with pytest.raises(ConfigurationError):
        wrap_data_key(kek, VAULT_ID, 42, material, key_format=3)
