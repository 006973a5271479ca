"""End to end: VectorStoreIndex over a vault file, queried again from a fresh process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from tests.adapters.llama_index_adapter.helpers import HashEmbedding, run_python

from llama_index.vector_stores.vecvault import VecVaultVectorStore

DOCS = {
    "bread": "Sourdough bread needs a starter, flour, water and salt; bake the loaf in a hot oven.",
    "bikes": "Adjust the bicycle gears by turning the barrel adjuster on the rear derailleur cable.",
    "taxes": "File the tax return before the deadline and keep receipts for every deduction.",
    "tea": "Brew green tea with water below boiling for two minutes to avoid a bitter cup.",
    "keys": "The master key of the vault lives in the operating system keychain.",
}
QUESTION = "how do I bake a loaf of sourdough bread"

REOPEN = """
import json, os, sys
from llama_index.core import VectorStoreIndex
from tests.adapters.llama_index_adapter.helpers import HashEmbedding
from llama_index.vector_stores.vecvault import VecVaultVectorStore

key = bytes.fromhex(os.environ["VECVAULT_TEST_KEY"])
with VecVaultVectorStore.from_params(path=sys.argv[1], key=key, collection_name="e2e") as store:
    index = VectorStoreIndex.from_vector_store(store, embed_model=HashEmbedding(dim=64))
    hits = index.as_retriever(similarity_top_k=2).retrieve(sys.argv[2])
    print(json.dumps([[h.node.node_id, h.node.ref_doc_id, h.node.get_content(), h.score] for h in hits]))
    index.delete_ref_doc("taxes")
"""


def _retrieve(index: VectorStoreIndex) -> list[list[object]]:
    hits = index.as_retriever(similarity_top_k=2).retrieve(QUESTION)
    return [[h.node.node_id, h.node.ref_doc_id, h.node.get_content(), h.score] for h in hits]


@pytest.mark.multiprocess
def test_index_round_trip_across_processes(li_path: Path, li_key: bytes) -> None:
    embed = HashEmbedding(dim=64)
    documents = [Document(text=text, id_=doc_id, metadata={"topic": doc_id}) for doc_id, text in DOCS.items()]
    store = VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="e2e")
    try:
        index = VectorStoreIndex.from_documents(
            documents, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed
        )
        before = _retrieve(index)
        assert before[0][1] == "bread"  # retrieval is meaningful, not random
        assert 0.0 <= before[1][3] <= before[0][3] <= 1.0
        response = index.as_query_engine(llm=MockLLM(), similarity_top_k=2).query(QUESTION)
        assert response.source_nodes[0].node.ref_doc_id == "bread"
        assert "Sourdough" in response.source_nodes[0].node.get_content()
    finally:
        store.close()

    out = run_python(REOPEN, str(li_path), QUESTION, extra_env={"VECVAULT_TEST_KEY": li_key.hex()})
    after = json.loads(out)
    assert [row[:3] for row in after] == [row[:3] for row in before]
    assert [row[3] for row in after] == pytest.approx([row[3] for row in before])

    # The child's delete_ref_doc is visible here, in a new vault over the same file.
    with VecVaultVectorStore.from_params(path=li_path, key=li_key, collection_name="e2e") as again:
        assert {n.ref_doc_id for n in again.get_nodes()} == set(DOCS) - {"taxes"}
        index = VectorStoreIndex.from_vector_store(again, embed_model=embed)
        assert _retrieve(index)[0][:3] == before[0][:3]


def test_index_filters_and_doc_ids(li_store: VecVaultVectorStore) -> None:
    from llama_index.core.vector_stores import MetadataFilter, MetadataFilters

    documents = [Document(text=text, id_=doc_id, metadata={"topic": doc_id}) for doc_id, text in DOCS.items()]
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=li_store), embed_model=HashEmbedding()
    )
    filters = MetadataFilters(filters=[MetadataFilter(key="topic", value="tea")])
    hits = index.as_retriever(similarity_top_k=3, filters=filters).retrieve(QUESTION)
    assert [h.node.ref_doc_id for h in hits] == ["tea"]
    hits = index.as_retriever(similarity_top_k=3, doc_ids=["keys", "bikes"]).retrieve(QUESTION)
    assert {h.node.ref_doc_id for h in hits} == {"keys", "bikes"}
    hits = index.as_retriever(
        similarity_top_k=2, vector_store_query_mode="mmr", vector_store_kwargs={"mmr_threshold": 0.5}
    ).retrieve(QUESTION)
    assert hits[0].node.ref_doc_id == "bread"
    assert len(hits) == 2
