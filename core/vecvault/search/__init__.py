"""Search: one :class:`~vecvault.search.base.Searcher` interface, one module per way of ranking.

- :mod:`~vecvault.search.mirror`: the change feed. The in-memory copy of a collection (its opened vectors
  and, when a filter needs them, metadata) kept in step with the database by revision.
- :mod:`~vecvault.search.exact`: exact top-k over the mirror's matrix (numpy).
- :mod:`~vecvault.search.hnsw`: an HNSW graph that follows the mirror, sealed in the vault between runs.
- :mod:`~vecvault.search.sql`: ``plain`` collections, ranked by libSQL's vector functions inside SQL.
- :mod:`~vecvault.search.text`: BM25 over the opened texts, a tantivy index in RAM that follows the mirror
  (``vecvault[text]``); :mod:`~vecvault.search.tokenize` turns texts and queries into terms.
- :mod:`~vecvault.search.fusion`: reciprocal-rank and relative-score fusion of a dense and a text ranking
  (hybrid search), pure functions.

A new index kind is a new module with a class that implements :class:`~vecvault.search.base.Searcher`.
"""

from vecvault.search.base import Ranked, Searcher

__all__ = ["Ranked", "Searcher"]
