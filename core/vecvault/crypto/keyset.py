"""Data keys and the keyset: states, wrapping under the KEK, sealing and opening fields (``MultiFernet``)."""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vecvault.crypto.aead import _LENGTH, NONCE_BYTES, Aead, _length_prefixed
from vecvault.crypto.field import (
    _HEADER,
    _MAX_REV,
    _REV_PART,
    FIELD_FORMAT_V1,
    FIELD_FORMAT_V2,
    FIELD_OVERHEAD,
    HEADER_BYTES,
    FieldContext,
    _aad_prefix,
    _aad_prefix_v1,
    _check_rev,
    _rev_part,
    encode_aad,
)
from vecvault.crypto.kdf import KEY_BYTES, _check_key, derive_subkey
from vecvault.errors import ConfigurationError, IntegrityError, WrongKeyError

KEY_FORMAT_LEGACY = 1  # opens v1 fields only; never seals

KEY_FORMAT_V2 = 2  # seals and opens v2 fields only

# NIST SP 800-38D bounds random 96-bit nonces at 2^32 messages per key; rotate with a wide margin.
MAX_ENCRYPTIONS_PER_KEY = 2**31

_MAX_KEY_ID = 2**32 - 1

_AAD_TAG_WRAP = {KEY_FORMAT_LEGACY: b"vecvault/datakey-wrap/v1", KEY_FORMAT_V2: b"vecvault/datakey-wrap/v2"}

# The field format each key format seals (v2) or opens.
_FIELD_FORMAT_OF_KEY = {KEY_FORMAT_LEGACY: FIELD_FORMAT_V1, KEY_FORMAT_V2: FIELD_FORMAT_V2}


class KeyState(str, enum.Enum):
    """Lifecycle of a data key, as in Tink keysets."""

    PRIMARY = "primary"  # seals new values; opens old ones
    ENABLED = "enabled"  # opens values; seals nothing
    DISABLED = "disabled"  # kept, but opens nothing until re-enabled
    DESTROYED = "destroyed"  # material erased: its values are gone for good


def _wrap_aad(vault_id: bytes, key_id: int, key_format: int) -> bytes:
    return _length_prefixed((_AAD_TAG_WRAP[key_format], vault_id, struct.pack(">I", key_id)))


def wrap_data_key(
    kek: bytes,
    vault_id: bytes,
    key_id: int,
    material: bytes,
    *,
    nonce: bytes | None = None,
    key_format: int = KEY_FORMAT_V2,
) -> bytes:
    """Seal a data key under the KEK: ``nonce ‖ ciphertext ‖ tag``; the wrap AAD binds the key's format."""
    _check_key(material, "A data key")
    if key_format not in _AAD_TAG_WRAP:
        raise ConfigurationError(f"Unknown data key format {key_format!r}.")
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return nonce + AESGCM(kek).encrypt(nonce, material, _wrap_aad(vault_id, key_id, key_format))


def unwrap_data_key(kek: bytes, vault_id: bytes, key_id: int, wrapped: bytes) -> bytes:
    """Open a wrapped data key of either format (see :func:`unwrap_data_key_with_format`)."""
    return unwrap_data_key_with_format(kek, vault_id, key_id, wrapped)[0]


def unwrap_data_key_with_format(kek: bytes, vault_id: bytes, key_id: int, wrapped: bytes) -> tuple[bytes, int]:
    """Open a wrapped data key; return its material and its format (authenticated by the wrap).

    A wrapped key carries no format byte: it opens under exactly one format's wrap AAD, tried v2 first.

    Raises:
        WrongKeyError: the KEK (so the master key) does not open it.
    """
    aesgcm = AESGCM(kek)
    for key_format in (KEY_FORMAT_V2, KEY_FORMAT_LEGACY):
        try:
            material = aesgcm.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(vault_id, key_id, key_format)
            )
        except (InvalidTag, ValueError):
            continue
        if len(material) != KEY_BYTES:
            raise WrongKeyError("A data key of this vault has the wrong length; the vault's key table is damaged.")
        return material, key_format
    raise WrongKeyError(
        "The master key does not open this vault. Check that the key provider points at this vault's "
        "key (keychain service/account, VECVAULT_KEY, key file or passphrase)."
    )


@dataclass(eq=False)
class DataKey:
    """One data key: its id, scope, state, material (absent once destroyed), encryption count and format.

    ``scope`` is the collection the key seals (``""`` for vault-level values): each collection has its own
    keys, so destroying them shreds exactly that collection. ``key_format`` is :data:`KEY_FORMAT_V2` for
    every key made now; :data:`KEY_FORMAT_LEGACY` keys only open the v1 fields they sealed long ago.
    """

    key_id: int
    state: KeyState
    scope: str = ""
    material: bytes | None = field(default=None, repr=False)
    encryptions: int = 0
    key_format: int = KEY_FORMAT_V2
    _aead: Aead | None = field(default=None, init=False, repr=False)
    _subkeys: dict[str, bytes] = field(default_factory=dict, init=False, repr=False)

    @property
    def legacy(self) -> bool:
        """Whether this is a legacy (v1) key: it opens v1 fields only and never seals."""
        return self.key_format == KEY_FORMAT_LEGACY

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

    def subkey(self, purpose: str) -> bytes:
        """The HKDF subkey of this data key for one purpose (``"blind-index/kv"``, ...), derived once."""
        if self.material is None:
            raise IntegrityError(f"Data key {self.key_id} was destroyed; values it sealed cannot be opened.")
        derived = self._subkeys.get(purpose)
        if derived is None:
            derived = self._subkeys[purpose] = derive_subkey(self.material, purpose)
        return derived

    def forget(self) -> None:
        """Drop the key material from memory (a closed vault); the stored state is unchanged."""
        self.material = None
        self._aead = None
        self._subkeys.clear()

    def destroy(self) -> None:
        """Forget the key material (the caller persists the new state)."""
        self.material = None
        self._aead = None
        self._subkeys.clear()
        self.state = KeyState.DESTROYED


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

    def has_live_legacy_keys(self, scope: str | None = None) -> bool:
        """Whether a legacy (v1) key of ``scope`` (of any scope if None) still opens values."""
        return any(
            k.legacy and k.material is not None and k.state in (KeyState.PRIMARY, KeyState.ENABLED)
            for k in self._keys.values()
            if scope is None or k.scope == scope
        )

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
        rev: int,
        nonces: bytes | None = None,
    ) -> list[bytes]:
        """Seal one field of many records with one key: the bulk path of ``add``.

        Each value is exactly what :meth:`seal_with_key` would produce for
        ``FieldContext(vault_id, collection, record_id, field_name, rev)``, with its own random nonce;
        the key checks, the header and the shared AAD prefix (write version included: one write, one rev)
        are done once per batch instead of per value.

        Args:
            key: a primary or enabled v2 key of ``collection``.
            vault_id: the vault id bound into every AAD.
            collection: the collection (and key scope).
            record_ids: one id per value.
            field_name: the field every value belongs to.
            plaintexts: the values, bytes or byte memoryviews.
            rev: the write version of this write (the same for every field of it).
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
        header = _HEADER.pack(FIELD_FORMAT_V2, key.key_id)
        prefix = _aad_prefix(header, vault_id, collection) + _check_rev(rev)
        name = field_name.encode()
        suffix = _LENGTH.pack(len(name)) + name
        encrypt = key.aead.encrypt_unchecked
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
        if key.key_format != KEY_FORMAT_V2:
            raise ConfigurationError(f"Data key {key.key_id} is a legacy (v1) key: it only opens old values.")
        if key.scope != collection:
            raise ConfigurationError(f"Data key {key.key_id} belongs to another collection; it cannot seal here.")

    def _seal_from_parts(self, key: DataKey, plaintext: bytes, context: FieldContext, nonce: bytes) -> bytes:
        """Seal with an explicit nonce: the seam for known-answer tests. Never reuse a nonce."""
        if len(nonce) != NONCE_BYTES:
            raise ConfigurationError(f"A nonce must be {NONCE_BYTES} bytes.")
        self._check_can_seal(key, context.collection)
        _check_rev(context.rev)
        header = _HEADER.pack(FIELD_FORMAT_V2, key.key_id)
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
                f"The {context.field} field of record {context.record_id!r} is truncated or not a sealed value."
            )
        key = self._opening_key(blob, context.collection, context.record_id, context.field)
        header = blob[:HEADER_BYTES]
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        try:
            aad = encode_aad(header, context)
            return key.aead.decrypt(nonce, blob[HEADER_BYTES + NONCE_BYTES :], aad)
        except IntegrityError:
            raise IntegrityError(
                f"A sealed value failed authentication (record {context.record_id!r}, field "
                f"{context.field!r}): it was altered, corrupted or moved."
            ) from None

    def open_field_batch(
        self,
        vault_id: bytes,
        collection: str,
        record_ids: Sequence[str],
        field_name: str,
        blobs: Sequence[Any],
        revs: Sequence[Any],
    ) -> list[bytes]:
        """Open one field of many records: the bulk path of loading a collection.

        Each value is checked exactly as :meth:`open` checks it for
        ``FieldContext(vault_id, collection, record_id, field_name, rev)``; the key lookup is done once per
        header, and the shared AAD prefix once per run of neighbouring values of one (header, rev): the
        records of one write are neighbours in storage order.

        Raises:
            IntegrityError: the first value that fails to open, as :meth:`open` would raise it.
        """
        if not len(blobs) == len(record_ids) == len(revs):
            raise ConfigurationError(
                f"Got {len(blobs)} values and {len(revs)} revs for {len(record_ids)} record ids; pass one per record."
            )
        name = field_name.encode()
        suffix = _LENGTH.pack(len(name)) + name
        pack_length = _LENGTH.pack
        pack_rev = _REV_PART.pack
        by_header: dict[bytes, tuple[bytes, Callable[[bytes, bytes, bytes], bytes], bool]] = {}
        last_header = last_rev = None
        prefix = b""
        out: list[bytes] = []
        for record_id, blob, rev in zip(record_ids, blobs, revs, strict=True):
            if not isinstance(blob, bytes) or len(blob) < FIELD_OVERHEAD:
                raise IntegrityError(
                    f"The {field_name} field of record {record_id!r} is truncated or not a sealed value."
                )
            header = blob[:HEADER_BYTES]
            cached = by_header.get(header)
            if cached is None:
                key = self._opening_key(blob, collection, record_id, field_name)
                if key.legacy:
                    cached = (_aad_prefix_v1(header, vault_id, collection), key.aead.decrypt_unchecked, False)
                else:
                    cached = (_aad_prefix(header, vault_id, collection), key.aead.decrypt_unchecked, True)
                by_header[header] = cached
            base, decrypt, versioned = cached
            if not versioned:
                prefix = base
                last_header = None
            elif rev != last_rev or header != last_header:
                # Rows come in storage order, where the records of one write are neighbours: the prefix is
                # built once per run of a (header, rev).
                last_header, last_rev = header, rev
                if type(rev) is not int or not 0 <= rev <= _MAX_REV:
                    _rev_part(rev)  # raises the IntegrityError
                prefix = base + pack_rev(8, rev)
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
        """The key named by a sealed value's header, if it may open values of ``collection`` in that format."""
        version, key_id = _HEADER.unpack_from(blob)
        where = f"(record {record_id!r}, field {field_name!r})"
        if version != FIELD_FORMAT_V2 and version != FIELD_FORMAT_V1:
            raise IntegrityError(f"A sealed value {where} has an unknown format version ({version}).")
        key = self._keys.get(key_id)
        if key is None and self.on_unknown_key is not None:
            self.on_unknown_key(key_id)
            key = self._keys.get(key_id)
        if key is None or key.material is None or key.state is KeyState.DISABLED or key.scope != collection:
            raise IntegrityError(
                f"A sealed value {where} names data key {key_id}, which this vault does not have or no longer "
                "enables (destroyed or disabled)."
            )
        if _FIELD_FORMAT_OF_KEY.get(key.key_format) != version:
            # A v2 key never opens a v1 field (no downgrade), and a legacy key never opens a v2 field.
            raise IntegrityError(
                f"A sealed value {where} of format {version} names data key {key_id}, which opens another format."
            )
        return key

    @staticmethod
    def key_id_of(blob: bytes) -> int:
        """Return the key id in a sealed value's header (no authentication)."""
        if len(blob) < HEADER_BYTES:
            raise IntegrityError("A sealed value is truncated or not a sealed value.")
        return int(_HEADER.unpack_from(blob)[1])
