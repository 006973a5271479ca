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
    CHROMA_INCLUDE,
    check_batch_size,
    check_embeddings,
    chroma_get_result,
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
from vecvault.integration import VaultOwner
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


class VecVaultVectorStore(VaultOwner, VectorStore):
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
        metric: str | None
            ``"cosine"``, ``"dot"`` or ``"euclidean"``; fixed when the collection is created. ``None``
            (default) reopens an existing collection as it was created (a new one: cosine).
        index: str | None
            ``"exact"``, ``"hnsw"`` or ``"auto"``; ``None`` (default) reopens an existing collection with
            the mode it was created with (a new one: exact).

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
        metric: str | None = None,
        model: str | None = None,
        vectors: str | None = None,
        index: str | None = None,
        file_encryption: bool | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        create_collection_if_not_exists: bool = True,
        pre_delete_collection: bool = False,
        retrieval_mode: str = "dense",
        **open_options: Any,
    ) -> None:
        """Open (or reuse) a vault and bind the store to one of its collections.

        The collection is created on the first add and takes its dimension from the first vectors
        added: no probe call is made to the embedder. An existing collection opens as it was created
        (its metric, vector mode, model and index mode are stored with it), so none of them needs repeating.

        Args:
            embedding: the LangChain embeddings used for documents and queries.
            vault: an open :class:`vecvault.Vault`; the store uses it and never closes it.
            path: open a vault here instead (a file path, ``":memory:"`` or a libSQL URL); the store owns
                that vault and ``close()`` closes it.
            key: the master key for ``path``: a ``KeyProvider`` or 32 raw bytes. Default: the
                ``VECVAULT_KEY`` environment variable, else the OS keychain.
            collection_name: the collection inside the vault.
            metric: ``"cosine"``, ``"dot"`` or ``"euclidean"``. None reopens an existing collection as it
                was created (a new one gets the core's default, cosine); a value that conflicts with the
                stored one raises ConfigurationError. :attr:`metric` reports the collection's actual metric.
            model: the embedding model's name; when given it is recorded and checked on every reopen.
            vectors: ``"sealed"`` or ``"plain"`` (see the vecvault docs before using it). None reopens an
                existing collection as it was created (a new one: sealed); a value that conflicts with the
                stored one raises ConfigurationError.
            index: ``"exact"``, ``"hnsw"`` (approximate, needs hnswlib) or ``"auto"`` (see
                :meth:`vecvault.Vault.collection`). None reopens an existing collection with the mode it was
                created with (a new one: exact); a value given here applies to this process only on an
                existing collection (the stored mode stays for the next open), and is stored with a new one.
            file_encryption: libSQL page encryption for ``path``; ``None`` turns it on for a new local
                file and detects it for an existing one.
            relevance_score_fn: replaces the built-in ``distance -> relevance`` mapping used by
                ``similarity_search_with_relevance_scores`` (dense retrieval); it must return values in [0, 1].
            create_collection_if_not_exists: with False, a collection that does not exist yet raises
                ``ConfigurationError`` instead of being created (PGVector's option; the core's ``create=``).
            pre_delete_collection: drop the collection (and crypto-shred its keys) before binding to it, so the
                store starts empty (PGVector's option, handy in tests).
            retrieval_mode: the default of every query-text search: ``"dense"`` (vectors), ``"text"``
                (BM25 over the sealed texts) or ``"hybrid"`` (both, fused); each call can override it.
            **open_options: more options of ``Vault.open`` for ``path``: ``create``, ``driver``,
                ``auth_token``, ``sync_url``, ``tracer``.

        Raises:
            ConfigurationError: no embeddings, both or neither of ``vault`` and ``path``, an unknown
                option, a collection that exists with another metric, vector mode or model, an unknown index
                mode, or a missing collection with ``create_collection_if_not_exists=False``.
        """
        check_embeddings(embedding)
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
        # None is "as stored" (a new collection: the core's defaults); the core resolves it.
        self._collection_options: dict[str, Any] = {
            "metric": metric,
            "vectors": vectors,
            "model": model,
            "index": index,
        }
        try:
            if pre_delete_collection:
                vault.drop_collection(collection_name)
            if not create_collection_if_not_exists and collection_name not in vault.collections():
                raise ConfigurationError(
                    f"Collection {collection_name!r} does not exist and create_collection_if_not_exists=False; "
                    f"existing collections: {vault.collections()}."
                )
            collection = vault.collection(
                collection_name, create=bool(create_collection_if_not_exists), **self._collection_options
            )
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
            vectors = await self._aembed_documents(chunk)
            out += await run_in_executor(
                None,
                self._collection.add,
                chunk,
                vectors,
                meta_list[start:stop],
                None if id_list is None else id_list[start:stop],
            )
        return out

    async def _aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """The embedder's ``aembed_documents``, or its sync method in a worker thread when it has none."""
        method = getattr(self._embedding, "aembed_documents", None)
        if method is None:
            return await run_in_executor(None, self._embedding.embed_documents, texts)
        vectors: list[list[float]] = await method(texts)
        return vectors

    async def _aembed_query(self, text: str) -> list[float]:
        """The embedder's ``aembed_query``, or its sync method in a worker thread when it has none."""
        method = getattr(self._embedding, "aembed_query", None)
        if method is None:
            return await run_in_executor(None, self._embedding.embed_query, text)
        vector: list[float] = await method(text)
        return vector

    def _embedding_batches(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: Sequence[dict[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        batch_size: int,
    ) -> list[tuple[list[str], list[Sequence[float]], list[dict[str, Any] | None], list[str] | None]]:
        """Checked ``(texts, vectors, metadatas, ids)`` batches of precomputed embeddings."""
        text_list, meta_list, id_list = self._prepare_add(texts, metadatas, ids, batch_size)
        if isinstance(embeddings, str):
            raise ConfigurationError("embeddings must be a list of vectors, one per text.")
        vectors = list(embeddings)
        if len(vectors) != len(text_list):
            raise ConfigurationError(f"Got {len(vectors)} embeddings for {len(text_list)} texts; pass one per text.")
        return [
            (
                text_list[start : start + batch_size],
                vectors[start : start + batch_size],
                meta_list[start : start + batch_size],
                None if id_list is None else id_list[start : start + batch_size],
            )
            for start in range(0, len(text_list), batch_size)
        ]

    def add_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: list[dict[str, Any]] | None = None,
        ids: list[str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Store texts with embeddings computed elsewhere (upsert by id); the embedder is not called.

        As PGVector's and FAISS's ``add_embeddings``: one vector per text, of the collection's dimension.

        Args:
            texts: the texts.
            embeddings: one vector per text.
            metadatas: JSON-compatible dicts, one per text (or None).
            ids: one id per text; ``None`` entries get random ids. An existing id is replaced.
            batch_size: records per vault transaction.
            **kwargs: none are accepted (an unknown argument raises).

        Returns:
            The ids, in input order.
        """
        reject_unknown_kwargs("add_embeddings", kwargs, ("metadatas", "ids", "batch_size"))
        out: list[str] = []
        for chunk, vectors, metas, chunk_ids in self._embedding_batches(texts, embeddings, metadatas, ids, batch_size):
            out += self._collection.add(chunk, vectors, metas, chunk_ids)
        return out

    async def aadd_embeddings(
        self,
        texts: Iterable[str],
        embeddings: Iterable[Sequence[float]],
        metadatas: list[dict[str, Any]] | None = None,
        ids: list[str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_embeddings` (the vault writes run in a worker thread)."""
        reject_unknown_kwargs("aadd_embeddings", kwargs, ("metadatas", "ids", "batch_size"))
        out: list[str] = []
        for chunk, vectors, metas, chunk_ids in self._embedding_batches(texts, embeddings, metadatas, ids, batch_size):
            out += await run_in_executor(None, self._collection.add, chunk, vectors, metas, chunk_ids)
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

    def _prepare_update(self, ids: Sequence[str], documents: Sequence[Document]) -> tuple[list[str], list[str]]:
        """Check an update before any embedding call: one id per document, every id already stored."""
        if isinstance(ids, str) or isinstance(documents, Document):
            raise ConfigurationError("ids and documents must be lists; wrap them: [the_id], [document].")
        id_list = list(ids)
        if len(id_list) != len(documents):
            raise ConfigurationError(
                f"Got {len(id_list)} ids for {len(documents)} documents; pass one id per document."
            )
        check_ids(id_list, len(id_list))
        present = {r.id for r in self._collection.get(id_list, include_vectors=False)}
        missing = [i for i in id_list if i not in present]
        if missing:
            raise ConfigurationError(
                f"update_documents(): no record with id(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
                "nothing was changed. Use add_documents() to insert new documents (it upserts by id)."
            )
        return id_list, [doc.page_content for doc in documents]

    def update_document(self, document_id: str, document: Document) -> None:
        """Replace the text, metadata and embedding of one stored document (Chroma's ``update_document``).

        Raises:
            ConfigurationError: no document has this id (nothing is changed; ``add_documents`` inserts).
        """
        self.update_documents([document_id], [document])

    def update_documents(self, ids: list[str], documents: list[Document]) -> None:
        """Replace stored documents by id, in one embedding call and one transaction (Chroma's ``update_documents``).

        Every id must already be stored: an update never creates a record (Chroma logs and skips unknown ids;
        vecvault refuses the whole update before embedding anything). ``Document.id`` is ignored: ``ids``
        name the records.

        Raises:
            ConfigurationError: an id that is not stored, or not one id per document.
        """
        id_list, texts = self._prepare_update(ids, documents)
        if not id_list:
            return
        vectors = self._embedding.embed_documents(texts)
        self._collection.add(texts, vectors, [check_metadata(d.metadata) for d in documents], id_list)

    async def aupdate_document(self, document_id: str, document: Document) -> None:
        """Async :meth:`update_document`."""
        await self.aupdate_documents([document_id], [document])

    async def aupdate_documents(self, ids: list[str], documents: list[Document]) -> None:
        """Async :meth:`update_documents`."""
        id_list, texts = await run_in_executor(None, self._prepare_update, ids, documents)
        if not id_list:
            return
        vectors = await self._aembed_documents(texts)
        metadatas = [check_metadata(d.metadata) for d in documents]
        await run_in_executor(None, self._collection.add, texts, vectors, metadatas, id_list)

    # -- deleting and getting ------------------------------------------------------------------------------

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids and/or by metadata ``filter``; unknown ids are ignored.

        Args:
            ids: record ids to delete.
            **kwargs: ``filter`` (or ``where``, as Chroma calls it): a ``$`` filter dict; with ``ids`` too,
                only those ids that match.

        Returns:
            True once the deletion is committed (deleted ciphertext is overwritten in the file).

        Raises:
            ConfigurationError: neither ids nor a filter (to empty the collection, use
                ``store.collection.clear()``).
        """
        flt = kwargs.pop("filter", None)
        where = kwargs.pop("where", None)  # Chroma's name for it
        reject_unknown_kwargs("delete", kwargs, ("ids", "filter", "where"))
        if where is not None:
            if flt is not None:
                raise ConfigurationError("delete() takes filter= or where= (Chroma's name for it), not both.")
            flt = where
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

    def get(
        self,
        ids: str | Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: dict[str, Any] | None = None,
        include: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Stored records by id and/or metadata filter, without a query, shaped like Chroma's ``get``.

        Args:
            ids: an id or a list of ids (in the order asked, missing ones skipped); None for every record.
            where: a ``$`` filter dict on metadata (the same language as ``filter=``).
            limit: at most this many records.
            offset: skip this many records first (with ``limit``, for paging).
            where_document: not supported (texts are sealed and no text index exists): raises if given.
            include: any of ``"documents"``, ``"metadatas"``, ``"embeddings"`` (default: the first two).

        Returns:
            ``{"ids": [...], "documents": [...], "metadatas": [...], "embeddings": None, "included": [...]}``;
            a field not included is ``None``, as in Chroma.

        Raises:
            ConfigurationError: ``where_document``, an unknown ``include`` entry, or a negative limit/offset.
            UnsupportedFilterError: a bad ``where`` filter.
        """
        if where_document:
            raise ConfigurationError(
                "get(where_document=...) is not supported: vecvault keeps texts sealed and has no text index; "
                "filter on metadata with where=, or match the returned documents in Python."
            )
        wanted_fields = ("documents", "metadatas") if include is None else tuple(include)
        unknown = sorted(set(wanted_fields) - set(CHROMA_INCLUDE))
        if unknown:
            raise ConfigurationError(f"get(include=...) got {unknown}; expected any of {list(CHROMA_INCLUDE)}.")
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigurationError(f"{name} must be a non-negative int, not {value!r}.")
        parsed = self._parse_filter(where)
        start = offset or 0
        id_list = [ids] if isinstance(ids, str) else None if ids is None else list(ids)
        if id_list is None and parsed is None:
            # Every record: page over the plaintext ids, so only the page is opened.
            id_list = self._collection.ids()
            id_list = id_list[start:] if limit is None else id_list[start : start + limit]
            start = 0
        stop = None if limit is None else start + limit
        records = self._collection.get(
            id_list, filter=parsed, limit=stop, include_vectors="embeddings" in wanted_fields
        )
        return chroma_get_result(records[start:], wanted_fields)

    async def aget(
        self,
        ids: str | Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: dict[str, Any] | None = None,
        include: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Async :meth:`get`."""
        return await run_in_executor(None, self.get, ids, where, limit, offset, where_document, include)

    # -- the collection itself -----------------------------------------------------------------------------

    def delete_collection(self) -> None:
        """Drop the collection: every record, and its data keys (crypto-shredding; Chroma's ``delete_collection``).

        The store stays usable and empty: the next add creates the collection again with the same metric,
        vector mode, model and index mode; Chroma instead refuses every call until ``reset_collection``.
        """
        old = self._collection
        options = {
            **self._collection_options,
            "metric": old.metric,
            "vectors": old.vector_mode,
            "model": old.model,
            "index": old.index_mode,
        }
        self._vault.drop_collection(old.name)
        self._collection = self._vault.collection(old.name, **options)

    def reset_collection(self) -> None:
        """Empty the collection by dropping and re-creating it (Chroma's ``reset_collection``)."""
        self.delete_collection()

    async def adelete_collection(self) -> None:
        """Async :meth:`delete_collection`."""
        await run_in_executor(None, self.delete_collection)

    async def areset_collection(self) -> None:
        """Async :meth:`reset_collection`."""
        await run_in_executor(None, self.reset_collection)

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
        vector = None if how.mode == "text" else await self._aembed_query(query)
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
        vector = await self._aembed_query(query)
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

    def max_marginal_relevance_search_with_score(
        self,
        query: str,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """:meth:`max_marginal_relevance_search` with each document's **distance** to the query (as PGVector)."""
        reject_unknown_kwargs("max_marginal_relevance_search_with_score", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        vector = self._embedding.embed_query(query)
        return hits_with_distance(self._search_mmr(vector, k, fetch_k, lambda_mult, parsed))

    async def amax_marginal_relevance_search_with_score(
        self,
        query: str,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Async :meth:`max_marginal_relevance_search_with_score`."""
        reject_unknown_kwargs("amax_marginal_relevance_search_with_score", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        vector = await self._aembed_query(query)
        hits = await run_in_executor(None, self._search_mmr, vector, k, fetch_k, lambda_mult, parsed)
        return hits_with_distance(hits)

    def max_marginal_relevance_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """:meth:`max_marginal_relevance_search_with_score` for an embedding."""
        reject_unknown_kwargs("max_marginal_relevance_search_with_score_by_vector", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        return hits_with_distance(self._search_mmr(embedding, k, fetch_k, lambda_mult, parsed))

    async def amax_marginal_relevance_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = DEFAULT_LAMBDA_MULT,
        filter: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Async :meth:`max_marginal_relevance_search_with_score_by_vector`."""
        reject_unknown_kwargs("amax_marginal_relevance_search_with_score_by_vector", kwargs, _MMR_KWARGS)
        parsed = self._parse_filter(filter)
        hits = await run_in_executor(None, self._search_mmr, embedding, k, fetch_k, lambda_mult, parsed)
        return hits_with_distance(hits)

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
        ``metric=``, ``index=``, ``file_encryption=``...); ``metric=None`` (default) adds to an existing
        collection with its stored metric. A store that opened its own vault closes it if adding fails.
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

    @classmethod
    def from_embeddings(
        cls,
        text_embeddings: Iterable[tuple[str, Sequence[float]]],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """A store holding ``(text, vector)`` pairs computed elsewhere (PGVector's and FAISS's ``from_embeddings``).

        ``embedding`` embeds later queries only; ``kwargs`` are the constructor's. A store that opened its own
        vault closes it if adding fails.
        """
        pairs = list(text_embeddings)
        store = cls(embedding, **kwargs)
        try:
            store.add_embeddings([t for t, _ in pairs], [v for _, v in pairs], metadatas, ids, batch_size=batch_size)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    async def afrom_embeddings(
        cls,
        text_embeddings: Iterable[tuple[str, Sequence[float]]],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """Async :meth:`from_embeddings` (opening the vault and writing run in a worker thread)."""
        pairs = list(text_embeddings)
        store = await run_in_executor(None, partial(cls, embedding, **kwargs))
        try:
            await store.aadd_embeddings(
                [t for t, _ in pairs], [v for _, v in pairs], metadatas, ids, batch_size=batch_size
            )
        except BaseException:
            store.close()
            raise
        return store
