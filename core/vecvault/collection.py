"""Collection: the records of one dimension and metric, their write path, freshness and search.

A :class:`Collection` has a fixed dimension and metric; its records are sealed field by field before they
are written, and its vectors are opened into an in-memory exact index the first time it is searched.
Every read first checks the collection's revision, so writes by other connections or processes are seen
by the next query without reloading everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vecvault.errors import ConfigurationError, IntegrityError, StorageError
from vecvault.filters import Filter, parse_filter
from vecvault.records import (
    Hit,
    Record,
    RecordSealer,
    check_ids,
    check_metadatas,
    check_query,
    check_vectors,
    encode_metadata,
    encode_vector,
    new_ids,
)
from vecvault.search.base import Ranked, Searcher
from vecvault.search.exact import ExactSearcher, VectorIndex
from vecvault.search.fusion import (
    DEFAULT_RRF_K,
    hybrid_alpha,
    reciprocal_rank_fusion,
    relative_score_fusion,
    rrf_relevance,
)
from vecvault.search.hnsw import AUTO_HNSW_MIN, INDEX_MODES, GraphKeeper, GraphSearcher
from vecvault.search.mirror import Mirror
from vecvault.search.scores import exact_scores, relevance
from vecvault.search.sql import SqlSearcher
from vecvault.search.text import TextKeeper, TextSearcher
from vecvault.search.tokenize import check_query_text
from vecvault.storage import CollectionRow

if TYPE_CHECKING:
    from vecvault.vault import Vault

__all__ = [
    "AUTO_HNSW_MIN",
    "DEFAULT_FETCH_K",
    "DEFAULT_K",
    "HYBRID_LEG_K",
    "Collection",
    "check_same_config",
    "stored_index_mode",
]

DEFAULT_K = 4
DEFAULT_FETCH_K = 20
HYBRID_LEG_K = 10
"""Each leg of :meth:`Collection.search_hybrid` ranks ``max(k, HYBRID_LEG_K)`` candidates unless told."""
# Past this many logged deletions, the log is dropped and other readers reload the collection instead.
_DELETION_LOG_LIMIT = 10_000


def check_same_config(row: CollectionRow, *, dim: int | None, metric: str, vectors: str, model: str | None) -> None:
    """Refuse settings that contradict a stored collection's (dimension, metric, vector mode, model)."""
    if dim is not None and dim != row.dim:
        raise ConfigurationError(
            f"Collection {row.name!r} stores vectors of dimension {row.dim}, not {dim}; use the same embedding "
            "model, or a new collection name."
        )
    if metric != row.metric:
        raise ConfigurationError(
            f"Collection {row.name!r} uses the {row.metric!r} metric, not {metric!r}; pass metric={row.metric!r}."
        )
    if vectors != row.vectors:
        raise ConfigurationError(f"Collection {row.name!r} uses vectors={row.vectors!r}; pass vectors={row.vectors!r}.")
    if model is not None and row.model is not None and model != row.model:
        raise ConfigurationError(
            f"Collection {row.name!r} was built with the embedding model {row.model!r}, not {model!r}; its "
            "vectors are not comparable. Use the same model, or a new collection name."
        )


def stored_index_mode(row: CollectionRow) -> str | None:
    """The index mode a collection was created with (None for collections from before it was stored)."""
    try:
        options = json.loads(row.options or "{}")
    except ValueError:
        return None
    mode = options.get("index") if isinstance(options, dict) else None
    return mode if mode in INDEX_MODES else None


def _check_k(k: int, what: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigurationError(f"{what} must be a positive int, not {k!r}.")
    return int(k)


class Collection:
    """Records of one dimension and metric inside a vault. Get one with :meth:`Vault.collection`."""

    def __init__(
        self,
        vault: Vault,
        name: str,
        config: CollectionRow | None,
        *,
        pending: tuple[int | None, str, str, str | None],
        native_index: bool = False,
    ) -> None:
        self._vault = vault
        self._core = vault.core
        self.name = name
        self._config = config
        self._pending = pending
        self._native_index = native_index
        self._sealer = RecordSealer(vault.core.keys.keyset, vault.core.keys.vault_id, name)
        self._graphs = GraphKeeper(self._core, name)
        self._mirror = Mirror(self._core, name, self._sealer, self._graphs)
        self._texts = TextKeeper(self._core, name, self._sealer)

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, dim={self.dim}, metric={self.metric!r})"

    def configure(
        self,
        config: CollectionRow | None,
        *,
        pending: tuple[int | None, str, str, str | None],
        native_index: bool,
        index_mode: str,
    ) -> None:
        """Take a fresh :meth:`Vault.collection` call's settings (``index_mode`` is per process, not stored).

        A collection that does not exist yet is created now if ``pending`` names its dimension.
        """
        self._config = config
        if config is None:
            self._pending = pending
            self._native_index = native_index
        self._graphs.mode = index_mode
        if config is None and pending[0] is not None:
            self._create(pending[0])

    # -- configuration -----------------------------------------------------------------------------------

    @property
    def dim(self) -> int | None:
        """Vector dimension (None until the first add to a collection created without one)."""
        return self._config.dim if self._config is not None else self._pending[0]

    @property
    def metric(self) -> str:
        """``cosine``, ``dot`` or ``euclidean``."""
        return self._config.metric if self._config is not None else self._pending[1]

    @property
    def vector_mode(self) -> str:
        """``sealed`` or ``plain``."""
        return self._config.vectors if self._config is not None else self._pending[2]

    @property
    def model(self) -> str | None:
        """The embedding model's name, if recorded."""
        return self._config.model if self._config is not None else self._pending[3]

    @property
    def index_mode(self) -> str:
        """How this collection searches in this process: ``exact``, ``hnsw`` or ``auto``.

        The mode it was created with, unless this process's :meth:`Vault.collection` call switched it.
        """
        return self._graphs.mode

    @property
    def vault(self) -> Vault:
        """The vault holding this collection."""
        return self._vault

    def _create(self, dim: int) -> CollectionRow:
        _, metric, vectors, model = self._pending
        storage = self._core.storage
        # The index mode is stored so that a reopen without index= searches as the collection was created.
        stored = {"native_index": bool(self._native_index)} if vectors == "plain" else {"index": self._graphs.mode}
        options = json.dumps(stored)
        with self._core.write(self.name, 0):  # creates the collection's own data key
            storage.create_collection(
                CollectionRow(self.name, dim, metric, vectors, model, rev=0, epoch=0, options=options)
            )
            row = storage.collection(self.name)
            if row is not None and row.vectors == "plain":
                storage.create_plain_table(self.name, row.dim, row.metric, native_index=self._plain_native(row))
        if row is None:
            raise StorageError(f"Collection {self.name!r} could not be created.")
        check_same_config(row, dim=dim, metric=metric, vectors=vectors, model=model)
        self._config = row
        return row

    @staticmethod
    def _plain_native(row: CollectionRow) -> bool:
        try:
            options = json.loads(row.options or "{}")
        except ValueError:
            return False
        return bool(isinstance(options, dict) and options.get("native_index"))

    def _refresh_config(self) -> CollectionRow | None:
        if self._config is None:
            self._config = self._core.storage.collection(self.name)
        return self._config

    # -- freshness ---------------------------------------------------------------------------------------

    def _sync(self, *, with_metadata: bool = False) -> VectorIndex | None:
        """Bring the mirror up to the database's state; call with the vault lock held."""
        config = self._refresh_config()
        if config is None:
            return None
        index = self._mirror.sync(config, with_metadata=with_metadata)
        if self._mirror.dropped:
            self._config = None  # dropped by another connection: forget everything
        return index

    # -- writes ------------------------------------------------------------------------------------------

    def add(
        self,
        texts: Sequence[str] | None = None,
        vectors: Any = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Insert or replace records (upsert by id) in one transaction: all of the batch or none of it.

        Args:
            texts: the record texts (``None`` stores empty texts).
            vectors: a 2-D numpy array or a sequence of float sequences, one row per record.
            metadatas: JSON-compatible dicts, one per record (or None).
            ids: string ids; random ids are generated when omitted. User ids are stored in plaintext.

        Returns:
            The ids, in input order.

        Raises:
            ConfigurationError: any bad input; nothing is stored.
        """
        if vectors is None:
            raise ConfigurationError("add() needs vectors: one embedding per record.")
        n = len(texts) if texts is not None else None
        if texts is not None and isinstance(texts, str):
            raise ConfigurationError("texts must be a list of strings, not one string; wrap it: texts=[text].")
        with self._core.lock:
            self._core.check_open()
            config = self._refresh_config()
            matrix = check_vectors(vectors, n=n, dim=config.dim if config else self._pending[0])
            count = matrix.shape[0]
            if count == 0:
                return []
            text_list = self._check_texts(texts, count)
            meta_list = self._check_metadatas(metadatas, count)
            id_list = new_ids(count) if ids is None else check_ids(ids, count)
            if config is None:
                config = self._create(int(matrix.shape[1]))
            encoded_meta = [encode_metadata(m) for m in meta_list]
            encoded_texts = [text.encode() for text in text_list]
            storage = self._core.storage
            with self._core.write(self.name, 3 * count) as primary:
                old_rev, new_rev = storage.bump_revision(self.name)
                sealed_texts, sealed_meta, sealed_vectors = self._sealer.seal_records(
                    primary, id_list, encoded_texts, encoded_meta, matrix, rev=new_rev
                )
                storage.upsert_records(
                    self.name, new_rev, primary.key_id, id_list, sealed_texts, sealed_meta, sealed_vectors
                )
                if config.vectors == "plain":
                    storage.upsert_plain(self.name, [(rid, encode_vector(matrix[i])) for i, rid in enumerate(id_list)])
            in_memory = matrix if config.vectors != "plain" else np.empty((count, 0), dtype=np.float32)
            self.apply_own_write(
                old_rev, new_rev, lambda index: index.upsert(id_list, in_memory, meta_list, revs=new_rev)
            )
            return id_list

    upsert = add

    @staticmethod
    def _check_texts(texts: Sequence[str] | None, count: int) -> list[str]:
        if texts is None:
            return [""] * count
        out = list(texts)
        for i, text in enumerate(out):
            if not isinstance(text, str):
                raise ConfigurationError(f"texts[{i}] is a {type(text).__name__}; texts must be strings.")
        return out

    @staticmethod
    def _check_metadatas(metadatas: Sequence[Mapping[str, Any] | None] | None, count: int) -> list[dict[str, Any]]:
        if metadatas is None:
            return [{} for _ in range(count)]
        if isinstance(metadatas, Mapping):
            raise ConfigurationError("metadatas must be a list of dicts, one per record; wrap it: [metadata].")
        out = list(metadatas)
        if len(out) != count:
            raise ConfigurationError(f"Got {len(out)} metadatas for {count} records; pass one per record.")
        return check_metadatas(out)

    def keys_rotated(self) -> None:
        """The collection's old data keys were destroyed: store the graph this process holds anew."""
        self._graphs.keys_rotated()

    def vault_closed(self) -> None:
        """The vault closed: drop the opened vectors, the graph and the text index held in memory."""
        self._mirror.reset()
        self._graphs.release()
        self._texts.release()

    def apply_own_write(self, old_rev: int, new_rev: int, apply: Callable[[Any], None]) -> None:
        """Apply our own committed write to the mirror, if it was current before the write."""
        self._mirror.apply_own_write(old_rev, new_rev, apply)

    def delete(self, ids: Sequence[str] | None = None, *, filter: Any = None) -> int:
        """Delete records by id and/or filter; return how many were deleted. Unknown ids are ignored.

        Deleted ciphertext is overwritten in the database (``secure_delete``), then the WAL is copied
        back and truncated. What is guaranteed about the files (database, ``-wal``):

        - no other connection is reading the file: the ciphertext is gone from them when this returns;
        - another connection (another process, an export, a second :meth:`Vault.open`) is inside a read
          at that moment: its snapshot pins the old pages, so the ciphertext stays until those readers
          finish *and* this vault writes again, deletes again or closes (or the last connection to the
          file closes). This call waits a few tens of milliseconds for them, never longer.
        """
        if ids is None and filter is None:
            raise ConfigurationError("delete() needs ids or a filter; to delete everything use clear().")
        if isinstance(ids, str):
            raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
        parsed = parse_filter(filter)
        with self._core.lock:
            self._core.check_open()
            if self._refresh_config() is None:
                return 0
            targets = list(dict.fromkeys(ids)) if ids is not None else None
            if parsed is not None:
                matching = self._matching_ids(parsed)
                targets = matching if targets is None else _in_order_among(targets, matching)
            if not targets:
                return 0
            storage = self._core.storage
            with self._core.write(self.name, 0):
                old_rev, new_rev = storage.bump_revision(self.name)
                deleted = storage.delete_records(self.name, targets, new_rev)
                if self._config is not None and self._config.vectors == "plain":
                    storage.delete_plain(self.name, targets)
                pruned = storage.prune_deletions(self.name, _DELETION_LOG_LIMIT)
                epoch = storage.bump_epoch(self.name) if pruned else None
            self.apply_own_write(old_rev, new_rev, lambda index: index.remove(targets))
            if epoch is not None:
                self._mirror.note_epoch(new_rev, epoch)
            storage.checkpoint()
            return deleted

    def clear(self) -> int:
        """Delete every record of the collection (it keeps its configuration); return how many.

        The deleted ciphertext leaves the files as :meth:`delete` describes.
        """
        with self._core.lock:
            self._core.check_open()
            if self._refresh_config() is None:
                return 0
            storage = self._core.storage
            with self._core.write(self.name, 0):
                storage.bump_revision(self.name)
                count = storage.clear_records(self.name)
                if self._config is not None and self._config.vectors == "plain":
                    storage.clear_plain(self.name)
                storage.bump_epoch(self.name)
            self._mirror.reset()
            storage.checkpoint()
            return count

    # -- reads -------------------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of records."""
        with self._core.lock:
            self._core.check_open()
            if self._refresh_config() is None:
                return 0
            return self._core.storage.count(self.name)

    def ids(self) -> list[str]:
        """Every record id."""
        with self._core.lock:
            self._core.check_open()
            if self._refresh_config() is None:
                return []
            return self._core.storage.all_ids(self.name)

    def _matching_ids(self, parsed: Filter) -> list[str]:
        with self._core.storage.snapshot():
            index = self._sync(with_metadata=True)
        if index is None or index.metadata is None:
            return []
        return [index.ids[i] for i in np.flatnonzero(index.metadata.mask(parsed))]

    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        filter: Any = None,
        limit: int | None = None,
        include_vectors: bool = True,
    ) -> list[Record]:
        """Open records by id (in the order asked, missing ids skipped) and/or by filter.

        With neither ids nor filter, returns every record (up to ``limit``).
        """
        if isinstance(ids, str):
            raise ConfigurationError("ids must be a list of strings, not one string; wrap it: ids=[the_id].")
        parsed = parse_filter(filter)
        with self._core.lock:
            self._core.check_open()
            config = self._refresh_config()
            if config is None:
                return []
            storage = self._core.storage
            if parsed is not None:
                matching = self._matching_ids(parsed)
                wanted = matching if ids is None else _in_order_among(dict.fromkeys(ids), matching)
            elif ids is None:
                wanted = storage.all_ids(self.name)
            else:
                wanted = list(ids)
            if limit is not None:
                wanted = wanted[: max(0, int(limit))]
            columns = ["rev", "text", "metadata", "vector"] if include_vectors else ["rev", "text", "metadata"]
            found = storage.fetch(self.name, list(dict.fromkeys(wanted)), columns)
            out: list[Record] = []
            for record_id in wanted:
                row = found.get(record_id)
                if row is None:
                    continue
                rev = row[0]  # the write version: every field must be of this one write
                vector = self._sealer.open_vector(record_id, row[3], rev, config.dim) if include_vectors else None
                out.append(
                    Record(
                        id=record_id,
                        text=self._sealer.open_text(record_id, row[1], rev),
                        metadata=self._sealer.open_metadata(record_id, row[2], rev),
                        vector=vector,
                    )
                )
            return out

    def search(self, vector: Any, k: int = DEFAULT_K, *, filter: Any = None) -> list[Hit]:
        """Exact nearest neighbours of ``vector``, best first; ``k`` hits whenever ``k`` records match.

        Args:
            vector: the query embedding (the collection's dimension).
            k: how many hits.
            filter: a Mongo-style dict (``{"topic": "a", "year": {"$gte": 2020}}``) or a
                :mod:`vecvault.filters` expression.
        """
        k = _check_k(k)
        return self._ranked_hits(vector, parse_filter(filter), lambda searcher, query: searcher.top(query, k))

    def search_mmr(
        self,
        vector: Any,
        k: int = DEFAULT_K,
        fetch_k: int = DEFAULT_FETCH_K,
        lambda_mult: float = 0.5,
        *,
        filter: Any = None,
    ) -> list[Hit]:
        """Maximal marginal relevance: ``k`` hits from the top ``fetch_k``, diverse by ``lambda_mult``.

        The top ``fetch_k`` are exact, or the HNSW graph's candidates when the collection searches through
        its graph (``index="hnsw"``, or ``"auto"`` above its threshold).

        ``lambda_mult`` = 1 is pure relevance, 0 is pure diversity.
        """
        k = _check_k(k)
        fetch_k = _check_k(fetch_k, "fetch_k")
        if fetch_k < k:
            raise ConfigurationError(f"fetch_k ({fetch_k}) must be at least k ({k}).")
        if not isinstance(lambda_mult, (int, float)) or not 0.0 <= float(lambda_mult) <= 1.0:
            raise ConfigurationError(f"lambda_mult must be between 0 and 1, not {lambda_mult!r}.")
        lam = float(lambda_mult)
        return self._ranked_hits(
            vector,
            parse_filter(filter),
            lambda searcher, query: searcher.diverse(query, k, fetch_k, lam),
            ordered=False,
        )

    # -- choosing how to rank ----------------------------------------------------------------------------

    def _ranked_hits(
        self,
        vector: Any,
        parsed: Filter | None,
        rank: Callable[[Searcher, npt.NDArray[np.float32]], Ranked],
        *,
        ordered: bool = True,
    ) -> list[Hit]:
        """Rank with this query's searcher inside one read snapshot and open the hits (``ordered``: best first)."""
        with self._core.lock:
            prepared = self._prepare_query(vector)
            if prepared is None:
                return []
            config, query = prepared
            with self._core.storage.snapshot():
                searcher = self._searcher(config, parsed)
                if searcher is None:
                    return []
                hits = self._hits(config, query, rank(searcher, query), ordered=ordered)
            searcher.finish()
            self._mirror.persist(config)
            return hits

    def search_text(self, query: str, k: int = DEFAULT_K, *, filter: Any = None) -> list[Hit]:
        """Keyword search: the ``k`` records whose texts best match ``query`` by BM25, best first.

        The text index is built in memory from the opened texts on the first text query (never written
        to disk) and follows every later write, delete, clear and rotation, by this process or any other,
        as the vectors do. Words are stemmed and English stop words dropped; code identifiers stay
        findable (``os.path.join``, ``PyArg_ParseTuple``, ``snake_case``, ``E1234``: a query for one ranks
        the exact identifier first); ``"double quotes"`` require an exact phrase
        (:mod:`vecvault.search.tokenize` has the rules). Needs ``pip install 'vecvault[text]'``.

        Args:
            query: the words, identifiers or quoted phrases to look for.
            k: how many hits; ``k`` whenever ``k`` records match the filter and contain a query term.
            filter: a Mongo-style dict or a :mod:`vecvault.filters` expression, applied inside the search.

        Returns:
            Hits whose ``score`` is the BM25 score (unbounded, higher is better; tantivy's BM25 with
            ``k1 = 1.2``, ``b = 0.75``), ``relevance`` the score as a fraction of the best hit's (the first
            hit has 1.0) and ``distance`` ``1 - relevance``. Records that contain no query term are never
            returned; a query of only stop words or punctuation matches nothing and returns ``[]``.

        Raises:
            ConfigurationError: an empty or whitespace-only query, a bad ``k``, or tantivy not installed.
        """
        k = _check_k(k)
        text = check_query_text(query)
        parsed = parse_filter(filter)
        with self._core.lock:
            self._core.check_open()
            config = self._refresh_config()
            if config is None:
                return []
            terms = self._texts.parse(text)
            if terms.empty:
                return []
            with self._core.storage.snapshot():
                searcher = self._text_searcher(config, parsed)
                if searcher is None:
                    return []
                ranked = searcher.top(terms, k)
                best = ranked.hits[0][1] if ranked.hits else 0.0
                relevances = [score / best if best > 0 else 0.0 for _, score in ranked.hits]
                hits = self._scored_hits(config, ranked, relevances)
            self._mirror.persist(config)
            return hits

    def search_hybrid(
        self,
        vector: Any,
        query: str,
        k: int = DEFAULT_K,
        *,
        filter: Any = None,
        fusion: str = "rrf",
        alpha: float | None = None,
        dense_k: int | None = None,
        text_k: int | None = None,
    ) -> list[Hit]:
        """Hybrid search: the dense ranking of ``vector`` and the BM25 ranking of ``query``, fused.

        Both legs run in one read snapshot with the filter applied inside each; the dense leg is the
        collection's own (exact, or the HNSW graph with ``index="hnsw"``). :meth:`search_text` describes
        the text leg; a query of only stop words leaves the text leg empty, so the dense ranking alone
        decides (the fusion still runs: nothing switches mode).

        Args:
            vector: the query embedding.
            query: the query text for the BM25 leg.
            k: how many hits.
            filter: a Mongo-style dict or a :mod:`vecvault.filters` expression, applied in both legs.
            fusion: ``"rrf"`` (default): reciprocal-rank fusion, ``sum(1 / (60 + rank))``;
                ``"relative"``: relative-score fusion, ``alpha * dense + (1 - alpha) * text`` over each
                leg's min-max scaled scores (:mod:`vecvault.search.fusion`).
            alpha: the dense leg's weight for ``fusion="relative"``, in [0, 1] (LlamaIndex's definition:
                0 = text only, 1 = dense only); default 0.5. RRF fuses ranks, not scores: passing
                ``alpha`` with ``fusion="rrf"`` raises.
            dense_k: how many candidates the dense leg ranks (default ``max(k, HYBRID_LEG_K)``).
            text_k: how many candidates the text leg ranks (default ``max(k, HYBRID_LEG_K)``).

        Returns:
            Hits whose ``score`` is the fused score; ``relevance`` is in [0, 1]: for RRF the score as a
            fraction of the best possible (first in both legs), for relative fusion the fused score itself;
            ``distance`` is ``1 - relevance``.

        Raises:
            ConfigurationError: an empty query, an unknown fusion, ``alpha`` outside [0, 1] or given with
                RRF, a bad ``k``/``dense_k``/``text_k``, a query vector of the wrong dimension, or tantivy
                not installed.
        """
        k = _check_k(k)
        weight = hybrid_alpha(fusion, alpha)
        leg_k = max(k, HYBRID_LEG_K)
        dense_n = leg_k if dense_k is None else _check_k(dense_k, "dense_k")
        text_n = leg_k if text_k is None else _check_k(text_k, "text_k")
        text = check_query_text(query)
        parsed = parse_filter(filter)
        with self._core.lock:
            prepared = self._prepare_query(vector)
            if prepared is None:
                return []
            config, query_vector = prepared
            terms = self._texts.parse(text)
            with self._core.storage.snapshot():
                searcher = self._searcher(config, parsed)
                if searcher is None:
                    return []
                dense = _rescored(config.metric, query_vector, searcher.top(query_vector, dense_n))
                text_searcher = self._text_searcher(config, parsed) if not terms.empty else None
                lexical = text_searcher.top(terms, text_n) if text_searcher is not None else Ranked([])
                if fusion == "rrf":
                    fused = reciprocal_rank_fusion([dense.hits, lexical.hits])[:k]
                    relevances = [rrf_relevance(score, 2, DEFAULT_RRF_K) for _, score in fused]
                else:
                    fused = relative_score_fusion(dense.hits, lexical.hits, weight)[:k]
                    relevances = [min(1.0, max(0.0, score)) for _, score in fused]
                ranked_by = dense.ranked_by if dense.ranked_by is not None else lexical.ranked_by
                hits = self._scored_hits(config, Ranked(fused, ranked_by), relevances)
            searcher.finish()
            self._mirror.persist(config)
            return hits

    # -- choosing how to rank ----------------------------------------------------------------------------

    def _searcher(self, config: CollectionRow, parsed: Filter | None) -> Searcher | None:
        """The searcher for this query (inside the read snapshot); None while the collection is empty of state.

        ``plain`` collections rank in SQL; sealed ones through the HNSW graph when the index mode asks for
        it (``"hnsw"``, or ``"auto"`` above :data:`~vecvault.search.hnsw.AUTO_HNSW_MIN` records), else exactly.
        """
        if config.vectors == "plain":
            return SqlSearcher(self._core, config, self._mirror, parsed, native=self._plain_native(config))
        indexed = self._mirror.indexed(config, parsed)
        if self._mirror.dropped:
            self._config = None
        if indexed is None:
            return None
        index, mask = indexed
        graph = self._graphs.follow(index)
        return ExactSearcher(index, mask) if graph is None else GraphSearcher(index, mask, graph, self._graphs)

    def _text_searcher(self, config: CollectionRow, parsed: Filter | None) -> TextSearcher | None:
        """The text leg (inside the read snapshot): the text index caught up with the mirror, and the mask.

        ``plain`` collections load metadata into the mirror too: their rows' write versions are then
        authenticated, which is what the text index follows.
        """
        index = self._mirror.sync(config, with_metadata=parsed is not None or config.vectors == "plain")
        if self._mirror.dropped:
            self._config = None
        if index is None:
            return None
        mask = index.metadata.mask(parsed) if parsed is not None and index.metadata is not None else None
        return TextSearcher(index, mask, self._texts.follow(index, self._mirror.known_rev))

    def _scored_hits(self, config: CollectionRow, ranked: Ranked, relevances: Sequence[float]) -> list[Hit]:
        """Hits of a text or fused ranking, in its order, with its scores (no vector is opened)."""
        relevance_of = {record_id: rel for (record_id, _), rel in zip(ranked.hits, relevances, strict=True)}
        score_of = dict(ranked.hits)
        ids, texts, metadatas, _ = self._open_ranked(config, ranked, with_vectors=False)
        return [
            Hit(
                id=record_id,
                text=text,
                metadata=metadata,
                score=score_of[record_id],
                relevance=relevance_of[record_id],
                distance=1.0 - relevance_of[record_id],
            )
            for record_id, text, metadata in zip(ids, texts, metadatas, strict=True)
        ]

    def _prepare_query(self, vector: Any) -> tuple[CollectionRow, npt.NDArray[np.float32]] | None:
        """The collection's configuration and the checked query; None while the collection has no records."""
        self._core.check_open()
        config = self._refresh_config()
        if config is None:
            return None
        return config, check_query(vector, config.dim)

    def _hits(
        self, config: CollectionRow, query: npt.NDArray[np.float32], ranked: Ranked, *, ordered: bool = True
    ) -> list[Hit]:
        """Open the hits, checked to be of the writes whose vectors ranked them, and score them exactly.

        The ranking was done in float32; each hit is scored again here in float64 from its stored float32
        vector (:func:`vecvault.index.exact_scores`: k dot products), so scores and distances are exact and
        inside their metric's range. ``ordered``: the hits are a top k, re-ordered by the exact score (ties
        keep their order); an MMR selection (``ordered=False``) keeps its own order.
        """
        ids, texts, metadatas, vectors = self._open_ranked(config, ranked, with_vectors=True)
        if not ids or vectors is None:
            return []
        scores, distances = exact_scores(config.metric, query, vectors)
        order = np.argsort(-scores, kind="stable") if ordered else np.arange(len(ids))
        return [
            Hit(
                id=ids[i],
                text=texts[i],
                metadata=metadatas[i],
                score=float(scores[i]),
                relevance=relevance(config.metric, float(distances[i])),
                distance=float(distances[i]),
            )
            for i in order.tolist()
        ]

    def _open_ranked(
        self, config: CollectionRow, ranked: Ranked, *, with_vectors: bool
    ) -> tuple[list[str], list[str], list[dict[str, Any]], npt.NDArray[np.float32] | None]:
        """The ranked records still stored, in ranking order, opened: ids, texts, metadata and (optionally) vectors.

        Raises:
            IntegrityError: a hit's stored write is not the one the in-memory index ranked.
        """
        scored, index = ranked.hits, ranked.ranked_by
        if not scored:
            return [], [], [], None
        storage = self._core.storage
        columns = ["rev", "text", "metadata", "vector"] if with_vectors else ["rev", "text", "metadata"]
        found = storage.fetch(self.name, [record_id for record_id, _ in scored], columns)
        ids = [record_id for record_id, _ in scored if record_id in found]
        if not ids:
            return [], [], [], None
        revs = [found[record_id][0] for record_id in ids]
        texts = self._sealer.open_texts(ids, [found[record_id][1] for record_id in ids], revs)
        metadatas = self._sealer.open_metadatas(ids, [found[record_id][2] for record_id in ids], revs)
        vectors = None
        if with_vectors:
            vectors = np.empty((len(ids), config.dim), dtype=np.float32)
            self._sealer.open_vectors_into(ids, [found[record_id][3] for record_id in ids], revs, vectors)
        if index is not None and not storage.remote and not storage.replica:
            # Inside one read snapshot the index holds each record's current write: a hit's text and
            # metadata must be of the write whose vector ranked it.
            for record_id, rev in zip(ids, revs, strict=True):
                ranked_rev = index.rev_of(record_id)
                if ranked_rev is not None and ranked_rev >= 0 and ranked_rev != rev:
                    raise IntegrityError(
                        f"Record {record_id!r} was ranked by the vector of another write than its stored text "
                        "and metadata: the vault was altered. Run `vecvault verify`, or restore a backup."
                    )
        return ids, texts, metadatas, vectors

    def compact(self) -> bool:
        """Fold every change into the collection's sealed snapshot now, so the next open reads it whole.

        An open reads the snapshot (its vectors, in a few large sealed chunks) plus the records changed
        since, instead of every record (:mod:`vecvault.search.snapshot`). The vault stores a snapshot by
        itself after a load from the records and once a tenth of the records changed since the last one;
        call this after a large ingest to make the next open fast at once, or after deletes (a delete
        drops the snapshot, so nothing of a deleted record stays in the file). A snapshot costs about the
        vectors' size on disk.

        Returns:
            Whether a snapshot was stored (not for ``plain`` collections, read-only vaults, collections
            with records sealed by a legacy key, or one written by another connection meanwhile).
        """
        with self._core.lock:
            self._core.check_open()
            config = self._refresh_config()
            if config is None or config.vectors == "plain":
                return False
            with self._core.storage.snapshot():
                index = self._sync()
            if index is None:
                return False
            return self._mirror.compact(config)

    def vectors(self) -> tuple[list[str], npt.NDArray[np.float32]]:
        """Every id and its indexed vector (unit length for cosine), as held in memory."""
        with self._core.lock:
            self._core.check_open()
            with self._core.storage.snapshot():
                index = self._sync()
            if index is None:
                return [], np.empty((0, self.dim or 0), dtype=np.float32)
            return list(index.ids), index.vectors.copy()


def _rescored(metric: str, query: npt.NDArray[np.float32], ranked: Ranked) -> Ranked:
    """The dense leg scored in float64 from the indexed vectors, as :meth:`Collection.search` scores its hits.

    Fusion then weighs the same scores a dense search returns; a ranking libSQL made is kept as it is.
    """
    index = ranked.ranked_by
    rows = [index.row_of(record_id) for record_id, _ in ranked.hits] if index is not None else []
    if index is None or not rows or any(row is None for row in rows):
        return ranked
    scores, _ = exact_scores(metric, query, index.rows_matrix(np.array(rows, dtype=np.intp)))
    order = np.argsort(-scores, kind="stable")
    return Ranked([(ranked.hits[i][0], float(scores[i])) for i in order.tolist()], index)


def _in_order_among(ids: Iterable[str], allowed: Sequence[str]) -> list[str]:
    """The ``ids`` (in their order) that are among ``allowed``; one set for the whole call."""
    keep = set(allowed)
    return [i for i in ids if i in keep]
