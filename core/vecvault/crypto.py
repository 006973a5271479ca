"""Sealed fields, the data-key set and key derivation. Pure: no I/O, no database, no globals.

Key hierarchy::

    master key (32 bytes, from a KeyProvider)
      └─ KEK = HKDF-SHA256(master, salt=vault_id, info="vecvault/v1/kek")
           └─ data keys (32 random bytes each, stored wrapped under the KEK, AAD = vault_id ‖ key_id)
                └─ per-purpose subkeys = HKDF-SHA256(data key, info="vecvault/v1/<purpose>")

Field format v1 (one sealed value)::

    0x01 ‖ key_id (4 bytes, big-endian) ‖ nonce (12 bytes, random) ‖ ciphertext ‖ tag (16 bytes)

The AAD binds the format tag, the 5-byte header, the vault id, the collection, the record id and the field
name, each length-prefixed, so a value moved to another field, record, collection or vault fails to open.
Every failure to open a field raises the same :class:`~vecvault.errors.IntegrityError`.
"""

from __future__ import annotations

import base64
import enum
import functools
import os
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vecvault.errors import ConfigurationError, IntegrityError, WrongKeyError

__all__ = [
    "FIELD_FORMAT_V1",
    "FIELD_OVERHEAD",
    "KEY_BYTES",
    "MAX_ENCRYPTIONS_PER_KEY",
    "NONCE_BYTES",
    "Aead",
    "DataKey",
    "FieldContext",
    "KeyState",
    "Keyset",
    "check_master_key",
    "derive_file_key",
    "derive_kek",
    "derive_subkey",
    "encode_aad",
    "unwrap_data_key",
    "wrap_data_key",
]

FIELD_FORMAT_V1 = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 1 + 4
FIELD_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
# NIST SP 800-38D bounds random 96-bit nonces at 2^32 messages per key; rotate with a wide margin.
MAX_ENCRYPTIONS_PER_KEY = 2**31
_MAX_KEY_ID = 2**32 - 1

_AAD_TAG_FIELD = b"vecvault/field/v1"
_AAD_TAG_WRAP = b"vecvault/datakey-wrap/v1"
_INFO_KEK = b"vecvault/v1/kek"
_INFO_FILE_KEY = b"vecvault/v1/file-key"
_HEADER = struct.Struct(">BI")
_LENGTH = struct.Struct(">I")


class KeyState(str, enum.Enum):
    """Lifecycle of a data key, as in Tink keysets."""

    PRIMARY = "primary"  # seals new values; opens old ones
    ENABLED = "enabled"  # opens values; seals nothing
    DISABLED = "disabled"  # kept, but opens nothing until re-enabled
    DESTROYED = "destroyed"  # material erased: its values are gone for good


@dataclass(frozen=True)
class FieldContext:
    """Where a sealed value lives; bound into its AAD so it cannot be moved."""

    vault_id: bytes
    collection: str
    record_id: str
    field: str


class Aead:
    """AES-256-GCM with 96-bit nonces and 128-bit tags; every failure to open is an IntegrityError."""

    __slots__ = ("_aesgcm",)

    def __init__(self, key: bytes) -> None:
        _check_key(key, "An AES-256-GCM key")
        self._aesgcm = AESGCM(key)

    def __repr__(self) -> str:
        return "Aead(AES-256-GCM)"

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Return ``ciphertext ‖ tag``."""
        if len(nonce) != NONCE_BYTES:
            raise ConfigurationError(f"A nonce must be {NONCE_BYTES} bytes.")
        return self._aesgcm.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Open ``ciphertext ‖ tag``; raise IntegrityError on any failure."""
        if len(nonce) != NONCE_BYTES or len(sealed) < TAG_BYTES:
            raise IntegrityError("A sealed value is truncated or malformed.")
        try:
            return self._aesgcm.decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError):
            raise IntegrityError("A sealed value failed authentication: it was altered, corrupted or moved.") from None


def _hkdf(secret: bytes, *, salt: bytes | None, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


def _check_key(key: bytes, what: str) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ConfigurationError(f"{what} must be exactly {KEY_BYTES} bytes; generate one with os.urandom(32).")


_MIN_DISTINCT_KEY_BYTES = 8  # a random 32-byte key has ~30; fewer than 8 happens with odds below 1e-36


def check_master_key(master_key: bytes) -> None:
    """Refuse a master key that is not random: all zeros, one repeated byte, a short repeated pattern.

    Raises:
        ConfigurationError: the key is not 32 bytes, or has fewer than 8 distinct byte values.
    """
    _check_key(master_key, "The master key")
    if len(set(master_key)) < _MIN_DISTINCT_KEY_BYTES:
        raise ConfigurationError(
            "The master key is not a random key (all zeros, or a byte or short pattern repeated); anyone could "
            "guess it. Use 32 random bytes: os.urandom(32), or `python -c \"import os,base64;"
            "print(base64.b64encode(os.urandom(32)).decode())\"` for VECVAULT_KEY. A vault already sealed "
            "under such a key: move it to a random one with `vecvault rotate --master PATH --new-key-file NEW`."
        )


def derive_kek(master_key: bytes, vault_id: bytes) -> bytes:
    """Derive the key-encryption key of one vault from the master key."""
    _check_key(master_key, "The master key")
    return _hkdf(master_key, salt=vault_id, info=_INFO_KEK)


def derive_file_key(master_key: bytes) -> str:
    """Derive libSQL's page-encryption key string: 32 base64url characters (libSQL reads only 32).

    It cannot depend on the vault id, which lives inside the encrypted file.
    """
    _check_key(master_key, "The master key")
    text = base64.urlsafe_b64encode(_hkdf(master_key, salt=None, info=_INFO_FILE_KEY, length=24)).decode()
    if len(text) != 32:  # never hand libSQL an empty or short key: "" silently disables encryption
        raise AssertionError("file key derivation produced a key of the wrong length")
    return text


def derive_subkey(data_key: bytes, purpose: str) -> bytes:
    """Derive a 32-byte subkey for one purpose (``"row-seal"``, ``"blind-index/<field>"``, ...)."""
    return _hkdf(data_key, salt=None, info=b"vecvault/v1/" + purpose.encode())


def _length_prefixed(parts: Iterable[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def encode_aad(header: bytes, context: FieldContext) -> bytes:
    """Return the AAD of a sealed field: every part length-prefixed, so no two contexts collide.

    The parts are: format tag, header, vault id, collection, record id, field name.
    """
    record_id = context.record_id.encode()
    field_name = context.field.encode()
    return b"".join(
        (
            _aad_prefix(header, context.vault_id, context.collection),
            _LENGTH.pack(len(record_id)),
            record_id,
            _LENGTH.pack(len(field_name)),
            field_name,
        )
    )


@functools.lru_cache(maxsize=1024)
def _aad_prefix(header: bytes, vault_id: bytes, collection: str) -> bytes:
    # The parts shared by every field of a collection under one key, encoded once (a hot path on search).
    return _length_prefixed((_AAD_TAG_FIELD, header, vault_id, collection.encode()))


def _wrap_aad(vault_id: bytes, key_id: int) -> bytes:
    return _length_prefixed((_AAD_TAG_WRAP, vault_id, struct.pack(">I", key_id)))


def wrap_data_key(kek: bytes, vault_id: bytes, key_id: int, material: bytes, *, nonce: bytes | None = None) -> bytes:
    """Seal a data key under the KEK: ``nonce ‖ ciphertext ‖ tag``."""
    _check_key(material, "A data key")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return nonce + AESGCM(kek).encrypt(nonce, material, _wrap_aad(vault_id, key_id))


def unwrap_data_key(kek: bytes, vault_id: bytes, key_id: int, wrapped: bytes) -> bytes:
    """Open a wrapped data key.

    Raises:
        WrongKeyError: the KEK (so the master key) does not open it.
    """
    try:
        material = AESGCM(kek).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(vault_id, key_id))
    except (InvalidTag, ValueError):
        raise WrongKeyError(
            "The master key does not open this vault. Check that the key provider points at this vault's "
            "key (keychain service/account, VECVAULT_KEY, key file or passphrase)."
        ) from None
    if len(material) != KEY_BYTES:
        raise WrongKeyError("A data key of this vault has the wrong length; the vault's key table is damaged.")
    return material


@dataclass(eq=False)
class DataKey:
    """One data key: its id, scope, state, material (absent once destroyed) and encryption count.

    ``scope`` is the collection the key seals (``""`` for vault-level values): each collection has its own
    keys, so destroying them shreds exactly that collection.
    """

    key_id: int
    state: KeyState
    scope: str = ""
    material: bytes | None = field(default=None, repr=False)
    encryptions: int = 0
    _aead: Aead | None = field(default=None, init=False, repr=False)

    @classmethod
    def generate(cls, key_id: int, scope: str = "", state: KeyState = KeyState.PRIMARY) -> DataKey:
        """Create a fresh random data key."""
        return cls(key_id=key_id, state=state, scope=scope, material=os.urandom(KEY_BYTES))

    @property
    def aead(self) -> Aead:
        """The AES-256-GCM instance for the row-sealing subkey, built once."""
        if self.material is None:
            raise IntegrityError(f"Data key {self.key_id} was destroyed; values it sealed cannot be opened.")
        if self._aead is None:
            self._aead = Aead(derive_subkey(self.material, "row-seal"))
        return self._aead

    def destroy(self) -> None:
        """Forget the key material (the caller persists the new state)."""
        self.material = None
        self._aead = None
        self.state = KeyState.DESTROYED


def _where(record_id: str, field_name: str) -> str:
    """Where a sealed value lives, for messages (ids and field names are plaintext by design)."""
    return f"record {record_id!r}, field {field_name!r}"


class Keyset:
    """The data keys of a vault: per scope, the primary seals and every enabled key opens (``MultiFernet``)."""

    def __init__(self, keys: Iterable[DataKey] = (), *, on_unknown_key: Callable[[int], None] | None = None) -> None:
        self._keys: dict[int, DataKey] = {}
        for key in keys:
            self._keys[key.key_id] = key
        # Called when a value names a key id this keyset lacks (another process may have just added it).
        self.on_unknown_key = on_unknown_key

    def __iter__(self) -> Iterator[DataKey]:
        return iter(sorted(self._keys.values(), key=lambda k: k.key_id))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        states = ", ".join(f"{k.key_id}:{k.state.value}" for k in self)
        return f"Keyset({states})"

    def get(self, key_id: int) -> DataKey | None:
        """Return the key with this id, if any."""
        return self._keys.get(key_id)

    def add(self, key: DataKey) -> None:
        """Add a key; it demotes the scope's previous primary, since one scope has one primary."""
        if key.key_id in self._keys:
            raise ConfigurationError(f"Data key id {key.key_id} already exists in this keyset.")
        if key.state is KeyState.PRIMARY:
            for other in self._keys.values():
                if other.state is KeyState.PRIMARY and other.scope == key.scope:
                    other.state = KeyState.ENABLED
        self._keys[key.key_id] = key

    def add_existing(self, key: DataKey) -> None:
        """Add a key loaded from storage as it is (no demotion of other keys)."""
        self._keys[key.key_id] = key

    def new_key_id(self) -> int:
        """Pick a random unused uint32 key id (never 0)."""
        while True:
            key_id = int.from_bytes(os.urandom(4), "big")
            if key_id and key_id not in self._keys:
                return key_id

    def primary_for(self, scope: str) -> DataKey | None:
        """The key that seals new values of a scope, if the scope has one."""
        for key in self._keys.values():
            if key.state is KeyState.PRIMARY and key.scope == scope:
                return key
        return None

    def primary(self, scope: str) -> DataKey:
        """The key that seals new values of a scope."""
        key = self.primary_for(scope)
        if key is None:
            raise IntegrityError(
                f"Scope {scope!r} has no primary data key (it was shredded, or the key table is damaged); "
                "run `vecvault verify`, or restore a backup."
            )
        return key

    def in_scope(self, scope: str) -> list[DataKey]:
        """Every key of a scope, by id."""
        return [k for k in self if k.scope == scope]

    def needs_rotation(self, scope: str, upcoming: int = 0) -> bool:
        """Whether sealing ``upcoming`` more values would pass the per-key encryption bound."""
        return self.primary(scope).encryptions + upcoming >= MAX_ENCRYPTIONS_PER_KEY

    # -- sealing -------------------------------------------------------------------------------------

    def seal(self, plaintext: bytes, context: FieldContext) -> bytes:
        """Seal one value with the primary key of the context's collection and a random nonce."""
        return self._seal_from_parts(self.primary(context.collection), plaintext, context, os.urandom(NONCE_BYTES))

    def seal_with_key(self, key: DataKey, plaintext: bytes, context: FieldContext) -> bytes:
        """Seal with a specific key (rotation re-seals under the new primary this way)."""
        return self._seal_from_parts(key, plaintext, context, os.urandom(NONCE_BYTES))

    def seal_field_batch(
        self,
        key: DataKey,
        vault_id: bytes,
        collection: str,
        record_ids: Sequence[str],
        field_name: str,
        plaintexts: Sequence[bytes | memoryview],
        *,
        nonces: bytes | None = None,
    ) -> list[bytes]:
        """Seal one field of many records with one key: the bulk path of ``add``.

        Each value is exactly what :meth:`seal_with_key` would produce for
        ``FieldContext(vault_id, collection, record_id, field_name)``, with its own random nonce;
        the key checks, the header and the shared AAD prefix are done once per batch instead of per value.

        Args:
            key: a primary or enabled key of ``collection``.
            vault_id: the vault id bound into every AAD.
            collection: the collection (and key scope).
            record_ids: one id per value.
            field_name: the field every value belongs to.
            plaintexts: the values, bytes or byte memoryviews.
            nonces: ``12 * len(record_ids)`` bytes of nonces: the seam for known-answer tests only.
        """
        count = len(record_ids)
        if len(plaintexts) != count:
            raise ConfigurationError(f"Got {len(plaintexts)} values for {count} record ids; pass one per record.")
        self._check_can_seal(key, collection)
        if nonces is None:
            nonces = os.urandom(NONCE_BYTES * count)
        elif len(nonces) != NONCE_BYTES * count:
            raise ConfigurationError(f"A nonce must be {NONCE_BYTES} bytes; pass {NONCE_BYTES} per value.")
        header = _HEADER.pack(FIELD_FORMAT_V1, key.key_id)
        prefix = _aad_prefix(header, vault_id, collection)
        name = field_name.encode()
        suffix = _LENGTH.pack(len(name)) + name
        encrypt = key.aead._aesgcm.encrypt
        pack_length = _LENGTH.pack
        out: list[bytes] = []
        for i, record_id in enumerate(record_ids):
            rid = record_id.encode()
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            out.append(header + nonce + encrypt(nonce, plaintexts[i], prefix + pack_length(len(rid)) + rid + suffix))
        key.encryptions += count
        return out

    @staticmethod
    def _check_can_seal(key: DataKey, collection: str) -> None:
        if key.state is not KeyState.PRIMARY and key.state is not KeyState.ENABLED:
            raise ConfigurationError(f"Data key {key.key_id} is {key.state.value}; it cannot seal.")
        if key.scope != collection:
            raise ConfigurationError(f"Data key {key.key_id} belongs to another collection; it cannot seal here.")

    def _seal_from_parts(self, key: DataKey, plaintext: bytes, context: FieldContext, nonce: bytes) -> bytes:
        """Seal with an explicit nonce: the seam for known-answer tests. Never reuse a nonce."""
        if len(nonce) != NONCE_BYTES:
            raise ConfigurationError(f"A nonce must be {NONCE_BYTES} bytes.")
        self._check_can_seal(key, context.collection)
        header = _HEADER.pack(FIELD_FORMAT_V1, key.key_id)
        sealed = key.aead.encrypt(nonce, plaintext, encode_aad(header, context))
        key.encryptions += 1
        return header + nonce + sealed

    def open(self, blob: bytes, context: FieldContext) -> bytes:
        """Open a sealed value.

        Raises:
            IntegrityError: for every failure: bad length, unknown version or key id, destroyed or
                disabled key, wrong context, any flipped bit.
        """
        if not isinstance(blob, bytes) or len(blob) < FIELD_OVERHEAD:
            raise IntegrityError(
                f"A sealed value is truncated or not a sealed value ({_where(context.record_id, context.field)})."
            )
        key = self._opening_key(blob, context.collection, context.record_id, context.field)
        header = blob[:HEADER_BYTES]
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            return key.aead.decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], encode_aad(header, context))
        except IntegrityError:
            raise IntegrityError(
                f"A sealed value failed authentication (record {context.record_id!r}, field "
                f"{context.field!r}): it was altered, corrupted or moved."
            ) from None

    def open_field_batch(
        self, vault_id: bytes, collection: str, record_ids: Sequence[str], field_name: str, blobs: Sequence[Any]
    ) -> list[bytes]:
        """Open one field of many records: the bulk path of loading a collection.

        Each value is checked exactly as :meth:`open` checks it for
        ``FieldContext(vault_id, collection, record_id, field_name)``; the key lookup and the shared AAD
        prefix are done once per key instead of per value.

        Raises:
            IntegrityError: the first value that fails to open, as :meth:`open` would raise it.
        """
        if len(blobs) != len(record_ids):
            raise ConfigurationError(f"Got {len(blobs)} values for {len(record_ids)} record ids; pass one per record.")
        name = field_name.encode()
        suffix = _LENGTH.pack(len(name)) + name
        pack_length = _LENGTH.pack
        by_header: dict[bytes, tuple[bytes, Callable[[bytes, bytes, bytes], bytes]]] = {}
        out: list[bytes] = []
        for record_id, blob in zip(record_ids, blobs, strict=True):
            if not isinstance(blob, bytes) or len(blob) < FIELD_OVERHEAD:
                raise IntegrityError(
                    f"A sealed value is truncated or not a sealed value ({_where(record_id, field_name)})."
                )
            header = blob[:HEADER_BYTES]
            cached = by_header.get(header)
            if cached is None:
                key = self._opening_key(blob, collection, record_id, field_name)
                cached = by_header[header] = (_aad_prefix(header, vault_id, collection), key.aead._aesgcm.decrypt)
            prefix, decrypt = cached
            rid = record_id.encode()
            try:
                out.append(
                    decrypt(
                        blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES],
                        blob[HEADER_BYTES + NONCE_BYTES :],
                        prefix + pack_length(len(rid)) + rid + suffix,
                    )
                )
            except (InvalidTag, ValueError):
                raise IntegrityError(
                    f"A sealed value failed authentication (record {record_id!r}, field "
                    f"{field_name!r}): it was altered, corrupted or moved."
                ) from None
        return out

    def _opening_key(self, blob: bytes, collection: str, record_id: str, field_name: str) -> DataKey:
        """The key named by a sealed value's header, if it may open values of ``collection``.

        ``record_id`` and ``field_name`` only name the value in messages.
        """
        version, key_id = _HEADER.unpack_from(blob)
        if version != FIELD_FORMAT_V1:
            raise IntegrityError(
                f"A sealed value has an unknown format version ({version}; {_where(record_id, field_name)})."
            )
        key = self._keys.get(key_id)
        if key is None and self.on_unknown_key is not None:
            self.on_unknown_key(key_id)
            key = self._keys.get(key_id)
        if key is None or key.material is None or key.state is KeyState.DISABLED or key.scope != collection:
            raise IntegrityError(
                f"A sealed value ({_where(record_id, field_name)}) names data key {key_id}, which this vault "
                "does not have or no longer enables (destroyed or disabled)."
            )
        return key

    @staticmethod
    def key_id_of(blob: bytes) -> int:
        """Return the key id in a sealed value's header (no authentication)."""
        if len(blob) < HEADER_BYTES:
            raise IntegrityError("A sealed value is truncated or not a sealed value.")
        return int(_HEADER.unpack_from(blob)[1])
