"""Pure translation helpers between vecvault's records and LangChain's ``Document``.

Nothing here touches the database or the key: these functions only reshape values the core returned, so
the adapter stays a translation layer (all sealing, SQL, filtering, scoring and MMR live in the core).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document

from vecvault import ConfigurationError, Hit, Record
from vecvault.index import normalize_metric, relevance
from vecvault.records import new_ids
from vecvault.storage import display_location

__all__ = [
    "CHROMA_INCLUDE",
    "check_batch_size",
    "check_embeddings",
    "chroma_get_result",
    "fill_ids",
    "hit_to_document",
    "hits_to_documents",
    "hits_with_distance",
    "hits_with_relevance",
    "record_to_document",
    "redact_location",
    "reject_unknown_kwargs",
    "relevance_from_distance",
]


CHROMA_INCLUDE = ("documents", "metadatas", "embeddings")
"""What ``VecVaultVectorStore.get(include=...)`` can return, as Chroma names it."""


def check_embeddings(embedding: Any) -> None:
    """Accept what LangChain accepts: any object with ``embed_documents`` and ``embed_query``.

    ``langchain_core``'s own stores take any such object (an ``Embeddings`` subclass, a duck-typed class,
    ``unittest.mock.Mock(wraps=embeddings)``); the async methods use ``aembed_documents`` /
    ``aembed_query`` when it has them and run the sync ones in a worker thread when it does not.

    Raises:
        ConfigurationError: ``None``, or an object without those two methods.
    """
    methods = ("embed_documents", "embed_query")
    if embedding is None or not all(callable(getattr(embedding, name, None)) for name in methods):
        raise ConfigurationError(
            f"embedding must be a LangChain Embeddings (or any object with embed_documents and embed_query), "
            f"not {type(embedding).__name__}."
        )


def chroma_get_result(records: Sequence[Record], include: Sequence[str]) -> dict[str, Any]:
    """Records as Chroma's ``get`` returns them: parallel lists under ``ids``, ``documents``, ``metadatas``.

    A field not in ``include`` is ``None`` (Chroma's shape); ``included`` lists what was asked.
    """
    return {
        "ids": [r.id for r in records],
        "documents": [r.text for r in records] if "documents" in include else None,
        "metadatas": [r.metadata for r in records] if "metadatas" in include else None,
        "embeddings": [[float(x) for x in r.vector] for r in records if r.vector is not None]
        if "embeddings" in include
        else None,
        "included": list(include),
    }


def hit_to_document(hit: Hit) -> Document:
    """A search hit as a ``Document`` whose ``id`` is the record id."""
    return Document(id=hit.id, page_content=hit.text, metadata=hit.metadata)


def record_to_document(record: Record) -> Document:
    """A stored record as a ``Document`` whose ``id`` is the record id."""
    return Document(id=record.id, page_content=record.text, metadata=record.metadata)


def hits_to_documents(hits: Iterable[Hit]) -> list[Document]:
    """Documents of the hits, best first."""
    return [hit_to_document(hit) for hit in hits]


def hits_with_distance(hits: Iterable[Hit]) -> list[tuple[Document, float]]:
    """``(document, distance)`` pairs, best (lowest distance) first."""
    return [(hit_to_document(hit), float(hit.distance)) for hit in hits]


def hits_with_relevance(
    hits: Iterable[Hit], override: Callable[[float], float] | None = None
) -> list[tuple[Document, float]]:
    """``(document, relevance)`` pairs, relevance in [0, 1] (1 is most similar), best first.

    Args:
        hits: the core's hits.
        override: a user's ``distance -> relevance`` function; by default the core's ``Hit.relevance``.

    Raises:
        ConfigurationError: ``override`` returned a value outside [0, 1].
    """
    if override is None:
        return [(hit_to_document(hit), float(hit.relevance)) for hit in hits]
    out: list[tuple[Document, float]] = []
    for hit in hits:
        value = float(override(hit.distance))
        if not 0.0 <= value <= 1.0:
            # Checked here: LangChain's own out-of-range warning would print the documents' text.
            raise ConfigurationError(
                f"relevance_score_fn returned {value} for the distance {hit.distance}; it must return a value "
                "in [0, 1]."
            )
        out.append((hit_to_document(hit), value))
    return out


def relevance_from_distance(metric: str) -> Callable[[float], float]:
    """The ``distance -> relevance`` function of ``metric``, the same as the core's ``Hit.relevance``.

    LangChain's convention, as in langchain-chroma and PGVector, clamped into [0, 1]: ``1 - distance`` for
    cosine, ``-distance`` (the inner product) for dot, ``1 - distance / sqrt(2)`` for euclidean
    (:func:`vecvault.index.relevance`).
    """
    name = normalize_metric(metric)

    def from_distance(distance: float) -> float:
        return relevance(name, distance)

    return from_distance


def fill_ids(ids: Sequence[str | None] | None, count: int) -> list[str] | None:
    """Replace missing ids (``None`` or ``""``) by fresh random ones; ``None`` when no id was given at all."""
    if ids is None:
        return None
    if isinstance(ids, str):
        raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
    given = list(ids)
    if len(given) != count:
        raise ConfigurationError(f"Got {len(given)} ids for {count} texts; pass exactly one id per text.")
    if all(i is None or i == "" for i in given):
        return None
    fresh = iter(new_ids(sum(1 for i in given if i is None or i == "")))
    return [next(fresh) if i is None or i == "" else i for i in given]


def check_batch_size(batch_size: Any) -> int:
    """Validate ``batch_size``: a positive int."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigurationError(f"batch_size must be a positive int, not {batch_size!r}.")
    return batch_size


def reject_unknown_kwargs(method: str, kwargs: dict[str, Any], supported: Sequence[str]) -> None:
    """Raise for keyword arguments a method does not use, instead of ignoring them silently."""
    if kwargs:
        raise ConfigurationError(
            f"{method}() got unsupported keyword argument(s) {sorted(kwargs)}; it accepts {', '.join(supported)}."
        )


def redact_location(location: str) -> str:
    """A vault location safe to show (:func:`vecvault.storage.display_location`: no credentials, no query)."""
    return display_location(location)
