"""The vecvault LangChain vector store: ``VecVaultVectorStore`` over one collection of an encrypted vault.

The store only translates between LangChain and the vault: ``Document`` objects become records (text,
metadata, vector, id), ``$`` filter dicts go to :func:`vecvault.filters.parse_filter`, and the core's
``Hit`` objects come back as ``Document`` objects. Sealing, SQL, filtering, scoring and maximal marginal
relevance all happen in :class:`vecvault.Collection`. The vault is synchronous and thread-safe; every
async method here embeds with the embedder's own async API and runs the vault call in a worker thread, so
the event loop never blocks.

Scores:

* ``similarity_search_with_score`` returns a **distance**, lower is closer (the convention of
  langchain-chroma and langchain-postgres): ``1 - cos`` for ``cosine`` (0..2), ``-q·x`` for ``dot``,
  the L2 distance for ``euclidean``.
* ``similarity_search_with_relevance_scores`` returns a **relevance** in [0, 1], higher is closer, for
  every metric (``vecvault.Hit.relevance``; the table is in :mod:`vecvault.index`).

Retrieval modes (``retrieval_mode=`` on every query-text search, the constructor sets the default):

* ``"dense"`` (default): the embedding of the query, nearest vectors first.
* ``"text"``: BM25 over the sealed texts (``pip install 'vecvault[text]'``), no embedding call; relevance is
  the score as a share of the best hit's, the score of ``*_with_score`` ``1 - relevance``.
* ``"hybrid"``: both, fused by reciprocal rank (default) or, with ``fusion="relative"`` and ``alpha``
  (0 = text only, 1 = dense only), by relative score; ``dense_k`` / ``text_k`` size the legs. Relevance
  is the fused relevance in [0, 1] and the score of ``*_with_score`` ``1 - relevance``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from typing_extensions import Self

from langchain_vecvault._convert import (
    check_batch_size,
    fill_ids,
    hits_to_documents,
    hits_with_distance,
    hits_with_relevance,
    record_to_document,
    redact_location,
    reject_unknown_kwargs,
    relevance_from_distance,
)
from langchain_vecvault._retrieval import RETRIEVAL_OPTIONS, Retrieval, check_retrieval_mode, pop_retrieval
from vecvault import DEFAULT_K, Collection, ConfigurationError, Hit, Vault
from vecvault.filters import Filter, parse_filter
from vecvault.keys.base import KeyProvider
from vecvault.records import check_ids, check_metadata
from vecvault.search.tokenize import check_query_text

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_COLLECTION_NAME", "DEFAULT_FETCH_K", "VecVaultVectorStore"]

DEFAULT_COLLECTION_NAME = "langchain"
DEFAULT_BATCH_SIZE = 256
DEFAULT_FETCH_K = 20
DEFAULT_LAMBDA_MULT = 0.5
# Options of ``Vault.open`` the store forwards when it opens the vault itself.
_OPEN_OPTIONS = ("create", "driver", "auth_token", "sync_url", "tracer")
_SEARCH_KWARGS = ("k", "filter")
_MMR_KWARGS = ("k", "fetch_k", "lambda_mult", "filter")
_ADD_KWARGS = ("metadatas", "ids", "batch_size")


class VecVaultVectorStore(VectorStore):
    """Encrypted, local-first vector store on libSQL (vecvault), one collection of a vault.

    Text, metadata and embeddings are sealed with AES-256-GCM before they reach the database file;
    tampering raises ``vecvault.IntegrityError``. The master key comes from a key provider (the OS
    keychain by default). Record ids are stored in plaintext: do not put secrets in ids you choose.

    Setup:
        Install vecvault with its LangChain extra:

        ```bash
        pip install -qU 'vecvault[langchain]'
        ```

    Key init args — indexing params:
        embedding: Embeddings
            The LangChain embedding model (documents and queries).
        collection_name: str
            The collection inside the vault (default ``"langchain"``).
        metric: str
            ``"cosine"`` (default), ``"dot"`` or ``"euclidean"``; fixed when the collection is created.

    Key init args — vault params:
        vault: vecvault.Vault | None
            An open vault to use; the store never closes it.
        path: str | os.PathLike | None
            Where to open a vault instead (a file, ``":memory:"`` or a libSQL URL); ``close()`` closes it.
        key: KeyProvider | bytes | None
            The master key for ``path`` (default: ``VECVAULT_KEY``, else the OS keychain).
        file_encryption: bool | None
            libSQL page encryption for ``path`` (default: on for a new local file).

    Instantiate:
        ```python
        from langchain_core.embeddings import DeterministicFakeEmbedding
        from langchain_vecvault import VecVaultVectorStore

        vector_store = VecVaultVectorStore(
            embedding=DeterministicFakeEmbedding(size=8),  # any LangChain Embeddings
            path="langchain_demo.db",  # the master key: VECVAULT_KEY, else the OS keychain (or key=...)
            collection_name="foo",
        )
        ```

    Add Documents:
        ```python
        from langchain_core.documents import Document

        document_1 = Document(page_content="foo", metadata={"baz": "bar"})
        document_2 = Document(page_content="thud", metadata={"bar": "baz"})
        document_3 = Document(page_content="i will be deleted :(")

        documents = [document_1, document_2, document_3]
        ids = ["1", "2", "3"]
        vector_store.add_documents(documents=documents, ids=ids)
        ```

    Update Documents:
        ```python
        # Adding under an existing id replaces that record (upsert).
        vector_store.add_documents([Document(page_content="qux", metadata={"bar": "baz"})], ids=["1"])
        ```

    Delete Documents:
        ```python
        vector_store.delete(ids=["3"])
        vector_store.delete(filter={"bar": {"$eq": "nothing matches"}})
        ```

    Search:
        ```python
        results = vector_store.similarity_search(query="thud", k=1)
        for doc in results:
            print(f"* {doc.page_content} [{doc.metadata}]")
        ```
        ```text
        * thud [{'bar': 'baz'}]
        ```

    Search with filter:
        ```python
        results = vector_store.similarity_search(
            query="thud", k=1, filter={"$and": [{"bar": "baz"}, {"$not": {"bar": {"$exists": False}}}]}
        )
        for doc in results:
            print(f"* {doc.page_content} [{doc.metadata}]")
        ```
        ```text
        * thud [{'bar': 'baz'}]
        ```

    Search with score:
        ```python
        # The score is a distance: lower is closer (1 - cosine similarity for the cosine metric).
        results = vector_store.similarity_search_with_score(query="qux", k=1)
        for doc, score in results:
            print(f"* [DIST={score:.3f}] {doc.page_content} [{doc.metadata}]")
        # Relevance scores are in [0, 1]: higher is closer, for every metric.
        results = vector_store.similarity_search_with_relevance_scores(query="qux", k=1)
        for doc, relevance in results:
            print(f"* [REL={relevance:.3f}] {doc.page_content} [{doc.metadata}]")
        ```
        ```text
        * [DIST=0.000] qux [{'bar': 'baz'}]
        * [REL=1.000] qux [{'bar': 'baz'}]
        ```

    Async:
        ```python
        # add documents
        await vector_store.aadd_documents(documents=[Document(page_content="quux")], ids=["4"])

        # delete documents
        await vector_store.adelete(ids=["4"])

        # search with score
        results = await vector_store.asimilarity_search_with_score(query="qux", k=1)
        for doc, score in results:
            print(f"* [DIST={score:.3f}] {doc.page_content} [{doc.metadata}]")
        ```
        ```text
        * [DIST=0.000] qux [{'bar': 'baz'}]
        ```

    Keyword and hybrid search:
        ```python
        # BM25 over the sealed texts (pip install 'vecvault[text]'), or both legs fused.
        print(vector_store.similarity_search("thud", k=1, retrieval_mode="text"))
        print(vector_store.similarity_search("thud", k=1, retrieval_mode="hybrid"))
        ```
        ```text
        [Document(id='2', metadata={'bar': 'baz'}, page_content='thud')]
        [Document(id='2', metadata={'bar': 'baz'}, page_content='thud')]
        ```

    Use as Retriever:
        ```python
        retriever = vector_store.as_retriever(
            search_type="mmr",
            search_kwargs={"k": 1, "fetch_k": 2, "lambda_mult": 0.5},
        )
        print(retriever.invoke("thud"))
        ```
        ```text
        [Document(id='2', metadata={'bar': 'baz'}, page_content='thud')]
        ```

    Close:
        ```python
        vector_store.close()  # closes the vault the store opened (a vault you passed in stays open)
        ```
    """

    def __init__(
        self,
        embedding: Embeddings,
        *,
        vault: Vault | None = None,
        path: str | os.PathLike[str] | None = None,
        key: KeyProvider | bytes | None = None,
        collection_name: str = DEFAULT_COLLECTION_NAME,
        metric: str = "cosine",
        model: str | None = None,
        vectors: str = "sealed",
        file_encryption: bool | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        retrieval_mode: str = "dense",
        **open_options: Any,
    ) -> None:
        """Open (or reuse) a vault and bind the store to one of its collections.

        The collection is created on the first add and takes its dimension from the first vectors
        added: no probe call is made to the embedder.

        Args:
            embedding: the LangChain embeddings used for documents and queries.
            vault: an open :class:`vecvault.Vault`; the store uses it and never closes it.
            path: open a vault here instead (a file path, ``":memory:"`` or a libSQL URL); the store owns
                that vault and ``close()`` closes it.
            key: the master key for ``path``: a ``KeyProvider`` or 32 raw bytes. Default: the
                ``VECVAULT_KEY`` environment variable, else the OS keychain.
            collection_name: the collection inside the vault.
            metric: ``"cosine"`` (default), ``"dot"`` or ``"euclidean"``.
            model: the embedding model's name; when given it is recorded and checked on every reopen.
            vectors: ``"sealed"`` (default) or ``"plain"`` (see the vecvault docs before using it).
            file_encryption: libSQL page encryption for ``path``; ``None`` turns it on for a new local
                file and detects it for an existing one.
            relevance_score_fn: replaces the built-in ``distance -> relevance`` mapping used by
                ``similarity_search_with_relevance_scores`` (dense retrieval); it must return values in [0, 1].
            retrieval_mode: the default of every query-text search: ``"dense"`` (vectors), ``"text"``
                (BM25 over the sealed texts) or ``"hybrid"`` (both, fused); each call can override it.
            **open_options: more options of ``Vault.open`` for ``path``: ``create``, ``driver``,
                ``auth_token``, ``sync_url``, ``tracer``.

        Raises:
            ConfigurationError: no embeddings, both or neither of ``vault`` and ``path``, an unknown
                option, or a collection that exists with another metric or model.
        """
        if embedding is None or not isinstance(embedding, Embeddings):
            raise ConfigurationError(
                f"embedding must be a LangChain Embeddings instance, not {type(embedding).__name__}."
            )
        unknown = sorted(set(open_options) - set(_OPEN_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"Unknown option(s) {unknown} for VecVaultVectorStore; vault options are "
                f"{['key', 'file_encryption', *_OPEN_OPTIONS]}."
            )
        retrieval_mode = check_retrieval_mode(retrieval_mode)
        if relevance_score_fn is not None and not callable(relevance_score_fn):
            raise ConfigurationError("relevance_score_fn must be a function from a distance to [0, 1].")
        if vault is not None:
            if path is not None:
                raise ConfigurationError("Pass either vault= (an open Vault) or path= (to open one), not both.")
            if key is not None or file_encryption is not None or open_options:
                raise ConfigurationError(
                    "key=, file_encryption= and other open options apply only with path=; the vault you "
                    "passed is already open."
                )
            if not isinstance(vault, Vault):
                raise ConfigurationError(f"vault must be a vecvault.Vault, not {type(vault).__name__}.")
            owned = False
        elif path is not None:
            vault = Vault.open(path, key=key, file_encryption=file_encryption, **open_options)
            owned = True
        else:
            raise ConfigurationError(
                "VecVaultVectorStore needs a vault: pass vault=Vault.open(...) or path='file.db' (with key=)."
            )
        try:
            collection = vault.collection(collection_name, metric=metric, vectors=vectors, model=model)
        except BaseException:
            if owned:
                vault.close()
            raise
        self._embedding = embedding
        self._vault = vault
        self._owns_vault = owned
        self._collection = collection
        self.override_relevance_score_fn = relevance_score_fn
        self._retrieval_mode = retrieval_mode

    # -- properties and lifecycle ------------------------------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        """The embeddings used for documents and queries."""
        return self._embedding

    @property
    def vault(self) -> Vault:
        """The underlying vault."""
        return self._vault

    @property
    def collection(self) -> Collection:
        """The underlying vecvault collection (for ``count()``, ``ids()``, ``get(filter=...)``...)."""
        return self._collection

    @property
    def collection_name(self) -> str:
        """The collection's name."""
        return self._collection.name

    @property
    def metric(self) -> str:
        """The collection's metric: ``cosine``, ``dot`` or ``euclidean``."""
        return self._collection.metric

    @property
    def retrieval_mode(self) -> str:
        """The default retrieval mode of query-text searches: ``dense``, ``text`` or ``hybrid``."""
        return self._retrieval_mode

    def close(self) -> None:
        """Close the vault if this store opened it (``path=``); a vault passed in with ``vault=`` stays open."""
        if self._owns_vault:
            self._vault.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(collection_name={self._collection.name!r}, metric={self.metric!r}, "
            f"location={redact_location(self._vault.location)!r}, embedding={type(self._embedding).__name__}, "
            f"owns_vault={self._owns_vault})"
        )

    # -- adding --------------------------------------------------------------------------------------------

    def _prepare_add(
        self,
        texts: Iterable[str],
        metadatas: Sequence[dict[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        batch_size: int,
    ) -> tuple[list[str], list[dict[str, Any] | None], list[str] | None]:
        """Check every argument before any embedding call, so bad input costs nothing."""
        if isinstance(texts, str):
            raise ConfigurationError("texts must be a list of strings, not one string; wrap it: [text].")
        text_list = list(texts)
        for i, text in enumerate(text_list):
            if not isinstance(text, str):
                raise ConfigurationError(f"texts[{i}] is a {type(text).__name__}; texts must be strings.")
        check_batch_size(batch_size)
        if metadatas is None:
            meta_list: list[dict[str, Any] | None] = [None] * len(text_list)
        else:
            if isinstance(metadatas, dict):
                raise ConfigurationError("metadatas must be a list of dicts, one per text; wrap it: [metadata].")
            meta_list = list(metadatas)
            if len(meta_list) != len(text_list):
                raise ConfigurationError(
                    f"Got {len(meta_list)} metadatas for {len(text_list)} texts; pass one per text."
                )
            meta_list = [check_metadata(m, f"metadatas[{i}]") for i, m in enumerate(meta_list)]
        id_list = fill_ids(ids, len(text_list))
        if id_list is not None:
            check_ids(id_list, len(text_list))
        return text_list, meta_list, id_list

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Embed texts and store them (upsert by id), ``batch_size`` texts per embed call and transaction.

        Args:
            texts: the texts.
            metadatas: JSON-compatible dicts, one per text (or None).
            ids: one id per text; ``None`` entries get random ids. An existing id is replaced.
            batch_size: texts per embedding call and per vault transaction.
            **kwargs: none are accepted (an unknown argument raises).

        Returns:
            The ids, in input order.
        """
        reject_unknown_kwargs("add_texts", kwargs, _ADD_KWARGS)
        text_list, meta_list, id_list = self._prepare_add(texts, metadatas, ids, batch_size)
        out: list[str] = []
        for start in range(0, len(text_list), batch_size):
            stop = start + batch_size
            chunk = text_list[start:stop]
            vectors = self._embedding.embed_documents(chunk)
            out += self._collection.add(
                chunk, vectors, meta_list[start:stop], None if id_list is None else id_list[start:stop]
            )
        return out

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`: ``aembed_documents``, then the vault write in a worker thread."""
        reject_unknown_kwargs("aadd_texts", kwargs, _ADD_KWARGS)
        text_list, meta_list, id_list = self._prepare_add(texts, metadatas, ids, batch_size)
        out: list[str] = []
        for start in range(0, len(text_list), batch_size):
            stop = start + batch_size
            chunk = text_list[start:stop]
            vectors = await self._embedding.aembed_documents(chunk)
            out += await run_in_executor(
                None,
                self._collection.add,
                chunk,
                vectors,
                meta_list[start:stop],
                None if id_list is None else id_list[start:stop],
            )
        return out

    @staticmethod
    def _split_documents(
        documents: Sequence[Document], kwargs: dict[str, Any]
    ) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
        """Texts, metadatas and keyword arguments for ``add_texts``; ``ids=`` wins over ``Document.id``."""
        if isinstance(documents, Document):
            raise ConfigurationError("documents must be a list of Document; wrap it: [document].")
        if "ids" not in kwargs and any(doc.id for doc in documents):
            kwargs = {**kwargs, "ids": [doc.id for doc in documents]}
        return [doc.page_content for doc in documents], [doc.metadata for doc in documents], kwargs

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Store documents (upsert). ``ids=`` takes precedence over each ``Document.id``; missing ids are random.

        The documents themselves are not modified. Accepts ``ids`` and ``batch_size``.
        """
        texts, metadatas, kwargs = self._split_documents(documents, kwargs)
        return self.add_texts(texts, metadatas, **kwargs)

    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Async :meth:`add_documents`."""
        texts, metadatas, kwargs = self._split_documents(documents, kwargs)
        return await self.aadd_texts(texts, metadatas, **kwargs)

    # -- deleting and getting ------------------------------------------------------------------------------

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids and/or by metadata ``filter``; unknown ids are ignored.

        Args:
            ids: record ids to delete.
            **kwargs: ``filter``: a ``$`` filter dict; with ``ids`` too, only those ids that match.

        Returns:
            True once the deletion is committed (deleted ciphertext is overwritten in the file).

        Raises:
            ConfigurationError: neither ids nor a filter (to empty the collection, use
                ``store.collection.clear()``).
        """
        flt = kwargs.pop("filter", None)
        reject_unknown_kwargs("delete", kwargs, ("ids", "filter"))
        parsed = self._parse_filter(flt)
        if ids is None and parsed is None:
            raise ConfigurationError(
                "delete() needs ids or a filter; to delete every record use store.collection.clear()."
            )
        self._collection.delete(ids, filter=parsed)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Async :meth:`delete`."""
        return await run_in_executor(None, partial(self.delete, ids, **kwargs))

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents with these ids, in the order asked; missing ids are skipped, duplicates returned once."""
        if isinstance(ids, str):
            raise ConfigurationError("ids must be a list of strings, not one string; wrap it: [the_id].")
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        return [record_to_document(r) for r in self._collection.get(wanted, include_vectors=False)]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`."""
        return await run_in_executor(None, self.get_by_ids, ids)

    # -- searching -----------------------------------------------------------------------------------------

    @staticmethod
    def _parse_filter(flt: Any) -> Filter | None:
        """Parse a ``$`` filter dict once, before any embedding call, so a bad filter fails fast."""
        return parse_filter(flt)

    def _search(self, embedding: Sequence[float], k: int, flt: Filter | None) -> list[Hit]:
        return self._collection.search(embedding, k, filter=flt)

    def _search_mmr(
        self, embedding: Sequence[float], k: int, fetch_k: int, lambda_mult: float, flt: Filter | None
    ) -> list[Hit]:
        return self._collection.search_mmr(embedding, k, fetch_k, lambda_mult, filter=flt)

    def _retrieval(self, method: str, kwargs: dict[str, Any], supported: Sequence[str] = _SEARCH_KWARGS) -> Retrieval:
        """The call's retrieval mode and hybrid options; any other unknown keyword argument raises."""
        retrieval = pop_retrieval(kwargs, self._retrieval_mode)
        reject_unknown_kwargs(method, kwargs, (*supported, *RETRIEVAL_OPTIONS))
        return retrieval

    def _retrieve(
        self, query: str, vector: Sequence[float] | None, k: int, parsed: Filter | None, how: Retrieval
    ) -> list[Hit]:
        if how.mode == "text":
            return self._collection.search_text(query, k, filter=parsed)
        if how.mode == "hybrid":
            return self._collection.search_hybrid(vector, query, k, filter=parsed, **how.hybrid)
        return self._search(vector or [], k, parsed)

    def _hits(self, query: str, k: int, flt: Any, how: Retrieval | None = None) -> list[Hit]:
        how = how or Retrieval(self._retrieval_mode, {})
        parsed = self._parse_filter(flt)
        if how.mode != "dense":
            check_query_text(query)  # before any embedding call
        vector = None if how.mode == "text" else self._embedding.embed_query(query)
        return self._retrieve(query, vector, k, parsed, how)

    async def _ahits(self, query: str, k: int, flt: Any, how: Retrieval | None = None) -> list[Hit]:
        how = how or Retrieval(self._retrieval_mode, {})
        parsed = self._parse_filter(flt)
        if how.mode != "dense":
            check_query_text(query)  # before any embedding call
        vector = None if how.mode == "text" else await self._embedding.aembed_query(query)
        return await run_in_executor(None, self._retrieve, query, vector, k, parsed, how)

    async def _ahits_by_vector(self, embedding: Sequence[float], k: int, flt: Any) -> list[Hit]:
        parsed = self._parse_filter(flt)
        return await run_in_executor(None, self._search, embedding, k, parsed)

    def similarity_search(
        self, query: str, k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents closest to ``query``, best first, among those matching ``filter``.

        Args:
            query: the query text (embedded with ``embed_query``).
            k: how many documents; ``k`` are returned whenever ``k`` records match.
            filter: a ``$`` filter dict (``{"year": {"$gte": 2020}, "tags": {"$contains": "ai"}}``).
            **kwargs: ``retrieval_mode`` (``"dense"``, ``"text"`` or ``"hybrid"``; default the store's) and,
                for ``"hybrid"``, ``fusion``, ``alpha``, ``dense_k``, ``text_k`` (see
                :meth:`vecvault.Collection.search_hybrid`); any other argument raises.
        """
        how = self._retrieval("similarity_search", kwargs)
        return hits_to_documents(self._hits(query, k, filter, how))

    async def asimilarity_search(
        self, query: str, k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`."""
        how = self._retrieval("asimilarity_search", kwargs)
        return hits_to_documents(await self._ahits(query, k, filter, how))

    def similarity_search_with_score(
        self, query: str, k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs, best first. The score is a distance: **lower is closer**.

        ``cosine``: ``1 - cos(q, x)`` in [0, 2]; ``dot``: ``-(q · x)``; ``euclidean``: ``||q - x||``.
        For a score in [0, 1] where higher is closer, use :meth:`similarity_search_with_relevance_scores`.
        With ``retrieval_mode="text"`` or ``"hybrid"`` the score is ``1 - relevance`` (still lower is closer).
        """
        how = self._retrieval("similarity_search_with_score", kwargs)
        return hits_with_distance(self._hits(query, k, filter, how))

    async def asimilarity_search_with_score(
        self, query: str, k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score` (distance, lower is closer)."""
        how = self._retrieval("asimilarity_search_with_score", kwargs)
        return hits_with_distance(await self._ahits(query, k, filter, how))

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents closest to an embedding, best first."""
        reject_unknown_kwargs("similarity_search_by_vector", kwargs, _SEARCH_KWARGS)
        return hits_to_documents(self._search(embedding, k, self._parse_filter(filter)))

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search_by_vector`."""
        reject_unknown_kwargs("asimilarity_search_by_vector", kwargs, _SEARCH_KWARGS)
        return hits_to_documents(await self._ahits_by_vector(embedding, k, filter))

    def similarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, distance)`` pairs for an embedding, best first (lower is closer)."""
        reject_unknown_kwargs("similarity_search_with_score_by_vector", kwargs, _SEARCH_KWARGS)
        return hits_with_distance(self._search(embedding, k, self._parse_filter(filter)))

    async def asimilarity_search_with_score_by_vector(
        self, embedding: list[float], k: int = DEFAULT_K, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score_by_vector`."""
        reject_unknown_kwargs("asimilarity_search_with_score_by_vector", kwargs, _SEARCH_KWARGS)
        return hits_with_distance(await self._ahits_by_vector(embedding, k, filter))

    # -- relevance scores ----------------------------------------------------------------------------------

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """``distance -> relevance`` for this collection's metric (or the user's override)."""
        if self.override_relevance_score_fn is not None:
            return self.override_relevance_score_fn
        return relevance_from_distance(self.metric)

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, relevance)`` pairs: relevance in [0, 1], 1 is closest, for every metric."""
        flt = kwargs.pop("filter", None)
        how = self._retrieval("similarity_search_with_relevance_scores", kwargs, (*_SEARCH_KWARGS, "score_threshold"))
        return hits_with_relevance(self._hits(query, k, flt, how), self._override_for(how))

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = DEFAULT_K, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`_similarity_search_with_relevance_scores`."""
        flt = kwargs.pop("filter", None)
        how = self._retrieval("asimilarity_search_with_relevance_scores", kwargs, (*_SEARCH_KWARGS, "score_threshold"))
        return hits_with_relevance(await self._ahits(query, k, flt, how), self._override_for(how))

    def _override_for(self, how: Retrieval) -> Callable[[float], float] | None:
        """The user's ``distance -> relevance`` function applies to vector distances only (dense retrieval)."""
        return self.override_relevance_score_fn if how.mode == "dense" else None

    # -- maximal marginal relevance ------------------------------------------------------------------------

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` documents picked by maximal marginal relevance from the exact top ``fetch_k``.

        Args:
            query: the query text.
            k: how many documents.
            fetch_k: how many nearest candidates MMR chooses from (at least ``k``).
            lambda_mult: 1 is pure relevance, 0 is maximal diversity.
            filter: a ``$`` filter dict.
            **kwargs: none are accepted (an unknown argument raises).
        """
        reject_unknown_kwargs("max_marginal_relevance_search", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        vector = self._embedding.embed_query(query)
        return hits_to_documents(self._search_mmr(vector, k, fetch_k, lambda_mult, parsed))

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search`."""
        reject_unknown_kwargs("amax_marginal_relevance_search", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        vector = await self._embedding.aembed_query(query)
        hits = await run_in_executor(None, self._search_mmr, vector, k, fetch_k, lambda_mult, parsed)
        return hits_to_documents(hits)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """:meth:`max_marginal_relevance_search` for an embedding."""
        reject_unknown_kwargs("max_marginal_relevance_search_by_vector", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        return hits_to_documents(self._search_mmr(embedding, k, fetch_k, lambda_mult, parsed))

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Async :meth:`max_marginal_relevance_search_by_vector`."""
        reject_unknown_kwargs("amax_marginal_relevance_search_by_vector", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        hits = await run_in_executor(None, self._search_mmr, embedding, k, fetch_k, lambda_mult, parsed)
        return hits_to_documents(hits)

    # -- constructors ----------------------------------------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """A store built with ``cls(embedding, **kwargs)`` holding ``texts``.

        ``kwargs`` are the constructor's (``vault=`` or ``path=``/``key=``, ``collection_name=``,
        ``metric=``, ``file_encryption=``...). A store that opened its own vault closes it if adding fails.
        """
        store = cls(embedding, **kwargs)
        try:
            store.add_texts(texts, metadatas, ids=ids, batch_size=batch_size)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_texts` (opening the vault runs in a worker thread)."""
        store = await run_in_executor(None, partial(cls, embedding, **kwargs))
        try:
            await store.aadd_texts(texts, metadatas, ids=ids, batch_size=batch_size)
        except BaseException:
            store.close()
            raise
        return store
