"""Records and their codec: validation of user input, and sealing/opening of the three sealed fields.

A record is stored as three independently sealed fields, ``text`` (UTF-8), ``metadata`` (compact JSON)
and ``vector`` (little-endian float32), each bound by its AAD to the vault, collection, record id and
field name, and to the write version ``rev`` the three fields of one write share (see
:mod:`vecvault.crypto`): every opener here takes the ``rev`` stored beside the fields, so fields of two
writes of a record never open together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import numpy as np
import numpy.typing as npt

from vecvault._validate import DATE_TYPES, MAX_METADATA_DEPTH, json_problem
from vecvault.crypto import DataKey, FieldContext, Keyset
from vecvault.errors import ConfigurationError, IntegrityError

__all__ = [
    "MAX_METADATA_DEPTH",
    "CollectionInfo",
    "Hit",
    "Record",
    "check_ids",
    "check_metadata",
    "check_vectors",
    "decode_metadata",
    "decode_vector",
    "encode_metadata",
    "encode_vector",
    "new_ids",
]

FIELD_TEXT = "text"
FIELD_METADATA = "metadata"
FIELD_VECTOR = "vector"
_MAX_ID_CHARS = 512
_VECTOR_DTYPE = np.dtype("<f4")

"""How deep a metadata value may nest lists and dicts: ``{"a": [1]}`` is 1, ``{"a": {"b": [1]}}`` is 2.

Real metadata nests a handful of levels (a loader's element metadata, a chat message's parts); 64 is far
above that and far below Python's recursion limit (1000 frames): at the limit this check, JSON encoding
and decoding each take about 75 frames and filter equality about 200, so they keep hundreds of frames of
headroom even when called deep inside a framework's stack. Deeper metadata (or a dict that contains
itself) raises ``ConfigurationError`` instead of ``RecursionError``; store a deeper structure as a JSON
string. Filter values have the same limit (``vecvault.filters``).
"""


@dataclass(frozen=True)
class Record:
    """A stored record, opened. ``repr`` shows the id only: text and metadata are private."""

    id: str
    text: str = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)
    vector: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's configuration and size: plaintext facts only (no secrets, no texts)."""

    name: str
    dim: int
    metric: str
    vectors: str
    model: str | None
    count: int
    snapshot_rev: int | None = None  # the revision its stored snapshot says it reflects (None: none stored)
    snapshot_bytes: int = 0  # the stored snapshot's size on disk (sealed)


@dataclass(frozen=True)
class Hit:
    """One search result, best first. ``score`` is a similarity (higher is better).

    ``relevance`` maps the score into [0, 1] and ``distance`` gives the metric's distance (lower is
    closer); :mod:`vecvault.index` documents both per metric.
    """

    id: str
    text: str = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)
    score: float
    relevance: float
    distance: float


def new_ids(n: int) -> list[str]:
    """Random record ids (UUID4, 32 hex characters): they reveal nothing, unlike user-chosen ids."""
    if n <= 0:
        return []
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.tobytes().hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def check_ids(ids: Sequence[Any], n: int) -> list[str]:
    """Validate user ids: strings, non-empty, unique within the batch, one per record."""
    if isinstance(ids, str):
        raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
    out = list(ids)
    if len(out) != n:
        raise ConfigurationError(f"Got {len(out)} ids for {n} records; pass exactly one id per record.")
    seen: set[str] = set()
    for i, record_id in enumerate(out):
        if not isinstance(record_id, str):
            raise ConfigurationError(
                f"ids[{i}] is a {type(record_id).__name__}; record ids must be strings (use str(the_id))."
            )
        if not record_id or len(record_id) > _MAX_ID_CHARS or "\x00" in record_id:
            raise ConfigurationError(
                f"ids[{i}] must be a non-empty string of at most {_MAX_ID_CHARS} characters without NUL."
            )
        if record_id in seen:
            raise ConfigurationError(
                f"The id {record_id!r} appears twice in one batch; ids must be unique within a batch."
            )
        seen.add(record_id)
    return out


def check_vectors(vectors: Any, *, n: int | None, dim: int | None) -> npt.NDArray[np.float32]:
    """Turn ``vectors`` into an ``(n, dim)`` float32 matrix of finite values, or raise ConfigurationError."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes inf, refused below
            matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise ConfigurationError(
            "vectors must be a 2-D numpy array or a sequence of equal-length float sequences."
        ) from None
    if matrix.ndim == 1 and matrix.size == 0:
        matrix = matrix.reshape(0, dim or 0)
    if matrix.ndim != 2:
        raise ConfigurationError(f"vectors must be 2-D (one row per record); got an array of shape {matrix.shape}.")
    if n is not None and matrix.shape[0] != n:
        raise ConfigurationError(f"Got {matrix.shape[0]} vectors for {n} texts; pass one vector per text.")
    if dim is not None and matrix.shape[1] != dim:
        raise ConfigurationError(
            f"Vectors have dimension {matrix.shape[1]} but this collection stores dimension {dim}; "
            "use the same embedding model, or another collection."
        )
    if matrix.shape[0] and matrix.shape[1] == 0:
        raise ConfigurationError("Vectors must have at least one dimension.")
    if not np.isfinite(matrix).all():
        bad = int(np.argwhere(~np.isfinite(matrix))[0][0])
        raise ConfigurationError(
            f"Vector {bad} holds NaN or infinity (or a value too large for float32); fix the embedding."
        )
    return np.ascontiguousarray(matrix)


def check_query(vector: Any, dim: int) -> npt.NDArray[np.float32]:
    """Validate a query vector: 1-D (or one row), the collection's dimension, finite."""
    rows = np.asarray(vector, dtype=np.float32).reshape(1, -1) if _is_1d(vector) else vector
    query: npt.NDArray[np.float32] = check_vectors(rows, n=1, dim=dim)[0]
    return query


def _is_1d(vector: Any) -> bool:
    try:
        return np.ndim(vector) == 1
    except (TypeError, ValueError):
        return False


def check_metadata(metadata: Any, path: str = "metadata") -> dict[str, Any]:
    """Check that metadata is a JSON object, and return it as the dict that will be stored.

    Dates and times (``datetime``, ``date``, ``time``) are stored as their ISO 8601 strings
    (``isoformat()``, UTC written ``Z``), the rule LlamaIndex applies to node metadata, so all three APIs agree and date
    ranges filter as strings (``{"day": {"$gte": "2024-01-01"}}``); they are read back as those strings.
    A tuple is stored as a list.

    Raises:
        ConfigurationError: not a dict, a key that is not a string, a value JSON cannot store (NaN, a
            set, bytes...), or values nested deeper than ``MAX_METADATA_DEPTH`` (or containing themselves).
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ConfigurationError(f"{path} must be a dict, not {type(metadata).__name__}.")
    if _check_json_value(metadata, path):
        converted: dict[str, Any] = _with_iso_dates(metadata)
        return converted
    return dict(metadata)


def _with_iso_dates(value: Any) -> Any:
    """A copy of a checked value with every date or time replaced by its ISO 8601 string."""
    if isinstance(value, DATE_TYPES):
        text = value.isoformat()
        # UTC as "Z", as pydantic (so LlamaIndex) writes it: the same instant is the same string everywhere.
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Mapping):
        return {key: _with_iso_dates(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_iso_dates(item) for item in value]
    return value


_JSON_SCALARS = frozenset({str, int, bool, type(None)})
_STRING_TYPE = frozenset({str})


def check_metadatas(metadatas: Sequence[Any], name: str = "metadatas") -> list[dict[str, Any]]:
    """Run :func:`check_metadata` on each item of a batch.

    A flat dict of strings, ints, bools and None is checked by its types alone: the common case of a bulk
    add, with no call and no error path built per record.
    """
    out: list[dict[str, Any]] = []
    append = out.append
    for i, metadata in enumerate(metadatas):
        if (
            type(metadata) is dict
            and _STRING_TYPE.issuperset(map(type, metadata))
            and _JSON_SCALARS.issuperset(map(type, metadata.values()))
        ):
            append(metadata.copy())
        else:
            append(check_metadata(metadata, f"{name}[{i}]"))
    return out


def _check_json_value(value: Any, path: str) -> bool:
    """Check a metadata dict (:mod:`vecvault._validate`); return whether it holds dates or times.

    Raises:
        ConfigurationError: what :func:`vecvault._validate.json_problem` found, with what to do.
    """
    if type(value) is dict and all(type(k) is str and type(v) in _JSON_SCALARS for k, v in value.items()):
        return False  # the common flat metadata dict, checked without a call per value
    problem, dates = json_problem(value, path)
    if problem is None:
        return dates
    where = problem.path if len(problem.path) <= 80 else f"{problem.path[:80]}..."
    if problem.kind == "not-finite":
        raise ConfigurationError(f"{where} is {problem.value}; JSON cannot store NaN or infinity. Use None instead.")
    if problem.kind == "deep":
        raise ConfigurationError(
            f"{where} nests lists and dicts more than {MAX_METADATA_DEPTH} levels deep "
            "(vecvault.records.MAX_METADATA_DEPTH), or contains itself; flatten it, or store the deep part "
            "as a JSON string."
        )
    if problem.kind == "key":
        raise ConfigurationError(
            f"{where} has the key {problem.value!r} of type {type(problem.value).__name__}; metadata keys must "
            "be strings."
        )
    raise ConfigurationError(
        f"{where} is a {type(problem.value).__name__}, which JSON cannot store; convert it to str, int, float, "
        "bool, None, list or dict (dates and times are stored as ISO 8601 strings)."
    )


_METADATA_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# JSONEncoder.encode builds a new C encoder on every call, which costs twice the encoding of a small dict.
# This one is built once, with the same settings. It skips the circular-reference check, which
# check_metadata has already done by walking the value.
_ENCODE_CHUNKS = (
    c_make_encoder(None, _METADATA_ENCODER.default, encode_basestring, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)


def encode_metadata(metadata: Mapping[str, Any]) -> bytes:
    """Compact JSON of checked metadata."""
    if _ENCODE_CHUNKS is not None:
        return "".join(_ENCODE_CHUNKS(metadata, 0)).encode()
    return _METADATA_ENCODER.encode(metadata).encode()


def decode_metadata(data: bytes) -> dict[str, Any]:
    """Parse opened metadata; anything but a JSON object means the vault is damaged."""
    try:
        value = json.loads(data)
    except ValueError:
        raise IntegrityError("An opened metadata field is not valid JSON; the vault is damaged.") from None
    except RecursionError:
        # check_metadata never lets a value nest deeper than MAX_METADATA_DEPTH, far below what json.loads
        # can decode, so only damage (or someone else's writer) produces one.
        raise IntegrityError(
            "An opened metadata field nests too deep to decode, which vecvault never writes; the vault is damaged."
        ) from None
    if not isinstance(value, dict):
        raise IntegrityError("An opened metadata field is not a JSON object; the vault is damaged.")
    return value


def encode_vector(vector: npt.NDArray[np.float32]) -> bytes:
    """Little-endian float32 bytes."""
    return np.asarray(vector, dtype=_VECTOR_DTYPE).tobytes()


def decode_vector(data: bytes, dim: int) -> npt.NDArray[np.float32]:
    """Parse an opened vector of the collection's dimension."""
    if len(data) != dim * 4:
        raise IntegrityError("An opened vector has the wrong length for its collection; the vault is damaged.")
    return np.frombuffer(data, dtype=_VECTOR_DTYPE).astype(np.float32)


class RecordSealer:
    """Seals and opens the fields of one collection's records."""

    def __init__(self, keyset: Keyset, vault_id: bytes, collection: str) -> None:
        self.keyset = keyset
        self.vault_id = vault_id
        self.collection = collection

    def context(self, record_id: str, field_name: str, rev: int) -> FieldContext:
        """The AAD context of one field of the write ``rev``."""
        return FieldContext(self.vault_id, self.collection, record_id, field_name, rev)

    def seal(self, record_id: str, field_name: str, plaintext: bytes, rev: int) -> bytes:
        """Seal one field of the write ``rev`` under the primary data key."""
        return self.keyset.seal(plaintext, self.context(record_id, field_name, rev))

    def seal_records(
        self,
        key: DataKey,
        record_ids: Sequence[str],
        texts: Sequence[bytes],
        metadatas: Sequence[bytes],
        vectors: npt.NDArray[np.float32],
        *,
        rev: int,
    ) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """Seal the text, metadata and vector fields of a batch of records under ``key``, as the write ``rev``.

        Returns:
            The sealed texts, metadatas and vectors, each in ``record_ids`` order.
        """
        matrix = np.ascontiguousarray(vectors, dtype=_VECTOR_DTYPE)
        step = matrix.shape[1] * _VECTOR_DTYPE.itemsize
        raw = matrix.data.cast("B")
        rows = [raw[i * step : (i + 1) * step] for i in range(matrix.shape[0])]
        batch = self.keyset.seal_field_batch
        return (
            batch(key, self.vault_id, self.collection, record_ids, FIELD_TEXT, texts, rev=rev),
            batch(key, self.vault_id, self.collection, record_ids, FIELD_METADATA, metadatas, rev=rev),
            batch(key, self.vault_id, self.collection, record_ids, FIELD_VECTOR, rows, rev=rev),
        )

    def open_vectors_into(
        self, record_ids: Sequence[str], blobs: Sequence[Any], revs: Sequence[Any], out: npt.NDArray[np.float32]
    ) -> None:
        """Open the vector fields of many records (each of its write ``revs[i]``) into ``out`` (little-endian)."""
        dim = out.shape[1]
        width = dim * _VECTOR_DTYPE.itemsize
        flat = out.data.cast("B")
        opened = self.keyset.open_field_batch(self.vault_id, self.collection, record_ids, FIELD_VECTOR, blobs, revs)
        for i, data in enumerate(opened):
            if len(data) != width:
                decode_vector(data, dim)  # raises the IntegrityError for a wrong length
            flat[i * width : (i + 1) * width] = data

    def open_texts(self, record_ids: Sequence[str], blobs: Sequence[Any], revs: Sequence[Any]) -> list[str]:
        """Open the text fields of many records (each of its write ``revs[i]``)."""
        opened = self.keyset.open_field_batch(self.vault_id, self.collection, record_ids, FIELD_TEXT, blobs, revs)
        texts: list[str] = []
        for record_id, data in zip(record_ids, opened, strict=True):
            try:
                texts.append(data.decode())
            except UnicodeDecodeError:
                raise IntegrityError(f"The text of record {record_id!r} is not UTF-8; the vault is damaged.") from None
        return texts

    def open_metadatas(
        self, record_ids: Sequence[str], blobs: Sequence[Any], revs: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """Open the metadata fields of many records (each of its write ``revs[i]``)."""
        opened = self.keyset.open_field_batch(self.vault_id, self.collection, record_ids, FIELD_METADATA, blobs, revs)
        return [decode_metadata(data) for data in opened]

    def open(self, record_id: str, field_name: str, blob: Any, rev: Any) -> bytes:
        """Open one field of the write ``rev``; any failure is an IntegrityError."""
        if not isinstance(blob, bytes):
            raise IntegrityError(f"The {field_name} field of record {record_id!r} is not a sealed value.")
        return self.keyset.open(blob, self.context(record_id, field_name, rev))

    def open_text(self, record_id: str, blob: Any, rev: Any) -> str:
        """Open a text field."""
        try:
            return self.open(record_id, FIELD_TEXT, blob, rev).decode()
        except UnicodeDecodeError:
            raise IntegrityError(f"The text of record {record_id!r} is not UTF-8; the vault is damaged.") from None

    def open_metadata(self, record_id: str, blob: Any, rev: Any) -> dict[str, Any]:
        """Open a metadata field."""
        return decode_metadata(self.open(record_id, FIELD_METADATA, blob, rev))

    def open_vector(self, record_id: str, blob: Any, rev: Any, dim: int) -> npt.NDArray[np.float32]:
        """Open a vector field."""
        return decode_vector(self.open(record_id, FIELD_VECTOR, blob, rev), dim)
