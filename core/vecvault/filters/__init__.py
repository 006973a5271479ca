"""One filter language for vecvault: an AST, a dict parser, a reference evaluator and a columnar evaluator.

Metadata is sealed at rest, so filters run on decrypted metadata in this process. Both adapters translate
their framework's filters into the small AST below (``Compare``, ``And``, ``Or``, ``Not``);
``evaluate`` is the reference meaning of that AST on one metadata dict, and ``MetadataTable.mask`` computes
the same answer for every row of a collection at once with numpy.

Dict syntax (LangChain, Chroma, PGVector, Mongo style), parsed by ``parse_filter``::

    {"genre": "sf"}                                  # shorthand for {"genre": {"$eq": "sf"}}
    {"year": {"$gte": 1990, "$lt": 2000}}            # several operators on one field: AND
    {"genre": "sf", "year": {"$gt": 2000}}           # several fields in one dict: AND
    {"$or": [{"genre": "sf"}, {"$and": [{"a": 1}, {"b": {"$ne": 2}}]}]}
    {"$not": {"genre": "sf"}}                        # or, per field: {"genre": {"$not": {"$eq": "sf"}}}
    {"$not": [{"genre": "sf"}, {"year": 1999}]}      # PGVector's list form: none of them, $not of $or
    {"specs.screen": "OLED"}                         # a dotted path into nested dicts

Field operators (``$`` name -> AST op): ``$eq $ne $gt $gte $lt $lte $in $nin $contains $any $all
$text_match $text_match_insensitive $like $ilike $exists $is_empty``, plus the shorthands ``$between``
(``[low, high]``, both inclusive), ``$not_contains`` and a field-level ``$not``. Logical operators:
``$and`` and ``$or`` (non-empty lists of filter dicts) and ``$not`` (one filter dict, or a non-empty list of
them that must all fail). Anything else raises ``UnsupportedFilterError``; nothing is ignored or falls back
silently. That includes an operator written without its ``$`` (LangChain's community ``PGVectorTranslator``
emits ``{"and": [{"topic": {"eq": "pets"}}]}``): a top-level ``and``/``or``/``not``/``nor`` key whose value is
a list or a filter dict, and an operator dict with a key such as ``eq``, raise an error that says "did you
mean ``$and`` / ``$eq``", instead of being read as a field and matching nothing.

Filters may come from untrusted input (a self-query retriever, a search form), so they are bounded: a
filter nests at most ``MAX_FILTER_DEPTH`` (64) levels of ``$and``/``$or``/``$not``, a comparison value
nests lists and dicts at most ``vecvault.records.MAX_METADATA_DEPTH`` (64) levels (as deep as stored
metadata may), deeper raises ``UnsupportedFilterError``, and no operator takes more than
O(len(value) * len(operand)) time.

Semantics (the rules ``evaluate`` implements and ``MetadataTable.mask`` reproduces bit for bit):

- **Dotted paths reach into nested dicts** (as Qdrant and Mongo read them): ``"specs.screen"`` is
  ``metadata["specs"]["screen"]``. A literal key wins: when the metadata has the key ``"a.b"`` itself, that
  is the value (so stored keys containing dots keep matching themselves); otherwise the part before the first
  dot must hold a dict, in which the rest is looked up the same way. Lists are not traversed
  (``"tags.0"`` is nothing; use ``$contains``). A key that itself starts with ``$`` can only be filtered
  through the AST (``Compare("$k", "eq", 1)``).
- **Missing key and ``None`` are the same thing, "absent", to every operator but ``exists``.** On an absent
  value every operator is false, except ``ne`` and ``nin`` (true: an absent value is not equal to
  anything), ``exists: False`` and ``is_empty: True``. ``None`` is therefore not accepted as a comparison
  value (it would never match); write ``{"a": {"$exists": False}}`` or ``{"a": {"$is_empty": True}}``
  instead. This is LlamaIndex's rule (``build_metadata_filter_fn``) and also Mongo's for ``$ne``/``$nin``.
- **``exists``** is true when the key is present, even holding ``None`` (Mongo's and PGVector's rule:
  ``{"a": None}`` has ``a``); a dotted path exists when it resolves. **``is_empty``** is true for absent,
  ``None``, ``""`` and ``[]`` (exactly LlamaIndex's ``IS_EMPTY``), so "missing or null" is
  ``{"a": {"$is_empty": True}}``.
- **Types never raise.** Comparing values of different types is simply a non-match (``{"a": {"$gt": 3}}``
  on ``a = "x"`` is false, and its ``$ne`` is true); no ``TypeError`` ever escapes mid-query.
- **Equality is JSON equality.** ``bool`` is distinct from numbers (``True`` does not equal ``1``, as in
  JSON; LlamaIndex would use Python's ``True == 1``, the one place we deliberately differ). Numbers compare
  by value across ``int``/``float`` (``1 == 1.0``), exactly as Python compares them (no rounding of big
  ints). NaN equals nothing. Lists are equal element by element, dicts key by key.
  ``{"tags": "a"}`` does *not* match ``tags = ["a", "b"]``: use ``$contains`` for membership.
- **Ordering** (``gt gte lt lte``) is defined for number against number and for string against string
  (code-point order, so ISO dates work); any other pairing (bools, lists, mixed) is a non-match.
- **``in`` / ``nin``** test equality (as above) against each listed value; ``nin`` is ``not in``.
  On a list field, ``in`` compares the whole list (LlamaIndex's meaning); use ``$any`` for overlap.
- **``contains``** depends on the stored value: on a *list* it is membership (an element equals the
  value); on a *string* it is substring (the value must be a string); on anything else it is false.
  **``any``** / **``all``** apply ``contains`` to each listed value (``all`` of an empty list is true
  for any present value, ``any`` of an empty list is false), as LlamaIndex does.
- **``text_match``** is case-sensitive substring, **``text_match_insensitive``** compares
  ``value.lower()`` in ``stored.lower()``; both are false on non-strings.
- **``like`` / ``ilike``** are SQL ``LIKE`` patterns matched against the whole string: ``%`` is any
  run of characters (newlines included), ``_`` is one character, and a backslash escapes the next
  character (PostgreSQL's default). ``like`` is case-sensitive; ``ilike`` ignores case
  (``re.IGNORECASE``, one character at a time). Both are false on non-strings. A match costs at most
  O(len(value) * len(pattern)) whatever the pattern, so a filter from untrusted input cannot stall the
  vault (no regex backtracking over the ways ``%`` could split the value).
- **``Not``** is plain negation, so ``Not(Compare("a", "gt", 3))`` matches records without ``a``.

LlamaIndex mapping: each of its 14 ``FilterOperator`` values is the AST op of the same name (``==`` ->
``eq``, ``!=`` -> ``ne``, ``>`` -> ``gt``, ... ``is_empty`` -> ``Compare(key, "is_empty", True)``), and
``FilterCondition`` AND/OR/NOT map to ``And``/``Or``/``Not(Or(...))``. Results agree with
``build_metadata_filter_fn`` except where it raises ``TypeError`` (we return a non-match), where it
treats ``bool`` as ``int``, and where it orders lists or tests key membership in dicts (we do not).
"""

from __future__ import annotations

from vecvault.filters.ast import MAX_FILTER_DEPTH, And, Compare, Filter, Not, Or
from vecvault.filters.columnar import MetadataTable
from vecvault.filters.compare import COMPARISON_OPERATORS
from vecvault.filters.evaluate import evaluate
from vecvault.filters.parse import DICT_OPERATORS, LOGICAL_OPERATORS, parse_filter

__all__ = [
    "COMPARISON_OPERATORS",
    "DICT_OPERATORS",
    "LOGICAL_OPERATORS",
    "MAX_FILTER_DEPTH",
    "And",
    "Compare",
    "Filter",
    "MetadataTable",
    "Not",
    "Or",
    "evaluate",
    "parse_filter",
]
