"""Unit tests for the key providers: every provider, every failure mode, and no secret in any message."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vecvault.keys
from vecvault.errors import (
    ConfigurationError,
    KeyNotFoundError,
    KeyUnavailableError,
    VaultKeyError,
    WrongKeyError,
)
from vecvault.keys import (
    DEFAULT_ARGON2_PARAMS,
    MINIMUM_ARGON2_PARAMS,
    Argon2Params,
    EnvKeyProvider,
    KeyFileProvider,
    KeyProvider,
    KeyringKeyProvider,
    PassphraseKeyProvider,
    StaticKeyProvider,
    default_key_provider,
)
from vecvault.keys._codec import decode_key, encode_key, redact

POSIX = os.name == "posix"
posix_only = pytest.mark.skipif(not POSIX, reason="file modes are POSIX-only")

ALTERNATIVE_NAMES = (
    "EnvKeyProvider",
    "VECVAULT_KEY",
    "KeyFileProvider",
    "PassphraseKeyProvider",
    "StaticKeyProvider",
    "--key-env",
    "--key-file",
    "--passphrase",
)


def secret_forms(secret: bytes | str) -> list[str]:
    """Every form in which a secret could leak into text."""
    if isinstance(secret, str):
        return [secret]
    b64 = base64.b64encode(secret).decode()
    url = base64.urlsafe_b64encode(secret).decode()
    return [b64, b64.rstrip("="), url, url.rstrip("="), secret.hex(), secret.hex().upper(), repr(secret)]


def assert_no_secret(text: str, *secrets: bytes | str) -> None:
    for secret in secrets:
        for form in secret_forms(secret):
            assert form not in text, "a secret leaked into a message or repr"


def assert_error_clean(exc: BaseException, *secrets: bytes | str) -> None:
    assert_no_secret(str(exc), *secrets)
    assert_no_secret(repr(exc), *secrets)
    for arg in exc.args:
        assert_no_secret(str(arg), *secrets)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------- codec


@given(st.binary(min_size=32, max_size=32))
def test_codec_round_trips_standard_and_urlsafe(key: bytes) -> None:
    assert decode_key(encode_key(key)) == key
    assert decode_key(base64.urlsafe_b64encode(key).decode()) == key
    assert decode_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key
    assert decode_key(f"  {encode_key(key)}\n") == key


@given(st.binary(max_size=64).filter(lambda raw: len(raw) != 32))
def test_codec_rejects_other_lengths(raw: bytes) -> None:
    assert decode_key(b64(raw)) is None


@pytest.mark.parametrize("text", ["", "   ", "not base64 at all!", "é" * 44, b"\xff" * 44, "A" * 45])
def test_codec_rejects_garbage(text: str | bytes) -> None:
    assert decode_key(text) is None


def test_redact_removes_every_form() -> None:
    key = os.urandom(32)
    message = f"boom {b64(key)} {key.hex()} {base64.urlsafe_b64encode(key).decode()}"
    assert_no_secret(redact(message, key), key)


# ---------------------------------------------------------------------------------------------- static


def test_static_provider_returns_its_key() -> None:
    key = os.urandom(32)
    provider = StaticKeyProvider(key)
    assert provider.load_key() == key
    assert provider.create_key() == key


def test_static_provider_accepts_bytearray_and_copies_it() -> None:
    raw = bytearray(os.urandom(32))
    provider = StaticKeyProvider(raw)  # type: ignore[arg-type]
    expected = bytes(raw)
    raw[:] = b"\0" * 32
    assert provider.load_key() == expected
    assert type(provider.load_key()) is bytes


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_static_provider_rejects_wrong_length(length: int) -> None:
    key = os.urandom(length)
    with pytest.raises(ConfigurationError, match="exactly 32 bytes") as info:
        StaticKeyProvider(key)
    if length:
        assert_error_clean(info.value, key)


def test_static_provider_rejects_str() -> None:
    with pytest.raises(ConfigurationError, match="bytes"):
        StaticKeyProvider(b64(os.urandom(32)))  # type: ignore[arg-type]


def test_static_generate_makes_fresh_keys() -> None:
    first, second = StaticKeyProvider.generate(), StaticKeyProvider.generate()
    assert len(first.load_key()) == 32
    assert first.load_key() != second.load_key()


def test_static_repr_and_description_hide_the_key() -> None:
    key = os.urandom(32)
    provider = StaticKeyProvider(key)
    assert_no_secret(repr(provider), key)
    assert_no_secret(str(provider), key)
    assert_no_secret(provider.description, key)
    assert "hidden" in repr(provider)


# ---------------------------------------------------------------------------------------------- env


@pytest.fixture
def env_var(monkeypatch: pytest.MonkeyPatch) -> str:
    name = "VECVAULT_TEST_KEY"
    monkeypatch.delenv(name, raising=False)
    return name


@pytest.mark.parametrize(
    "encode",
    [
        lambda k: base64.b64encode(k).decode(),
        lambda k: base64.urlsafe_b64encode(k).decode(),
        lambda k: base64.b64encode(k).decode().rstrip("="),
        lambda k: f"  {base64.b64encode(k).decode()}\n",
    ],
    ids=["standard", "urlsafe", "unpadded", "whitespace"],
)
def test_env_provider_loads_base64_key(
    env_var: str, monkeypatch: pytest.MonkeyPatch, encode: Callable[[bytes], str]
) -> None:
    key = os.urandom(32)
    monkeypatch.setenv(env_var, encode(key))
    assert EnvKeyProvider(env_var).load_key() == key


@pytest.mark.parametrize("length", [31, 33, 16, 0])
def test_env_provider_rejects_wrong_length_without_echoing(
    env_var: str, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    raw = os.urandom(length)
    value = b64(raw)
    monkeypatch.setenv(env_var, value)
    with pytest.raises(ConfigurationError) as info:
        EnvKeyProvider(env_var).load_key()
    message = str(info.value)
    assert env_var in message
    assert "base64.b64encode(os.urandom(32))" in message
    if raw:
        assert_error_clean(info.value, raw, value)


def test_env_provider_rejects_invalid_base64(env_var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    value = "this-is-my-secret-password-not-a-key!!"
    monkeypatch.setenv(env_var, value)
    with pytest.raises(ConfigurationError, match=env_var) as info:
        EnvKeyProvider(env_var).load_key()
    assert_error_clean(info.value, value)


def test_env_provider_rejects_empty(env_var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_var, "")
    with pytest.raises(ConfigurationError, match="empty"):
        EnvKeyProvider(env_var).load_key()


def test_env_provider_unset_is_key_not_found(env_var: str) -> None:
    with pytest.raises(KeyNotFoundError, match=env_var):
        EnvKeyProvider(env_var).load_key()


def test_env_provider_cannot_create(env_var: str) -> None:
    with pytest.raises(KeyUnavailableError, match="export") as info:
        EnvKeyProvider(env_var).create_key()
    assert not isinstance(info.value, KeyNotFoundError)
    assert env_var in str(info.value)
    assert env_var not in os.environ


def test_env_provider_repr(env_var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv(env_var, b64(key))
    provider = EnvKeyProvider(env_var)
    provider.load_key()
    assert_no_secret(repr(provider) + provider.description, key)
    assert env_var in repr(provider)
    assert env_var in provider.description


@pytest.mark.parametrize("name", ["", "A=B"])
def test_env_provider_rejects_bad_variable_name(name: str) -> None:
    with pytest.raises(ConfigurationError):
        EnvKeyProvider(name)


# ---------------------------------------------------------------------------------------------- default


def test_default_provider_prefers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECVAULT_KEY", b64(os.urandom(32)))
    provider = default_key_provider()
    assert isinstance(provider, EnvKeyProvider)
    assert provider.variable == "VECVAULT_KEY"


def test_default_provider_is_keyring_without_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECVAULT_KEY", raising=False)
    provider = default_key_provider()
    assert isinstance(provider, KeyringKeyProvider)
    assert (provider.service, provider.account) == ("vecvault", "default")


def test_default_provider_does_not_fall_back_on_invalid_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECVAULT_KEY", "")
    provider = default_key_provider()
    assert isinstance(provider, EnvKeyProvider)
    with pytest.raises(ConfigurationError):
        provider.load_key()


def test_public_api() -> None:
    for name in vecvault.keys.__all__:
        assert hasattr(vecvault.keys, name), name
    assert sorted(vecvault.keys.__all__) == sorted(set(vecvault.keys.__all__))


# ---------------------------------------------------------------------------------------------- key file


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_file(path: Path, data: bytes, mode: int) -> None:
    path.write_bytes(data)
    path.chmod(mode)


def test_key_file_create_then_load(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "vault.key"
    provider = KeyFileProvider(path)
    key = provider.create_key()
    assert len(key) == 32
    assert provider.load_key() == key
    assert KeyFileProvider(str(path)).load_key() == key
    assert path.read_text() == b64(key) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["vault.key"], "no temporary file left behind"


@posix_only
def test_key_file_created_with_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "vault.key"
        KeyFileProvider(path).create_key()
    finally:
        os.umask(old)
    assert mode_of(path) == 0o600


def test_key_file_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    provider = KeyFileProvider(path)
    key = provider.create_key()
    before = path.read_bytes()
    with pytest.raises(KeyUnavailableError, match="already exists") as info:
        provider.create_key()
    assert not isinstance(info.value, KeyNotFoundError)
    assert path.read_bytes() == before
    assert provider.load_key() == key
    assert_error_clean(info.value, key)


def test_key_file_create_refuses_any_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    path.write_text("something else")
    with pytest.raises(KeyUnavailableError, match="already exists"):
        KeyFileProvider(path).create_key()
    assert path.read_text() == "something else"


@posix_only
def test_key_file_create_refuses_dangling_symlink(tmp_path: Path) -> None:
    path = tmp_path / "vault.key"
    path.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(KeyUnavailableError, match="already exists"):
        KeyFileProvider(path).create_key()
    assert not (tmp_path / "elsewhere").exists()


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o700 | 0o007])
def test_key_file_refuses_loose_permissions(tmp_path: Path, mode: int) -> None:
    key = os.urandom(32)
    path = tmp_path / "vault.key"
    write_file(path, b64(key).encode(), mode)
    with pytest.raises(KeyUnavailableError) as info:
        KeyFileProvider(path).load_key()
    assert not isinstance(info.value, KeyNotFoundError)
    assert f"chmod 600 {path}" in str(info.value)
    assert_error_clean(info.value, key)


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_key_file_accepts_owner_only(tmp_path: Path, mode: int) -> None:
    key = os.urandom(32)
    path = tmp_path / "vault.key"
    write_file(path, (b64(key) + "\n").encode(), mode)
    assert KeyFileProvider(path).load_key() == key


def test_key_file_missing_is_key_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.key"
    with pytest.raises(KeyNotFoundError, match=r"nope\.key"):
        KeyFileProvider(path).load_key()


@pytest.mark.parametrize("content", [b"", b"hello", os.urandom(32), b64(os.urandom(31)).encode()])
def test_key_file_invalid_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "vault.key"
    write_file(path, content, 0o600)
    with pytest.raises(KeyUnavailableError, match="base64") as info:
        KeyFileProvider(path).load_key()
    assert not isinstance(info.value, KeyNotFoundError)
    if content:
        assert_error_clean(info.value, content)


def test_key_file_refuses_directory(tmp_path: Path) -> None:
    path = tmp_path / "dir"
    path.mkdir(mode=0o700)
    with pytest.raises(KeyUnavailableError):
        KeyFileProvider(path).load_key()


def test_key_file_refuses_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "big.key"
    write_file(path, b"A" * 200_000, 0o600)
    with pytest.raises(KeyUnavailableError, match="larger"):
        KeyFileProvider(path).load_key()


def test_key_file_expands_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    provider = KeyFileProvider("~/vault.key")
    assert provider.path == tmp_path / "vault.key"


def test_key_file_repr_and_description(tmp_path: Path) -> None:
    provider = KeyFileProvider(tmp_path / "vault.key")
    key = provider.create_key()
    assert "vault.key" in repr(provider)
    assert "vault.key" in provider.description
    assert_no_secret(repr(provider) + provider.description, key)


# ---------------------------------------------------------------------------------------------- passphrase

FAST = Argon2Params(memory_cost=64, iterations=1, lanes=1)


class FastPassphraseKeyProvider(PassphraseKeyProvider):
    """Test seam: lowers the enforced minimum so unit tests do not spend 64 MiB per derivation."""

    _minimum_params = FAST


def fast(path: Path, passphrase: str | Callable[[], str]) -> PassphraseKeyProvider:
    return FastPassphraseKeyProvider(path, passphrase, params=FAST)


PASSPHRASE = "correct horse battery staple"


def test_argon2_defaults_meet_the_floor() -> None:
    assert DEFAULT_ARGON2_PARAMS.memory_cost >= 65536
    assert DEFAULT_ARGON2_PARAMS.iterations >= 3
    assert DEFAULT_ARGON2_PARAMS.lanes == 4
    assert MINIMUM_ARGON2_PARAMS.memory_cost >= 65536
    assert MINIMUM_ARGON2_PARAMS.iterations >= 3
    assert PassphraseKeyProvider._minimum_params == MINIMUM_ARGON2_PARAMS


def test_passphrase_full_strength_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    provider = PassphraseKeyProvider(path, PASSPHRASE)
    key = provider.create_key()
    assert PassphraseKeyProvider(path, PASSPHRASE).load_key() == key
    document = json.loads(path.read_text())
    assert document["kdf"]["algorithm"] == "argon2id"
    assert document["kdf"]["memory_cost"] == 65536
    assert document["kdf"]["iterations"] == 3
    assert document["kdf"]["lanes"] == 4
    assert len(base64.b64decode(document["kdf"]["salt"])) == 16
    assert_no_secret(path.read_text(), key, PASSPHRASE)
    if POSIX:
        assert mode_of(path) == 0o600


def test_passphrase_round_trip_with_callable(tmp_path: Path) -> None:
    calls: list[int] = []

    def ask() -> str:
        calls.append(1)
        return PASSPHRASE

    path = tmp_path / "vault.vvkey"
    key = fast(path, ask).create_key()
    assert fast(path, ask).load_key() == key
    assert len(calls) == 2


def test_passphrase_unicode_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    key = fast(path, "caf\u00e9").create_key()  # precomposed
    assert fast(path, "cafe\u0301").load_key() == key  # decomposed


def test_passphrase_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    key = fast(path, PASSPHRASE).create_key()
    with pytest.raises(WrongKeyError, match="Wrong passphrase") as info:
        fast(path, "Correct horse battery staple").load_key()
    assert isinstance(info.value, VaultKeyError)
    assert_error_clean(info.value, key, PASSPHRASE, "Correct horse battery staple")


def test_passphrase_change_keeps_the_key(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    provider = fast(path, PASSPHRASE)
    key = provider.create_key()
    salt_before = json.loads(path.read_text())["kdf"]["salt"]
    provider.change_passphrase(PASSPHRASE, "new passphrase")
    assert json.loads(path.read_text())["kdf"]["salt"] != salt_before
    assert provider.load_key() == key, "the provider now uses the new passphrase"
    assert fast(path, "new passphrase").load_key() == key
    with pytest.raises(WrongKeyError):
        fast(path, PASSPHRASE).load_key()
    if POSIX:
        assert mode_of(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.vvkey"], "no temporary file left"


def test_passphrase_change_with_wrong_old_leaves_file(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    provider = fast(path, PASSPHRASE)
    key = provider.create_key()
    before = path.read_bytes()
    with pytest.raises(WrongKeyError):
        provider.change_passphrase("wrong", "new passphrase")
    assert path.read_bytes() == before
    assert provider.load_key() == key


def test_passphrase_change_refuses_empty_new(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    provider = fast(path, PASSPHRASE)
    provider.create_key()
    with pytest.raises(ConfigurationError):
        provider.change_passphrase(PASSPHRASE, "")


def test_passphrase_change_upgrades_params(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    key = fast(path, PASSPHRASE).create_key()
    stronger = Argon2Params(memory_cost=128, iterations=2, lanes=1)
    provider = FastPassphraseKeyProvider(path, PASSPHRASE, params=stronger)
    provider.change_passphrase(PASSPHRASE, PASSPHRASE)
    assert json.loads(path.read_text())["kdf"]["memory_cost"] == 128
    assert provider.load_key() == key


def tamper(path: Path, edit: Callable[[dict[str, dict[str, object]]], None]) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def flip_b64(value: object) -> str:
    raw = bytearray(base64.b64decode(str(value)))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["wrap"].__setitem__("ciphertext", flip_b64(d["wrap"]["ciphertext"])),
        lambda d: d["wrap"].__setitem__("nonce", flip_b64(d["wrap"]["nonce"])),
        lambda d: d["kdf"].__setitem__("salt", flip_b64(d["kdf"]["salt"])),
        lambda d: d["kdf"].__setitem__("iterations", 2),
        lambda d: d["kdf"].__setitem__("lanes", 2),
        lambda d: d["kdf"].__setitem__("memory_cost", 128),
    ],
    ids=["ciphertext", "nonce", "salt", "iterations", "lanes", "memory"],
)
def test_passphrase_tampered_file_refused(tmp_path: Path, edit: Callable[[dict[str, dict[str, object]]], None]) -> None:
    path = tmp_path / "vault.vvkey"
    key = fast(path, PASSPHRASE).create_key()
    tamper(path, edit)
    with pytest.raises(WrongKeyError, match="modified") as info:
        fast(path, PASSPHRASE).load_key()
    assert_error_clean(info.value, key, PASSPHRASE)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'{"format": "something-else"}',
        b'{"format": "vecvault-passphrase-key", "version": 2}',
    ],
)
def test_passphrase_malformed_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "vault.vvkey"
    write_file(path, content, 0o600)
    with pytest.raises(KeyUnavailableError, match="not a valid") as info:
        fast(path, PASSPHRASE).load_key()
    assert not isinstance(info.value, KeyNotFoundError)


@pytest.mark.parametrize(
    ("field", "value"),
    [("salt", "AAAA"), ("salt", 7), ("iterations", "3"), ("iterations", 3.0), ("algorithm", "scrypt")],
)
def test_passphrase_malformed_fields(tmp_path: Path, field: str, value: object) -> None:
    path = tmp_path / "vault.vvkey"
    fast(path, PASSPHRASE).create_key()
    tamper(path, lambda d: d["kdf"].__setitem__(field, value))
    with pytest.raises(KeyUnavailableError, match="not a valid"):
        fast(path, PASSPHRASE).load_key()


def test_passphrase_low_params_in_file_refused(tmp_path: Path) -> None:
    """A file asking for weak Argon2id parameters is a downgrade: refused before any derivation."""
    path = tmp_path / "vault.vvkey"
    fast(path, PASSPHRASE).create_key()
    with pytest.raises(KeyUnavailableError, match="downgrade") as info:
        PassphraseKeyProvider(path, PASSPHRASE).load_key()
    assert "65536" in str(info.value)
    with pytest.raises(KeyUnavailableError, match="downgrade"):
        PassphraseKeyProvider(path, PASSPHRASE).change_passphrase(PASSPHRASE, "x")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["kdf"].__setitem__("memory_cost", 65535),
        lambda d: d["kdf"].__setitem__("iterations", 2),
    ],
)
def test_passphrase_just_below_minimum_refused(
    tmp_path: Path, edit: Callable[[dict[str, dict[str, object]]], None]
) -> None:
    path = tmp_path / "vault.vvkey"
    PassphraseKeyProvider(path, PASSPHRASE).create_key()
    tamper(path, edit)
    path.chmod(0o600)
    with pytest.raises(KeyUnavailableError, match="minimum"):
        PassphraseKeyProvider(path, PASSPHRASE).load_key()


def test_passphrase_absurd_params_refused(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    fast(path, PASSPHRASE).create_key()
    tamper(path, lambda d: d["kdf"].__setitem__("memory_cost", 1 << 40))
    with pytest.raises(KeyUnavailableError, match="maximum"):
        fast(path, PASSPHRASE).load_key()


@pytest.mark.parametrize(
    "params",
    [
        Argon2Params(memory_cost=32 * 1024, iterations=3, lanes=4),
        Argon2Params(memory_cost=64 * 1024, iterations=2, lanes=4),
    ],
)
def test_passphrase_public_constructor_refuses_low_params(tmp_path: Path, params: Argon2Params) -> None:
    with pytest.raises(ConfigurationError, match="minimum"):
        PassphraseKeyProvider(tmp_path / "k", PASSPHRASE, params=params)


def test_passphrase_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    key = fast(path, PASSPHRASE).create_key()
    before = path.read_bytes()
    with pytest.raises(KeyUnavailableError, match="already exists"):
        fast(path, "other").create_key()
    assert path.read_bytes() == before
    assert fast(path, PASSPHRASE).load_key() == key


def test_passphrase_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError):
        fast(tmp_path / "nope", PASSPHRASE).load_key()


@posix_only
def test_passphrase_file_loose_permissions_refused(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    fast(path, PASSPHRASE).create_key()
    path.chmod(0o644)
    with pytest.raises(KeyUnavailableError, match=f"chmod 600 {path}"):
        fast(path, PASSPHRASE).load_key()


@pytest.mark.parametrize("passphrase", ["", lambda: "", lambda: 42])
def test_passphrase_empty_or_not_str(tmp_path: Path, passphrase: str | Callable[[], str]) -> None:
    with pytest.raises(ConfigurationError):
        fast(tmp_path / "k", passphrase).create_key()
    assert not (tmp_path / "k").exists()


def test_passphrase_repr_and_description_hide_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "vault.vvkey"
    provider = fast(path, PASSPHRASE)
    key = provider.create_key()
    text = repr(provider) + str(provider) + provider.description
    assert_no_secret(text, key, PASSPHRASE)
    assert "vault.vvkey" in text


# ---------------------------------------------------------------------------------------------- keyring


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring backend for tests."""

    @keyring.compat.properties.classproperty
    def priority(cls) -> float:  # noqa: N805  (a classproperty)
        # Never viable for keyring's own backend selection: only used when passed explicitly.
        raise RuntimeError("test backend")

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class RaisingKeyring(MemoryKeyring):
    """A backend whose every call raises the given exception."""

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.exc = exc

    def get_password(self, service: str, username: str) -> str | None:
        raise self.exc

    def set_password(self, service: str, username: str, password: str) -> None:
        raise self.exc

    def delete_password(self, service: str, username: str) -> None:
        raise self.exc


class ForgetfulKeyring(MemoryKeyring):
    """Accepts writes and keeps nothing."""

    def set_password(self, service: str, username: str, password: str) -> None:
        pass


@pytest.fixture
def memory() -> MemoryKeyring:
    return MemoryKeyring()


def test_keyring_create_then_load(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    key = provider.create_key()
    assert len(key) == 32
    assert memory.entries[("svc", "acct")] == b64(key)
    assert KeyringKeyProvider("svc", "acct", keyring_backend=memory).load_key() == key


def test_keyring_defaults(memory: MemoryKeyring) -> None:
    key = KeyringKeyProvider(keyring_backend=memory).create_key()
    assert memory.entries[("vecvault", "default")] == b64(key)


def test_keyring_missing_entry(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    with pytest.raises(KeyNotFoundError) as info:
        provider.load_key()
    message = str(info.value)
    assert "'svc'" in message
    assert "'acct'" in message
    assert "will NOT get a new key" in message
    assert "EnvKeyProvider" in message
    assert memory.entries == {}, "loading never creates a key"


def test_keyring_create_refuses_existing_entry(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    key = provider.create_key()
    with pytest.raises(KeyUnavailableError, match="never overwrites") as info:
        provider.create_key()
    assert not isinstance(info.value, KeyNotFoundError)
    assert provider.load_key() == key
    assert_error_clean(info.value, key)


def test_keyring_store_key(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    first = provider.create_key()
    second = os.urandom(32)
    with pytest.raises(KeyUnavailableError):
        provider.store_key(second)
    assert provider.load_key() == first
    assert provider.store_key(second, overwrite=True) == second
    assert provider.load_key() == second


@pytest.mark.parametrize("key", [b"", os.urandom(31), os.urandom(33), "x" * 32])
def test_keyring_store_key_rejects_bad_key(memory: MemoryKeyring, key: bytes) -> None:
    with pytest.raises(ConfigurationError):
        KeyringKeyProvider(keyring_backend=memory).store_key(key)
    assert memory.entries == {}


def test_keyring_delete_key(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    provider.create_key()
    provider.delete_key()
    assert memory.entries == {}
    with pytest.raises(KeyNotFoundError):
        provider.load_key()
    with pytest.raises(KeyNotFoundError, match="nothing to delete"):
        provider.delete_key()


@pytest.mark.parametrize(
    "stored",
    ["not base64!", b64(os.urandom(31)), b64(os.urandom(33)), "", "hunter2"],
)
def test_keyring_invalid_stored_value(memory: MemoryKeyring, stored: str) -> None:
    memory.entries[("svc", "acct")] = stored
    with pytest.raises(KeyUnavailableError, match="does not hold a vecvault master key") as info:
        KeyringKeyProvider("svc", "acct", keyring_backend=memory).load_key()
    assert not isinstance(info.value, KeyNotFoundError)
    if stored:
        assert_error_clean(info.value, stored)


@pytest.mark.parametrize(
    "backend",
    [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()],  # type: ignore[no-untyped-call]
)
@pytest.mark.parametrize("operation", ["load_key", "create_key", "delete_key"])
def test_keyring_no_backend_names_alternatives(backend: keyring.backend.KeyringBackend, operation: str) -> None:
    provider = KeyringKeyProvider(keyring_backend=backend)
    with pytest.raises(KeyUnavailableError) as info:
        getattr(provider, operation)()
    assert not isinstance(info.value, KeyNotFoundError), "a missing keychain must never look like a missing key"
    for name in ALTERNATIVE_NAMES:
        assert name in str(info.value), name


def test_keyring_no_keyring_error_raised_by_backend() -> None:
    backend = RaisingKeyring(keyring.errors.NoKeyringError("No recommended backend was available."))
    with pytest.raises(KeyUnavailableError) as info:
        KeyringKeyProvider(keyring_backend=backend).load_key()
    assert not isinstance(info.value, KeyNotFoundError)
    for name in ALTERNATIVE_NAMES:
        assert name in str(info.value), name


@pytest.mark.parametrize("operation", ["load_key", "create_key", "delete_key"])
def test_keyring_locked(operation: str) -> None:
    backend = RaisingKeyring(keyring.errors.KeyringLocked("Failed to unlock the collection!"))
    with pytest.raises(KeyUnavailableError) as info:
        getattr(KeyringKeyProvider(keyring_backend=backend), operation)()
    assert not isinstance(info.value, KeyNotFoundError)
    message = str(info.value)
    assert "locked" in message
    assert "Unlock it" in message
    assert "No new key was created" in message
    assert "EnvKeyProvider" in message


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (keyring.errors.InitError("Failed to create the collection"), "could not be initialised"),
        (keyring.errors.KeyringError("something odd"), "something odd"),
        (keyring.errors.PasswordSetError("denied"), "denied"),
        (RuntimeError("org.freedesktop.DBus.Error.ServiceUnknown"), "ServiceUnknown"),
        (OSError("bus gone"), "bus gone"),
    ],
)
def test_keyring_other_failures(exc: Exception, expected: str) -> None:
    with pytest.raises(KeyUnavailableError, match=expected) as info:
        KeyringKeyProvider(keyring_backend=RaisingKeyring(exc)).load_key()
    assert not isinstance(info.value, KeyNotFoundError)


def test_keyring_set_failure_message_is_redacted(memory: MemoryKeyring) -> None:
    class EchoingKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.PasswordSetError(f"cannot store {password!r}")

    key = os.urandom(32)
    with pytest.raises(KeyUnavailableError) as info:
        KeyringKeyProvider(keyring_backend=EchoingKeyring()).store_key(key)
    assert_error_clean(info.value, key)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_keyring_that_forgets_writes_is_refused() -> None:
    with pytest.raises(KeyUnavailableError, match="did not keep"):
        KeyringKeyProvider(keyring_backend=ForgetfulKeyring()).create_key()


def test_keyring_uses_keyrings_current_backend(monkeypatch: pytest.MonkeyPatch, memory: MemoryKeyring) -> None:
    monkeypatch.setattr(keyring, "get_keyring", lambda: memory)
    provider = KeyringKeyProvider()
    key = provider.create_key()
    assert memory.entries[("vecvault", "default")] == b64(key)
    monkeypatch.setattr(keyring, "get_keyring", keyring.backends.fail.Keyring)
    with pytest.raises(KeyUnavailableError, match="VECVAULT_KEY"):
        provider.load_key()


def test_keyring_backend_selection_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> keyring.backend.KeyringBackend:
        raise RuntimeError("bad keyringrc.cfg")

    monkeypatch.setattr(keyring, "get_keyring", broken)
    with pytest.raises(KeyUnavailableError, match=r"bad keyringrc\.cfg"):
        KeyringKeyProvider().load_key()


def test_keyring_repr_and_description(memory: MemoryKeyring) -> None:
    provider = KeyringKeyProvider("svc", "acct", keyring_backend=memory)
    key = provider.create_key()
    text = repr(provider) + str(provider) + provider.description
    assert_no_secret(text, key)
    assert "'svc'" in text
    assert "'acct'" in text


def test_keyring_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigurationError):
        KeyringKeyProvider("")
    with pytest.raises(ConfigurationError):
        KeyringKeyProvider(keyring_backend=object())  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- protocol


def test_every_provider_follows_the_protocol(tmp_path: Path) -> None:
    providers: list[KeyProvider] = [
        StaticKeyProvider.generate(),
        EnvKeyProvider(),
        KeyFileProvider(tmp_path / "k"),
        fast(tmp_path / "p", PASSPHRASE),
        KeyringKeyProvider(keyring_backend=MemoryKeyring()),
    ]
    for provider in providers:
        assert isinstance(provider, KeyProvider), type(provider).__name__
        description = provider.description
        assert isinstance(description, str)
        assert description
