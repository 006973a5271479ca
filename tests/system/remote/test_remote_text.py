"""Keyword and hybrid search against a real sqld: the text index follows another client's writes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vecvault import Vault

pytest.importorskip("tantivy")
pytestmark = pytest.mark.remote


def test_text_and_hybrid_follow_another_clients_writes(open_remote: Callable[..., Vault]) -> None:
    one = open_remote().collection("notes", dim=2)
    one.add(
        texts=["os.path.join builds paths", "error E1234 means a full disk"],
        vectors=[[1.0, 0.0], [0.0, 1.0]],
        metadatas=[{"kind": "code"}, {"kind": "ops"}],
        ids=["a", "b"],
    )
    two = open_remote().collection("notes")
    assert [h.id for h in two.search_text("E1234")] == ["b"]
    assert [h.id for h in two.search_hybrid([1.0, 0.0], "E1234", k=2)] in (["a", "b"], ["b", "a"])
    one.add(texts=["E1234 again"], vectors=[[0.5, 0.5]], metadatas=[{"kind": "ops"}], ids=["c"])
    one.add(texts=["nothing numeric"], vectors=[[0.0, 1.0]], metadatas=[{"kind": "ops"}], ids=["b"])
    assert [h.id for h in two.search_text("E1234", filter={"kind": "ops"})] == ["c"]
    one.delete(ids=["c"])
    assert two.search_text("E1234") == []
    one.clear()
    assert two.search_text("os.path.join") == []
