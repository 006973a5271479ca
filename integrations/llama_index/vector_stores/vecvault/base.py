"""``VecVaultVectorStore``: LlamaIndex's ``BasePydanticVectorStore`` over an encrypted vecvault collection."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, Final

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from llama_index.vector_stores.vecvault.filters import to_vecvault_filter
from vecvault import Collection, ConfigurationError, Hit, Record, Vault
from vecvault.filters import And, Compare, Filter
from vecvault.index import similarity
from vecvault.integration import VaultOwner
from vecvault.keys.base import KeyProvider

__all__ = ["DEFAULT_COLLECTION", "DEFAULT_MMR_PREFETCH_FACTOR", "NODE_ID_KEY", "VecVaultVectorStore"]

DEFAULT_COLLECTION: Final = "llama_index"
DEFAULT_MMR_THRESHOLD: Final = 0.5
DEFAULT_MMR_PREFETCH_FACTOR: Final = 4.0
NODE_ID_KEY: Final = "_node_id"
"""Sealed metadata key holding the node id, so ``node_ids`` combine with filters inside one core query."""
REF_DOC_ID_KEY: Final = "ref_doc_id"
SUPPORTED_MODES: Final = (
    VectorStoreQueryMode.DEFAULT,
    VectorStoreQueryMode.MMR,
    VectorStoreQueryMode.TEXT_SEARCH,
    VectorStoreQueryMode.SPARSE,
    VectorStoreQueryMode.HYBRID,
)
_TEXT_MODES: Final = (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.SPARSE)


class VecVaultVectorStore(VaultOwner, BasePydanticVectorStore):
    """An encrypted, local-first LlamaIndex vector store: text, metadata and embeddings sealed at rest.

    Nodes are stored in one vecvault collection. The node text is the record's text; everything else
    LlamaIndex keeps (``_node_content`` with relationships, ``ref_doc_id``/``doc_id``/``document_id``,
    the node's metadata, nested values included) goes into the record's sealed metadata.

    Setup:
        .. code-block:: bash

            pip install 'vecvault[llama-index]'

    Instantiate:
        .. code-block:: python

            from vecvault import Vault
            from llama_index.vector_stores.vecvault import VecVaultVectorStore

            # The master key: VECVAULT_KEY if set, else the OS keychain (or key=...).
            vault = Vault.open("rag.db")
            store = VecVaultVectorStore(vault=vault, collection_name="docs")
            # or let the store open (and later close) the vault itself:
            # store = VecVaultVectorStore.from_params(path="rag.db", collection_name="docs")

    Use with an index:
        .. code-block:: python

            from llama_index.core import Document, StorageContext, VectorStoreIndex

            docs = [Document(text="sealed at rest", doc_id="d1", metadata={"year": 2024})]
            ctx = StorageContext.from_defaults(vector_store=store)
            index = VectorStoreIndex.from_documents(docs, storage_context=ctx, embed_model=embed_model)
            index.as_retriever(similarity_top_k=3).retrieve("what is sealed?")

    Search with filter:
        .. code-block:: python

            from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

            filters = MetadataFilters(filters=[MetadataFilter(key="year", operator=">=", value=2020)])
            index.as_retriever(filters=filters).retrieve("recent work")

    MMR:
        .. code-block:: python

            index.as_retriever(
                vector_store_query_mode="mmr", vector_store_kwargs={"mmr_threshold": 0.3, "mmr_prefetch_k": 40}
            )

    Keyword and hybrid search (``pip install 'vecvault[text]'``):
        .. code-block:: python

            index.as_retriever(vector_store_query_mode="text_search").retrieve("PyArg_ParseTuple")  # BM25
            index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5, similarity_top_k=5).retrieve("q")
            index.as_retriever(vector_store_query_mode="hybrid").retrieve("q")  # no alpha: RRF

    Delete:
        .. code-block:: python

            store.delete("d1")                             # every node of a source document
            store.delete_nodes(node_ids=["a-node-id"], filters=filters)
            store.clear()
            vault.close()

    Async: ``async_add``, ``adelete``, ``adelete_nodes``, ``aget_nodes``, ``aclear`` and ``aquery`` run the
    vault's work in a worker thread, so the event loop never blocks.
    """

    stores_text: bool = True
    flat_metadata: bool = False
    collection_name: str = Field(default=DEFAULT_COLLECTION, description="The vecvault collection holding the nodes.")
    dim: int | None = Field(default=None, description="Embedding dimension; None takes it from the first nodes.")
    metric: str | None = Field(
        default=None,
        description="The collection's metric, 'cosine', 'dot' or 'euclidean' (set from the collection once bound).",
    )

    _vault: Vault = PrivateAttr()
    _collection: Collection = PrivateAttr()
    _owns_vault: bool = PrivateAttr(default=False)

    def __init__(
        self,
        vault: Vault,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        dim: int | None = None,
        metric: str | None = None,
        index: str | None = None,
        model: str | None = None,
        vectors: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Wrap a collection of an open vault (the caller keeps ownership of the vault).

        An existing collection opens as it was created: its dimension, metric, vector mode, model and index
        mode are stored with it, so none of them needs repeating.

        Args:
            vault: an open :class:`vecvault.Vault`.
            collection_name: the collection to use; created on first use.
            dim: the embedding dimension, or None to take it from the collection or the first nodes added.
            metric: ``"cosine"``, ``"dot"`` or ``"euclidean"``. None reopens an existing collection as it was
                created (a new one gets the core's default, cosine); a value that conflicts with the stored
                one raises ConfigurationError. The ``metric`` field reports the collection's actual metric.
            index: ``"exact"``, ``"hnsw"`` (approximate, needs hnswlib) or ``"auto"`` (see
                :meth:`vecvault.Vault.collection`). None reopens an existing collection with the mode it was
                created with (a new one: exact); a value given here applies to this process only on an
                existing collection (the stored mode stays for the next open), and is stored with a new one.
            model: the embedding model's name; when given it is recorded and checked on every reopen (a
                different stored name raises ConfigurationError).
            vectors: ``"sealed"`` or ``"plain"`` (see :meth:`vecvault.Vault.collection` before using it).
                None reopens an existing collection as it was created (a new one: sealed); a value that
                conflicts with the stored one raises ConfigurationError.
            **kwargs: other pydantic fields (``flat_metadata``).

        Raises:
            ConfigurationError: ``vault`` is not a Vault, the collection exists with another dim, metric,
                vector mode or model, or an unknown metric or index mode.
        """
        if not isinstance(vault, Vault):
            raise ConfigurationError(
                f"vault must be an open vecvault.Vault, not {type(vault).__name__}; "
                "use VecVaultVectorStore.from_params(path=..., key=...) to open one from a path."
            )
        super().__init__(collection_name=collection_name, dim=dim, metric=metric, **kwargs)  # type: ignore[call-arg]
        self._vault = vault
        self._collection = vault.collection(
            collection_name, dim=dim, metric=metric, vectors=vectors, model=model, index=index
        )
        self._owns_vault = False
        self.metric = self._collection.metric  # as stored (or the core's default), not the argument

    @classmethod
    def from_params(
        cls,
        path: str | os.PathLike[str],
        key: KeyProvider | bytes | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        dim: int | None = None,
        metric: str | None = None,
        file_encryption: bool | None = None,
        *,
        index: str | None = None,
        model: str | None = None,
        vectors: str | None = None,
        **open_kwargs: Any,
    ) -> VecVaultVectorStore:
        """Open (or create) a vault at ``path`` and return a store that closes it on :meth:`close`.

        Args:
            path: a file path, ``":memory:"`` or a libSQL URL.
            key: the master key provider (default: ``VECVAULT_KEY``, else the OS keychain) or 32 raw bytes.
            collection_name: the collection to use.
            dim: the embedding dimension, or None.
            metric: ``"cosine"``, ``"dot"`` or ``"euclidean"``. None reopens an existing collection as it was
                created (a new one: cosine); a value that conflicts with the stored one raises
                ConfigurationError.
            file_encryption: libSQL page encryption; None turns it on for new files and detects it otherwise.
            index: ``"exact"``, ``"hnsw"`` or ``"auto"``. None reopens an existing collection with its stored
                mode (a new one: exact); a value applies to this process only on an existing collection.
            model: the embedding model's name, recorded and checked on every reopen when given.
            vectors: ``"sealed"`` or ``"plain"``; None reopens an existing collection as it was created (a new
                one: sealed); a value that conflicts with the stored one raises ConfigurationError.
            **open_kwargs: passed to :meth:`vecvault.Vault.open` (``auth_token``, ``sync_url``, ...).
        """
        vault = Vault.open(path, key=key, file_encryption=file_encryption, **open_kwargs)
        try:
            store = cls(
                vault=vault,
                collection_name=collection_name,
                dim=dim,
                metric=metric,
                index=index,
                model=model,
                vectors=vectors,
            )
        except BaseException:
            vault.close()
            raise
        store._owns_vault = True
        return store

    @classmethod
    def class_name(cls) -> str:
        """The LlamaIndex component name."""
        return "VecVaultVectorStore"

    @property
    def client(self) -> Vault:
        """The underlying :class:`vecvault.Vault`."""
        return self._vault

    @property
    def collection(self) -> Collection:
        """The underlying :class:`vecvault.Collection`."""
        return self._collection

    # -- writes ------------------------------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert nodes (by node id) in one transaction; return their ids in input order.

        Raises:
            ConfigurationError: a node has no embedding, or its embedding has the wrong dimension.
        """
        nodes = list(nodes)
        if not nodes:
            return []
        last: dict[str, int] = {}
        for i, node in enumerate(nodes):
            if node.embedding is None:
                raise ConfigurationError(
                    f"Node {node.node_id!r} has no embedding; embed nodes before adding them "
                    "(VectorStoreIndex does it when given an embed_model)."
                )
            last[node.node_id] = i  # a node id given twice: the later node wins, as an upsert would
        batch = [nodes[i] for i in sorted(last.values())]
        texts = [node.get_content(metadata_mode=MetadataMode.NONE) for node in batch]
        metadatas = [self._node_metadata(node) for node in batch]
        vectors = [node.get_embedding() for node in batch]
        self._collection.add(texts=texts, vectors=vectors, metadatas=metadatas, ids=[n.node_id for n in batch])
        return [node.node_id for node in nodes]

    def _node_metadata(self, node: BaseNode) -> dict[str, Any]:
        metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
        metadata[NODE_ID_KEY] = node.node_id
        return metadata

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Async :meth:`add` (runs in a worker thread)."""
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node whose source document is ``ref_doc_id``; an unknown id deletes nothing."""
        self._collection.delete(filter=Compare(REF_DOC_ID_KEY, "eq", ref_doc_id))

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Async :meth:`delete`."""
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filter (both given: the ids that also match the filter).

        As ``SimpleVectorStore`` and the Chroma store: an empty ``node_ids`` list deletes nothing, whatever the
        filter. Deleting everything takes :meth:`clear`, never an accidental call without arguments.

        Raises:
            ConfigurationError: neither ``node_ids`` nor ``filters`` was given (use :meth:`clear`).
        """
        parsed = to_vecvault_filter(filters)
        if node_ids is None and parsed is None:
            raise ConfigurationError("delete_nodes() needs node_ids or filters; to delete every node use clear().")
        if node_ids is not None:
            if not node_ids:
                return
            _check_node_ids(node_ids)
        self._collection.delete(ids=node_ids, filter=parsed)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Async :meth:`delete_nodes`."""
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    def clear(self) -> None:
        """Delete every node of the collection (its dimension and metric stay)."""
        self._collection.clear()

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await asyncio.to_thread(self.clear)

    # -- reads -------------------------------------------------------------------------------------------

    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Nodes by id (in the order asked, unknown ids skipped) and/or filter; with neither, every node.

        As the Chroma store: ``node_ids`` and ``filters`` together give the listed nodes that match, and an
        empty ``node_ids`` list is no restriction (like ``None``). Returned nodes carry their embedding.
        """
        parsed = to_vecvault_filter(filters)
        if node_ids is not None:
            _check_node_ids(node_ids)
        records = self._collection.get(ids=node_ids or None, filter=parsed, include_vectors=True)
        return [_record_to_node(record) for record in records]

    async def aget_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Async :meth:`get_nodes`."""
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Nodes for ``query``, honouring filters, ``doc_ids`` and ``node_ids``, best first.

        Modes:

        - ``DEFAULT``: exact similarity to ``query.query_embedding``. Without an embedding, as the Chroma
          store: up to ``similarity_top_k`` nodes matching the filters, without similarities.
        - ``MMR``: ``mmr_threshold`` is the relevance/diversity trade-off ``lambda_mult`` (1 = pure
          relevance; default 0.5); as in ``SimpleVectorStore``, the ``mmr_threshold`` keyword wins over
          ``query.mmr_threshold``, even when it is ``None`` (the default). ``mmr_prefetch_k`` or
          ``mmr_prefetch_factor`` (default 4 x top k, never both) size the candidate pool.
        - ``TEXT_SEARCH`` and ``SPARSE``: BM25 over the sealed texts (vecvault's sparse retrieval is
          lexical), ``query.query_str`` only, no embedding; ``sparse_top_k`` (else ``similarity_top_k``)
          hits, as the Postgres store does.
        - ``HYBRID``: the dense and the BM25 rankings fused; ``query_str`` and ``query_embedding`` both
          needed. With ``query.alpha`` (0 = text only, 1 = dense only) relative-score fusion, as Qdrant and
          Weaviate weight it; without, reciprocal-rank fusion (k=60). The ``fusion`` kwarg (``"rrf"`` or
          ``"relative"``) chooses explicitly. ``hybrid_top_k`` (else ``similarity_top_k``) hits are
          returned; the text leg ranks ``sparse_top_k`` candidates and, when ``hybrid_top_k`` is set, the
          dense leg ``similarity_top_k`` (otherwise each leg ranks vecvault's default depth).

        Dense similarities are LlamaIndex's: the cosine similarity (``1 - cosine distance``) for cosine,
        ``q · x`` for dot, ``1 / (1 + L2)`` for euclidean, clamped into [0, 1]
        (:func:`vecvault.index.similarity`); text and hybrid similarities are ``vecvault.Hit.relevance``, in
        [0, 1] (for BM25 the score as a share of the best hit's, for fusion the fused relevance).
        ``doc_ids=[]`` matches no document, as in ``SimpleVectorStore``; ``node_ids=[]`` is no restriction
        (``VectorStoreIndex.as_retriever`` passes it for every store that keeps its own text). An empty store
        gives an empty result.

        Raises:
            ConfigurationError: an unsupported mode, a missing query embedding or query string, or bad
                MMR or hybrid arguments (a ``ValueError``).
            UnsupportedFilterError: a filter vecvault cannot express.
        """
        mode = _check_mode(query.mode)
        parsed, nothing = _query_filter(query)
        k = query.similarity_top_k
        empty = VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        hits: list[Hit]
        if mode in _TEXT_MODES:
            text = _query_str(query, mode)
            if nothing:
                return empty
            hits = self._collection.search_text(text, k=query.sparse_top_k or k, filter=parsed)
            similarities = [hit.relevance for hit in hits]
        elif mode == VectorStoreQueryMode.HYBRID:
            vector, text, params = _query_embedding(query, mode), _query_str(query, mode), _hybrid_params(query, kwargs)
            if nothing:
                return empty
            hits = self._collection.search_hybrid(vector, text, filter=parsed, **params)
            similarities = [hit.relevance for hit in hits]
        else:
            if query.query_embedding is None:
                records = [] if nothing else self._collection.get(filter=parsed, limit=k, include_vectors=False)
                return VectorStoreQueryResult(
                    nodes=[_to_node(r.id, r.text, r.metadata) for r in records], ids=[r.id for r in records]
                )
            if mode == VectorStoreQueryMode.MMR:
                lambda_mult, fetch_k = _mmr_params(query, kwargs)  # checked even when nothing can match
            if nothing:
                return empty
            if mode == VectorStoreQueryMode.MMR:
                hits = self._collection.search_mmr(
                    query.query_embedding, k=k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=parsed
                )
            else:
                hits = self._collection.search(query.query_embedding, k=k, filter=parsed)
            metric = self._collection.metric
            similarities = [similarity(metric, hit.score) for hit in hits]
        return VectorStoreQueryResult(
            nodes=[_hit_to_node(hit) for hit in hits], similarities=similarities, ids=[hit.id for hit in hits]
        )

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async :meth:`query`."""
        return await asyncio.to_thread(self.query, query, **kwargs)


# -- module helpers ------------------------------------------------------------------------------------------


def _check_node_ids(node_ids: Any) -> None:
    if isinstance(node_ids, str):
        raise ConfigurationError("node_ids must be a list of strings, not one string; wrap it: [node_id].")


def _check_mode(mode: Any) -> VectorStoreQueryMode:
    for supported in SUPPORTED_MODES:
        if mode == supported:
            return supported
    raise ConfigurationError(
        f"VecVaultVectorStore does not support query mode {mode!r}; supported modes: "
        f"{[m.value for m in SUPPORTED_MODES]} (use 'mmr' for diverse results, 'text_search' for keywords, "
        "'hybrid' for both)."
    )


def _query_embedding(query: VectorStoreQuery, mode: VectorStoreQueryMode) -> list[float]:
    if query.query_embedding is None:
        raise ConfigurationError(
            f"VecVaultVectorStore.query in mode {mode.value!r} needs query.query_embedding (pass an embed_model "
            "to the index or retriever); for keyword search without embeddings use mode 'text_search'."
        )
    return query.query_embedding


def _query_str(query: VectorStoreQuery, mode: VectorStoreQueryMode) -> str:
    if query.query_str is None:
        raise ConfigurationError(
            f"VecVaultVectorStore.query in mode {mode.value!r} needs query.query_str, the text to search for."
        )
    return query.query_str


def _hybrid_params(query: VectorStoreQuery, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``search_hybrid`` arguments from LlamaIndex's hybrid fields (see :meth:`VecVaultVectorStore.query`)."""
    fusion = kwargs.get("fusion")
    if fusion is None:
        fusion = "relative" if query.alpha is not None else "rrf"
    params: dict[str, Any] = {
        "k": query.hybrid_top_k or query.similarity_top_k,
        "fusion": fusion,
        "text_k": query.sparse_top_k,
        "dense_k": query.similarity_top_k if query.hybrid_top_k else None,
    }
    if fusion == "relative" or query.alpha is not None:
        params["alpha"] = query.alpha
    return params


def _query_filter(query: VectorStoreQuery) -> tuple[Filter | None, bool]:
    """The query's filters, ``doc_ids`` and ``node_ids`` as one filter, and whether nothing can match."""
    parts: list[Filter] = []
    parsed = to_vecvault_filter(query.filters)
    if parsed is not None:
        parts.append(parsed)
    if query.doc_ids is not None:
        _check_node_ids(query.doc_ids)
        if not query.doc_ids:  # SimpleVectorStore: an empty list of documents restricts to none of them
            return None, True
        parts.append(Compare(REF_DOC_ID_KEY, "in", list(query.doc_ids)))
    if query.node_ids:
        # An empty node_ids list means "no restriction", as in the Qdrant, Chroma and Postgres stores:
        # VectorStoreIndex.as_retriever() passes node_ids=[] for every store that keeps its own text.
        _check_node_ids(query.node_ids)
        parts.append(Compare(NODE_ID_KEY, "in", list(query.node_ids)))
    if not parts:
        return None, False
    return (parts[0] if len(parts) == 1 else And(tuple(parts))), False


def _mmr_params(query: VectorStoreQuery, kwargs: dict[str, Any]) -> tuple[float, int]:
    """``(lambda_mult, fetch_k)``: the ``mmr_threshold`` keyword wins, even as None (SimpleVectorStore's rule)."""
    threshold = kwargs.get("mmr_threshold", query.mmr_threshold)
    lambda_mult = DEFAULT_MMR_THRESHOLD if threshold is None else threshold
    k = query.similarity_top_k
    prefetch_k = kwargs.get("mmr_prefetch_k")
    if prefetch_k is not None and kwargs.get("mmr_prefetch_factor") is not None:
        raise ConfigurationError(
            "'mmr_prefetch_factor' and 'mmr_prefetch_k' cannot be used together in one query(); "
            "give the pool size (mmr_prefetch_k) or its multiple of similarity_top_k (mmr_prefetch_factor)."
        )
    if prefetch_k is None:
        factor = kwargs.get("mmr_prefetch_factor")
        factor = DEFAULT_MMR_PREFETCH_FACTOR if factor is None else factor
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or factor < 1:
            raise ConfigurationError(f"mmr_prefetch_factor must be a number >= 1, not {factor!r}.")
        prefetch_k = int(k * factor)
    if not isinstance(prefetch_k, int) or isinstance(prefetch_k, bool):
        raise ConfigurationError(f"mmr_prefetch_k must be an int, not {prefetch_k!r}.")
    return lambda_mult, max(prefetch_k, k)


def _to_node(record_id: str, text: str, metadata: dict[str, Any]) -> BaseNode:
    if "_node_content" in metadata:
        node = metadata_dict_to_node(metadata, text=text)
    else:  # a record written without LlamaIndex (e.g. by the LangChain adapter): plain text node
        node = TextNode(id_=record_id, text=text, metadata=metadata)
    return node


def _hit_to_node(hit: Hit) -> BaseNode:
    return _to_node(hit.id, hit.text, hit.metadata)


def _record_to_node(record: Record) -> BaseNode:
    node = _to_node(record.id, record.text, record.metadata)
    if record.vector is not None:
        node.embedding = [float(x) for x in record.vector]
    return node
