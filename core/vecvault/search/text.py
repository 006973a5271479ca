"""Full-text search (BM25) over a collection's sealed texts, in memory, following the mirror.

Texts are sealed at rest, so their index can never sit in the database: :class:`TextIndex` is a tantivy
index held in RAM (no directory, no file, no temporary file), built from texts opened in this process.
It is never persisted; a new process builds it again on its first text query (about a second per 100k
records of 500 bytes; a tqdm bar from :data:`PROGRESS_AT` records).

:class:`TextKeeper` keeps one collection's text index in step with the mirror (:mod:`vecvault.search.mirror`),
the same change feed the vectors follow, as :class:`~vecvault.search.hnsw.GraphKeeper` does for the graph:
before each text query it compares the mirror's revision with the one it last followed (equal: nothing to
do), re-indexes the records whose authenticated write version is newer than what it holds (adds,
upserts, rotations), drops the records the mirror no longer has (deletes, clears), and rebuilds from the
records when the change is large or the mirror was reloaded under legacy keys. Every text it indexes is
opened under its record's write version and must be of the write the mirror's vector is of, so a text
hit is checked exactly as a vector hit is.

:class:`TextSearcher` ranks one query: BM25 (tantivy's, ``k1 = 1.2``, ``b = 0.75``) summed over the query's
clauses: an exact term per identifier part, the best-scoring indexed word of each plain word's stem, and
a phrase score for identifiers that split into several terms (:mod:`vecvault.search.tokenize`). As in
Lucene, replaced and deleted documents count in the BM25 statistics until tantivy merges their segments.
A filter's row mask is applied inside the search, so ``n`` hits come back whenever ``n`` records match
the filter and the query.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vecvault.errors import IntegrityError
from vecvault.index import VectorIndex
from vecvault.records import RecordSealer
from vecvault.search.base import Ranked
from vecvault.search.tokenize import ANALYZER_NAME, ParsedQuery, analyzer, parse_query, stemmer, tantivy_module

if TYPE_CHECKING:
    from vecvault.engine import VaultCore

__all__ = ["PROGRESS_AT", "TextIndex", "TextKeeper", "TextSearcher"]

PROGRESS_AT = 50_000  # records: a build at least this large shows a progress bar
_KEY = "key"
_TEXT = "text"
_BUILD_HEAP = 64_000_000  # bytes of tantivy's indexing budget for a build (two threads share it)
_UPDATE_HEAP = 15_000_000  # the smallest budget tantivy accepts, for the writer that applies changes
_FETCH_CHUNK = 500
_TERM_SET_MAX = 1_024  # a filter matching at most this many records restricts the search by their keys
_REBUILD_MIN = 10_000  # changes below this many records are applied in place, never by a rebuild
_VARIANTS_SCAN = 4_096  # indexed words sharing a query word's stem prefix examined per query word
_VARIANTS_CACHE = 4_096  # query words whose indexed variants are remembered until the next commit


class TextIndex:
    """BM25 over opened texts, in memory: a tantivy RAM index plus the map between its keys and record ids.

    Each stored version of a record is a document with a fresh integer key; a replaced or removed
    record's document is deleted by key. Changes become visible to searches at :meth:`commit`.
    """

    def __init__(self, text_analyzer: Any, stem_analyzer: Any) -> None:
        tantivy = tantivy_module()
        self._stemmer = stem_analyzer
        self._variants: dict[str, list[str]] = {}  # stem -> indexed words of that stem (until the next commit)
        self._tantivy = tantivy
        builder = tantivy.SchemaBuilder()
        builder.add_unsigned_field(_KEY, indexed=True, fast=True)
        builder.add_text_field(_TEXT, stored=False, tokenizer_name=ANALYZER_NAME, index_option="position")
        self._schema = builder.build()
        self._index = tantivy.Index(self._schema)  # no path: a RAM directory, nothing on disk
        self._index.register_tokenizer(ANALYZER_NAME, text_analyzer)
        self._writer: Any = None
        self._bulk = False
        self._searcher: Any = None
        self._dirty = False
        self._key_of: dict[str, int] = {}
        self._id_of: list[str | None] = []  # key -> record id (None once that document is deleted)
        # key -> hash of the text indexed under it (this process's str hash, in memory only): a record
        # re-sealed or re-written with the same text (a rotation, a metadata update) is not re-indexed.
        self._digests = np.zeros(64, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._key_of)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._key_of

    def ids(self) -> list[str]:
        """Every indexed record id."""
        return list(self._key_of)

    def begin_bulk(self) -> None:
        """Index many records at once (a build): two indexing threads and a larger budget until :meth:`commit`."""
        self._close_writer()
        self._writer = self._index.writer(heap_size=_BUILD_HEAP, num_threads=2)
        self._bulk = True

    def _writer_now(self) -> Any:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_UPDATE_HEAP, num_threads=1)
        return self._writer

    def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.wait_merging_threads()  # consumes the writer; merges already started finish first

    def upsert(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index (or re-index) records' texts."""
        writer = None
        tantivy = self._tantivy
        key_of, id_of = self._key_of, self._id_of
        need = len(id_of) + len(ids)
        if need > self._digests.shape[0]:
            grown = np.zeros(max(need, int(self._digests.shape[0] * 1.5)), dtype=np.int64)
            grown[: len(id_of)] = self._digests[: len(id_of)]
            self._digests = grown
        digests = self._digests
        for record_id, text in zip(ids, texts, strict=True):
            digest = hash(text)
            old = key_of.get(record_id)
            if old is not None:
                if digests[old] == digest:
                    continue  # the same text: its document stays
                writer = writer or self._writer_now()
                writer.delete_documents_by_term(_KEY, old)
                id_of[old] = None
            writer = writer or self._writer_now()
            key = len(id_of)
            id_of.append(record_id)
            key_of[record_id] = key
            digests[key] = digest
            doc = tantivy.Document()
            doc.add_unsigned(_KEY, key)
            doc.add_text(_TEXT, text)
            writer.add_document(doc)
            self._dirty = True

    def extend_new(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index records this index has never held (a build's fast path: no replaced document to delete)."""
        writer = self._writer_now()
        start = len(self._id_of)
        need = start + len(ids)
        if need > self._digests.shape[0]:
            grown = np.zeros(max(need, int(self._digests.shape[0] * 1.5)), dtype=np.int64)
            grown[:start] = self._digests[:start]
            self._digests = grown
        self._digests[start:need] = np.fromiter(map(hash, texts), dtype=np.int64, count=len(texts))
        self._id_of.extend(ids)
        self._key_of.update(zip(ids, range(start, need), strict=True))
        if len(self._key_of) != need:
            raise AssertionError("extend_new() got an id twice or one already indexed")
        document, add = self._tantivy.Document, writer.add_document
        for key, text in enumerate(texts, start):
            doc = document()
            doc.add_unsigned(_KEY, key)
            doc.add_text(_TEXT, text)
            add(doc)
        if ids:
            self._dirty = True

    def remove(self, ids: Iterable[str]) -> None:
        """Drop records (unknown ids are ignored)."""
        writer = None
        for record_id in ids:
            key = self._key_of.pop(record_id, None)
            if key is None:
                continue
            writer = writer or self._writer_now()
            writer.delete_documents_by_term(_KEY, key)
            self._id_of[key] = None
            self._dirty = True

    def commit(self) -> None:
        """Make every change since the last commit visible to searches."""
        if self._dirty or self._searcher is None:
            if self._writer is not None:
                self._writer.commit()
            if self._bulk:
                self._close_writer()  # the build's threads and budget go; later changes use a small writer
                self._bulk = False
            self._index.reload()
            self._searcher = self._index.searcher()
            self._variants.clear()
            self._dirty = False

    def keys_of(self, ids: Iterable[str]) -> list[int]:
        """The document keys of indexed records."""
        key_of = self._key_of
        return [key for key in map(key_of.get, ids) if key is not None]

    def build_query(self, parsed: ParsedQuery, keys: Sequence[int] | None = None) -> Any:
        """The tantivy query for ``parsed`` (None if nothing in it can match).

        Terms, words (as the best of their indexed variants) and identifier phrases score; quoted phrases
        are required. ``keys``: only these documents may match (a filter).
        """
        tantivy = self._tantivy
        query_cls, should, must = tantivy.Query, tantivy.Occur.Should, tantivy.Occur.Must
        schema = self._schema

        def phrase(words: Sequence[tuple[int, str]]) -> Any:
            if len(words) == 1:
                return query_cls.term_query(schema, _TEXT, words[0][1])
            return query_cls.phrase_query(schema, _TEXT, list(words))

        clauses = [(must, phrase(words)) for words in parsed.required]
        clauses += [(should, query_cls.term_query(schema, _TEXT, term)) for term in parsed.terms]
        for word, stem in parsed.words:
            variants = [query_cls.term_query(schema, _TEXT, v) for v in self.variants(word, stem)]
            if variants:
                clauses.append(
                    (should, variants[0] if len(variants) == 1 else query_cls.disjunction_max_query(variants))
                )
        clauses += [(should, phrase(words)) for words in parsed.phrases]
        if not clauses:
            return None
        query = query_cls.boolean_query(clauses)
        if keys is not None:
            restrict = query_cls.const_score_query(query_cls.term_set_query(schema, _KEY, list(keys)), 0.0)
            query = query_cls.boolean_query([(must, query), (must, restrict)])
        return query

    def variants(self, word: str, stem: str) -> list[str]:
        """The indexed words whose stem is ``stem`` (``word``'s), found by prefix in the term dictionary.

        A Snowball English stem is a prefix of its words but for its last letter (``hope`` from
        ``hoping``, ``studi`` from ``study``), so the words starting with the stem less that letter are
        stemmed and kept when their stem matches.
        """
        found = self._variants.get(stem)
        if found is not None:
            return found
        searcher = self._searcher
        prefix = stem[:-1] if len(stem) >= 5 or (len(stem) >= 3 and stem[-1] in "ei") else stem
        candidates = [term for term, _ in searcher.terms_with_prefix(_TEXT, prefix, limit=_VARIANTS_SCAN)]
        stems = self._stemmer.analyze(" ".join(candidates)) if candidates else []
        found = [term for term, s in zip(candidates, stems, strict=False) if s == stem]
        if len(candidates) >= _VARIANTS_SCAN and word not in found:
            found.append(word)  # a prefix too common to scan whole: the word as written still counts
        if len(self._variants) >= _VARIANTS_CACHE:
            self._variants.clear()
        self._variants[stem] = found
        return found

    def search(
        self,
        parsed: ParsedQuery,
        n: int,
        *,
        keys: Sequence[int] | None = None,
        accept: Callable[[str], bool] | None = None,
        share: float = 1.0,
    ) -> list[tuple[str, float]]:
        """The ``n`` best records for ``parsed`` as ``(id, BM25 score)``, best first.

        Args:
            parsed: the analyzed query.
            n: how many.
            keys: only these documents (a small filter), restricted inside tantivy.
            accept: only records it accepts (a large filter), checked on the results; the search widens
                until ``n`` are accepted or no result is left.
            share: the share of records ``accept`` is expected to keep (sizes the first round).
        """
        searcher = self._searcher
        if searcher is None or n <= 0 or parsed.empty or not self._key_of:
            return []
        total = max(1, int(searcher.num_docs))
        query = self.build_query(parsed, keys)
        if query is None:
            return []  # no query word is in the index
        if accept is None:
            return self._ranked(searcher.search(query, min(n, total), count=False).hits, n, None)
        limit = min(total, max(n, int(n / max(share, 1e-9) * 2) + 16))
        while True:
            hits = searcher.search(query, limit, count=False).hits
            out = self._ranked(hits, n, accept)
            if len(out) >= n or len(hits) < limit or limit >= total:
                return out
            limit = min(total, limit * 4)

    def _ranked(
        self, hits: Sequence[tuple[Any, Any]], n: int, accept: Callable[[str], bool] | None
    ) -> list[tuple[str, float]]:
        if not hits:
            return []
        keys = self._searcher.fast_field_values(_KEY, [address for _, address in hits])
        id_of = self._id_of
        out: list[tuple[str, float]] = []
        for (score, _), key in zip(hits, keys, strict=True):
            record_id = id_of[int(key)] if key is not None and 0 <= int(key) < len(id_of) else None
            if record_id is None or (accept is not None and not accept(record_id)):
                continue
            out.append((record_id, float(score)))
            if len(out) >= n:
                break
        return out


class TextKeeper:
    """The text index of one collection, kept in step with the mirror (call with the vault lock held)."""

    def __init__(self, core: VaultCore, name: str, sealer: RecordSealer) -> None:
        self._core = core
        self._name = name
        self._sealer = sealer
        self._analyzer: Any = None
        self._stemmer: Any = None
        self._text: TextIndex | None = None
        # The mirror's index the text index reflects; weak, so a mirror reloaded or reset frees its old one.
        self._source: weakref.ref[VectorIndex] | None = None
        self._seen: int | None = None  # the mirror revision it reflects
        self._rev = 0  # the newest write version it holds (the source's max_rev when last followed)

    def release(self) -> None:
        """Drop the text index (the vault closed)."""
        self._text = None
        self._source = None
        self._seen = None

    @property
    def text_index(self) -> TextIndex | None:
        """The text index this process holds (None before the first text query)."""
        return self._text

    def parse(self, query: str) -> ParsedQuery:
        """Analyze a checked query string with the index's analyzer (raises if tantivy is missing)."""
        if self._analyzer is None:
            self._analyzer, self._stemmer = analyzer(), stemmer()
        return parse_query(query, self._analyzer, self._stemmer)

    def follow(self, index: VectorIndex, mirror_rev: int | None) -> TextIndex:
        """The text index caught up with the mirror's ``index`` at ``mirror_rev`` (inside the read snapshot)."""
        text = self._text
        same = self._source is not None and self._source() is index
        if text is not None and same and mirror_rev is not None and mirror_rev == self._seen:
            return text
        if text is None or (not same and not self._revs_authenticated()):
            text = self._build(index)  # legacy v1 records' revs prove nothing: never trust them to skip a text
        else:
            text = self._catch_up(text, index, reloaded=not same)
        self._text, self._source, self._seen, self._rev = text, weakref.ref(index), mirror_rev, index.max_rev
        return text

    def _revs_authenticated(self) -> bool:
        return not self._core.keys.keyset.has_live_legacy_keys(self._name)

    def _catch_up(self, text: TextIndex, index: VectorIndex, *, reloaded: bool) -> TextIndex:
        changed = index.changed_since(self._rev)
        if reloaded:  # the mirror reloaded: reconcile the whole membership
            removed = [record_id for record_id in text.ids() if record_id not in index]
            changed = list(dict.fromkeys([*changed, *(i for i in index.ids if i not in text)]))
        else:
            added = sum(1 for record_id in changed if record_id not in text)
            if len(text) + added == len(index):
                removed = []  # nothing left the mirror: no scan of the ids needed
            else:
                removed = [record_id for record_id in text.ids() if record_id not in index]
        if len(changed) + len(removed) > max(_REBUILD_MIN, len(index) // 2):
            return self._build(index)
        text.remove(removed)
        self._index_records(text, index, changed)
        text.commit()
        return text

    def _build(self, index: VectorIndex) -> TextIndex:
        """A new text index of every record the mirror holds, page by page from the database."""
        if self._analyzer is None:
            self._analyzer, self._stemmer = analyzer(), stemmer()
        text = TextIndex(self._analyzer, self._stemmer)
        total = len(index)
        bar = _progress(total) if total >= PROGRESS_AT else None
        try:
            text.begin_bulk()
            for rows in self._core.storage.scan_pages(self._name, ["rev", "text"]):
                self._index_rows(text, index, rows, fresh=True)
                if bar is not None:
                    bar.update(len(rows))
            text.commit()
        finally:
            if bar is not None:
                bar.close()
        release_free_memory()
        return text

    def _index_records(self, text: TextIndex, index: VectorIndex, ids: Sequence[str]) -> None:
        storage = self._core.storage
        for chunk in _chunks(ids, _FETCH_CHUNK):
            found = storage.fetch(self._name, chunk, ["rev", "text"])
            text.remove(record_id for record_id in chunk if record_id not in found)  # gone meanwhile
            self._index_rows(text, index, [(record_id, *found[record_id]) for record_id in chunk if record_id in found])

    def _index_rows(
        self, text: TextIndex, index: VectorIndex, rows: Sequence[tuple[Any, ...]], *, fresh: bool = False
    ) -> None:
        """Open ``(id, rev, text)`` rows and index those the mirror holds, checked to be of the mirror's writes.

        ``fresh``: the records are new to ``text`` (a build).
        """
        row_of, mirrored_ids = index.row_of, index.ids
        ids: list[str] = []
        revs: list[Any] = []
        blobs: list[Any] = []
        for row in rows:
            at = row_of(str(row[0]))
            if at is not None:
                ids.append(mirrored_ids[at])  # the mirror's own string: one copy of each id in memory
                revs.append(row[1])
                blobs.append(row[2])
        if not ids:
            return
        texts = self._sealer.open_texts(ids, blobs, revs)
        storage = self._core.storage
        if not storage.remote and not storage.replica:
            # Inside one read snapshot the mirror holds each record's current write: the text indexed must
            # be of the write whose vector (or metadata) the mirror opened.
            for record_id, rev in zip(ids, revs, strict=True):
                mirrored = index.rev_of(record_id)
                if mirrored is not None and mirrored >= 0 and mirrored != rev:
                    raise IntegrityError(
                        f"The text of record {record_id!r} is of another write than its vector: the vault was "
                        "altered. Run `vecvault verify`, or restore a backup."
                    )
        if fresh:
            text.extend_new(ids, texts)
        else:
            text.upsert(ids, texts)


class TextSearcher:
    """Ranks one text query over the text index, among the mirror rows a filter's mask keeps."""

    def __init__(self, index: VectorIndex, mask: npt.NDArray[np.bool_] | None, text: TextIndex) -> None:
        self._index = index
        self._mask = mask
        self._text = text

    def top(self, query: ParsedQuery, n: int) -> Ranked:
        """The ``n`` best records by BM25 (``n`` whenever ``n`` records match the filter and the query)."""
        index, mask, text = self._index, self._mask, self._text
        if mask is None:
            return Ranked(text.search(query, n), index)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return Ranked([], index)
        if rows.size <= _TERM_SET_MAX:
            ids = index.ids
            return Ranked(text.search(query, n, keys=text.keys_of(ids[r] for r in rows.tolist())), index)
        row_of = index.row_of

        def accept(record_id: str) -> bool:
            row = row_of(record_id)
            return row is not None and bool(mask[row])

        return Ranked(text.search(query, n, accept=accept, share=rows.size / max(1, len(index))), index)

    def finish(self) -> None:
        """Nothing to do after the snapshot."""


def release_free_memory() -> None:
    """Hand the memory a build freed back to the operating system (glibc's ``malloc_trim``; Linux only).

    tantivy's indexing threads allocate their budget (:data:`_BUILD_HEAP`) from the C allocator, which
    keeps the freed pages in per-thread arenas: without this the process stays about twice the size of
    the index it holds.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim): nothing to hand back
        return


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _progress(total: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="vecvault: building text index", unit="rec", leave=False)
