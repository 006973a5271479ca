"""``VecVaultTranslator``: every LangChain comparator and operator, through a SelfQueryRetriever and a fake LLM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListLLM
from langchain_core.structured_query import Comparator, Comparison, Operation, Operator, StructuredQuery

from langchain_vecvault import VecVaultTranslator, VecVaultVectorStore

from .conftest import StoreFactory

BOOKS = [
    Document(
        page_content="robots dream",
        metadata={"genre": "sf", "year": 1999, "tags": ["ai"], "day": "1999-05-01"},
        id="b1",
    ),
    Document(
        page_content="dragons fly",
        metadata={"genre": "fantasy", "year": 2011, "tags": ["magic"], "day": "2011-01-31"},
        id="b2",
    ),
    Document(
        page_content="ships sail",
        metadata={"genre": "sf", "year": 2020, "tags": ["space", "ai"], "day": "2020-12-24"},
        id="b3",
    ),
    Document(page_content="a quiet village", metadata={"genre": "literary", "year": 1954, "tags": []}, id="b4"),
]

# (filter the LLM writes in LangChain's query language, the ids it must retrieve)
CASES = [
    ('eq("genre", "sf")', {"b1", "b3"}),
    ('ne("genre", "sf")', {"b2", "b4"}),
    ('gt("year", 2000)', {"b2", "b3"}),
    ('gte("year", 2011)', {"b2", "b3"}),
    ('lt("year", 1999)', {"b4"}),
    ('lte("year", 1999)', {"b1", "b4"}),
    ('contain("tags", "ai")', {"b1", "b3"}),
    ('like("genre", "fan%")', {"b2"}),
    ('in("genre", ["fantasy", "literary"])', {"b2", "b4"}),
    ('nin("genre", ["fantasy", "literary"])', {"b1", "b3"}),
    ('and(eq("genre", "sf"), gt("year", 2000))', {"b3"}),
    ('or(eq("genre", "fantasy"), lt("year", 1960))', {"b2", "b4"}),
    ('not(eq("genre", "sf"))', {"b2", "b4"}),
    ('and(not(contain("tags", "ai")), gte("year", 1900))', {"b2", "b4"}),
    # The query parser turns ISO dates and datetimes into {"date": ..., "type": "date"} dicts: compared as
    # the ISO strings vecvault stores dates as.
    ('gte("day", "2011-01-01")', {"b2", "b3"}),
    ('lt("day", "2011-02-01")', {"b1", "b2"}),
    ('gte("day", "2011-01-31T00:00:00")', {"b3"}),
]


def _llm_answer(filter_text: str) -> str:
    return "```json\n" + json.dumps({"query": "books", "filter": filter_text}) + "\n```"


@pytest.fixture
def books(make_store: StoreFactory) -> VecVaultVectorStore:
    store = make_store(embedding=DeterministicFakeEmbedding(size=8))
    store.add_documents(BOOKS)
    return store


def _retriever(store: VecVaultVectorStore, answer: str) -> Any:
    self_query = pytest.importorskip("langchain_classic.retrievers.self_query.base")
    pytest.importorskip("lark")
    schema = pytest.importorskip("langchain_classic.chains.query_constructor.schema")
    fields = [
        schema.AttributeInfo(name="genre", description="the genre", type="string"),
        schema.AttributeInfo(name="year", description="year published", type="integer"),
        schema.AttributeInfo(name="tags", description="topics", type="list[string]"),
        schema.AttributeInfo(name="day", description="release day", type="date"),
    ]
    return self_query.SelfQueryRetriever.from_llm(
        llm=FakeListLLM(responses=[answer]),
        vectorstore=store,
        document_contents="short book blurbs",
        metadata_field_info=fields,
        structured_query_translator=VecVaultTranslator(),
        search_kwargs={"k": len(BOOKS)},
    )


@pytest.mark.parametrize(("filter_text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_self_query_retriever(books: VecVaultVectorStore, filter_text: str, expected: set[str]) -> None:
    docs = _retriever(books, _llm_answer(filter_text)).invoke("which books?")
    assert {d.id for d in docs} == expected


@pytest.mark.parametrize(("filter_text", "expected"), CASES[:4], ids=[c[0] for c in CASES[:4]])
async def test_self_query_retriever_async(books: VecVaultVectorStore, filter_text: str, expected: set[str]) -> None:
    docs = await _retriever(books, _llm_answer(filter_text)).ainvoke("which books?")
    assert {d.id for d in docs} == expected


def test_no_filter(books: VecVaultVectorStore) -> None:
    docs = _retriever(books, _llm_answer("NO_FILTER")).invoke("anything")
    assert len(docs) == len(BOOKS)


def test_every_comparator_and_operator_is_allowed() -> None:
    translator = VecVaultTranslator()
    assert set(translator.allowed_comparators) == set(Comparator)
    assert set(translator.allowed_operators) == set(Operator)


def test_translation() -> None:
    t = VecVaultTranslator()
    assert t.visit_comparison(Comparison(comparator=Comparator.CONTAIN, attribute="tags", value="ai")) == {
        "tags": {"$contains": "ai"}
    }
    date = {"date": "2024-01-31", "type": "date"}
    assert t.visit_comparison(Comparison(comparator=Comparator.GTE, attribute="day", value=date)) == {
        "day": {"$gte": "2024-01-31"}
    }
    stamp = {"datetime": "2024-01-31T10:00:00", "type": "datetime"}
    assert t.visit_comparison(Comparison(comparator=Comparator.IN, attribute="at", value=[stamp])) == {
        "at": {"$in": ["2024-01-31T10:00:00"]}
    }
    a = Comparison(comparator=Comparator.EQ, attribute="a", value=1)
    b = Comparison(comparator=Comparator.LIKE, attribute="b", value="x%")
    assert t.visit_operation(Operation(operator=Operator.NOT, arguments=[a])) == {"$not": {"a": {"$eq": 1}}}
    assert t.visit_operation(Operation(operator=Operator.NOT, arguments=[a, b])) == {
        "$not": [{"a": {"$eq": 1}}, {"b": {"$like": "x%"}}]
    }
    assert t.visit_structured_query(StructuredQuery(query="q", filter=None)) == ("q", {})
    assert t.visit_structured_query(
        StructuredQuery(query="q", filter=Operation(operator=Operator.OR, arguments=[a, b]))
    ) == (
        "q",
        {"filter": {"$or": [{"a": {"$eq": 1}}, {"b": {"$like": "x%"}}]}},
    )
