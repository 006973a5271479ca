"""``VecVaultTranslator``: LangChain's structured queries (self-query retrievers) as vecvault ``$`` filters.

A ``SelfQueryRetriever`` asks an LLM for a ``StructuredQuery`` (a query text and a filter built from
``Comparator`` and ``Operator`` nodes); this visitor turns the filter into the dict language of
:func:`vecvault.filters.parse_filter`, which every search method of ``VecVaultVectorStore`` takes::

    from langchain_classic.retrievers.self_query.base import SelfQueryRetriever
    from langchain_vecvault import VecVaultTranslator

    retriever = SelfQueryRetriever.from_llm(
        llm, store, document_contents, metadata_field_info, structured_query_translator=VecVaultTranslator()
    )

Every comparator and operator of ``langchain_core.structured_query`` is allowed:

==========  ===================  ===============================================================
LangChain   vecvault             meaning
==========  ===================  ===============================================================
``eq``      ``$eq``              equal (JSON equality: ``True`` is not ``1``)
``ne``      ``$ne``              not equal (a missing key is not equal)
``gt``      ``$gt``              greater than (numbers with numbers, strings with strings)
``gte``     ``$gte``             greater than or equal
``lt``      ``$lt``              less than
``lte``     ``$lte``             less than or equal
``contain`` ``$contains``        a list holding the value, or a string holding the substring
``like``    ``$like``            SQL ``LIKE`` on the whole string (``%`` and ``_``), as PGVector
``in``      ``$in``              equal to one of the listed values
``nin``     ``$nin``             equal to none of them
``and``     ``$and``             all of the arguments
``or``      ``$or``              any of them
``not``     ``$not``             none of them (one argument: its negation)
==========  ===================  ===============================================================

Dates the LLM writes as ``date("2024-01-31")`` / ``datetime("...")`` come from the query parser as
``{"date": ..., "type": "date"}`` dicts; they become their ISO 8601 strings, which is how vecvault stores
dates and times in metadata (so ``gte`` on a date is string order on ISO dates, which is date order).
Attributes are metadata keys; a dotted attribute (``"specs.screen"``) is a path into nested metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from langchain_core.structured_query import (
    Comparator,
    Comparison,
    Operation,
    Operator,
    StructuredQuery,
    Visitor,
)

__all__ = ["COMPARATORS", "OPERATORS", "VecVaultTranslator"]

COMPARATORS: Final[Mapping[str, str]] = {  # keys: Comparator members (a str enum)
    Comparator.EQ: "$eq",
    Comparator.NE: "$ne",
    Comparator.GT: "$gt",
    Comparator.GTE: "$gte",
    Comparator.LT: "$lt",
    Comparator.LTE: "$lte",
    Comparator.CONTAIN: "$contains",
    Comparator.LIKE: "$like",
    Comparator.IN: "$in",
    Comparator.NIN: "$nin",
}
"""Each LangChain comparator and the vecvault operator it becomes."""

OPERATORS: Final[Mapping[str, str]] = {  # keys: Operator members (a str enum)
    Operator.AND: "$and",
    Operator.OR: "$or",
    Operator.NOT: "$not",
}
"""Each LangChain logical operator and the vecvault operator it becomes."""


def _plain_value(value: Any) -> Any:
    """The query parser's date dicts as ISO strings (how vecvault stores dates); lists item by item."""
    if isinstance(value, Mapping) and value.get("type") in ("date", "datetime") and value.get("type") in value:
        return value[value["type"]]
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    return value


class VecVaultTranslator(Visitor):
    """Translate a LangChain ``StructuredQuery`` filter into a vecvault ``$`` filter dict.

    Pass it to ``SelfQueryRetriever(..., structured_query_translator=VecVaultTranslator())``. Unknown
    comparators or operators raise ``ValueError`` (from ``Visitor._validate_func``); the store checks the
    resulting filter again before the query is embedded.
    """

    allowed_comparators = tuple(Comparator(name) for name in COMPARATORS)
    """Every comparator of ``langchain_core.structured_query.Comparator``."""
    allowed_operators = tuple(Operator(name) for name in OPERATORS)
    """Every operator of ``langchain_core.structured_query.Operator``."""

    def _format_func(self, func: Operator | Comparator) -> str:
        self._validate_func(func)
        return COMPARATORS[func] if isinstance(func, Comparator) else OPERATORS[func]

    def visit_operation(self, operation: Operation) -> dict[str, Any]:
        """``and``/``or`` as ``$and``/``$or`` lists; ``not`` as ``$not`` of its argument (of several: none of them)."""
        op = self._format_func(operation.operator)
        args = [arg.accept(self) for arg in operation.arguments]
        if operation.operator == Operator.NOT and len(args) == 1:
            return {op: args[0]}
        return {op: args}

    def visit_comparison(self, comparison: Comparison) -> dict[str, Any]:
        """``{attribute: {"$op": value}}``."""
        return {comparison.attribute: {self._format_func(comparison.comparator): _plain_value(comparison.value)}}

    def visit_structured_query(self, structured_query: StructuredQuery) -> tuple[str, dict[str, Any]]:
        """The query text and the search keyword arguments (``{"filter": ...}`` when there is a filter)."""
        if structured_query.filter is None:
            return structured_query.query, {}
        return structured_query.query, {"filter": structured_query.filter.accept(self)}
