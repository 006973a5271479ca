"""Run the shared filter table (tests/filter_cases.py) through the core evaluators."""

from __future__ import annotations

import random

import numpy as np
import pytest
from tests.filter_cases import ALL_IDS, DOCUMENTS, FILTER_CASES, LLAMA_FILTER_CASES, FilterCase

from vecvault.filters import DICT_OPERATORS, LOGICAL_OPERATORS, MetadataTable, evaluate, parse_filter

BY_ID = {doc.id: doc for doc in DOCUMENTS}


def by_name(case: FilterCase) -> str:
    return case.name


def test_table_shape() -> None:
    assert {doc.id for doc in DOCUMENTS} == ALL_IDS
    names = [case.name for case in FILTER_CASES]
    assert len(names) == len(set(names))
    for case in FILTER_CASES:
        assert case.expected_ids <= ALL_IDS, case.name


def test_table_covers_every_operator() -> None:
    used: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.startswith("$"):
                    used.add(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for case in FILTER_CASES:
        walk(case.mongo)
    assert set(DICT_OPERATORS) | set(LOGICAL_OPERATORS) <= used


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
def test_evaluate(case: FilterCase) -> None:
    flt = parse_filter(case.mongo)
    got = ALL_IDS if flt is None else {doc.id for doc in DOCUMENTS if evaluate(flt, doc.metadata)}
    assert got == case.expected_ids


@pytest.mark.parametrize("case", FILTER_CASES, ids=by_name)
def test_mask(case: FilterCase) -> None:
    table = MetadataTable(doc.metadata for doc in DOCUMENTS)
    mask = table.mask(parse_filter(case.mongo))
    assert mask.dtype == np.bool_
    assert mask.shape == (len(DOCUMENTS),)
    assert {DOCUMENTS[i].id for i in np.flatnonzero(mask)} == case.expected_ids


def test_mask_after_writes_matches_every_case() -> None:
    """Build every field index, shuffle the rows through replace/swap_remove/append, re-check every case."""
    rng = random.Random(7)
    table = MetadataTable()
    ids: list[str] = []
    for _ in DOCUMENTS:
        table.append({"junk": 1})
        ids.append("junk")
    filters = [parse_filter(case.mongo) for case in FILTER_CASES]
    for flt in filters:
        table.mask(flt)  # build the per-field columns before the writes
    for i, doc in enumerate(DOCUMENTS):
        table.replace(i, doc.metadata)
        ids[i] = doc.id
    for _ in range(30):
        row = rng.randrange(len(ids))
        table.swap_remove(row)
        last = ids.pop()
        if row < len(ids):
            ids[row] = last
        doc = BY_ID[rng.choice(sorted(ALL_IDS - set(ids)))]
        table.append(doc.metadata)
        ids.append(doc.id)
    for case, flt in zip(FILTER_CASES, filters, strict=True):
        mask = table.mask(flt)
        assert {ids[i] for i in np.flatnonzero(mask)} == case.expected_ids, case.name


@pytest.mark.parametrize("case", LLAMA_FILTER_CASES, ids=by_name)
def test_llama_spec_agrees_with_llama_index_reference(case: FilterCase) -> None:
    """The ``llama`` form of each case gives the same ids through LlamaIndex's own reference filter."""
    types = pytest.importorskip("llama_index.core.vector_stores.types")
    utils = pytest.importorskip("llama_index.core.vector_stores.utils")
    if case.llama_reference_differs:
        pytest.skip(case.llama_reference_differs)
    filters = types.MetadataFilters.model_validate(case.llama)
    if any(isinstance(f, types.MetadataFilters) for f in filters.filters):
        pytest.skip("build_metadata_filter_fn does not support nested MetadataFilters")
    fn = utils.build_metadata_filter_fn(lambda doc_id: BY_ID[doc_id].metadata, filters)
    assert {doc.id for doc in DOCUMENTS if fn(doc.id)} == case.expected_ids
