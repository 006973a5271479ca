"""The shipped example corpus: passages from the Python 3.11 documentation (``data/corpus``).

Example::

    from vecvault_examples.corpus import load_passages
    passages = load_passages(limit=300)      # an even spread over tutorial, FAQ, HOWTOs and library pages
    docs = langchain_documents(passages)     # LangChain Documents, id = passage id
    nodes = llama_index_nodes(passages)      # LlamaIndex TextNodes, id_ = passage id
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.documents import Document
    from llama_index.core.schema import TextNode

__all__ = ["CORPUS_PATH", "Passage", "langchain_documents", "llama_index_nodes", "load_passages"]

CORPUS_PATH = Path(__file__).resolve().parents[2] / "data" / "corpus" / "python_docs.jsonl"


@dataclass(frozen=True)
class Passage:
    """One passage of the corpus."""

    id: str
    title: str
    source: str
    section: str
    text: str

    @property
    def metadata(self) -> dict[str, Any]:
        """Metadata for a vector store: title, source document, section and top-level part."""
        return {
            "title": self.title,
            "source": self.source,
            "section": self.section,
            "part": self.source.split("/", 1)[0],
        }


def load_passages(limit: int | None = None, *, path: Path | None = None) -> list[Passage]:
    """Read the corpus; with ``limit``, return that many passages spread evenly over the whole file.

    The spread is deterministic (every n-th passage), so each part of the documentation is represented.

    Raises:
        FileNotFoundError: the corpus is missing (it ships in the source tree, not in the wheel).
        ValueError: ``limit`` is not positive.
    """
    path = path or CORPUS_PATH
    if not path.is_file():
        raise FileNotFoundError(f"No corpus at {path}; run from a vecvault source checkout (data/corpus).")
    with path.open(encoding="utf-8") as fh:
        passages = [Passage(**json.loads(line)) for line in fh if line.strip()]
    if limit is None or limit >= len(passages):
        return passages
    if limit <= 0:
        raise ValueError(f"limit must be a positive number of passages, not {limit}.")
    step = len(passages) / limit
    return [passages[int(i * step)] for i in range(limit)]


def langchain_documents(passages: list[Passage]) -> list[Document]:
    """Turn passages into LangChain ``Document`` objects (``id`` = passage id)."""
    from langchain_core.documents import Document

    return [Document(page_content=p.text, metadata=p.metadata, id=p.id) for p in passages]


def llama_index_nodes(passages: list[Passage]) -> list[TextNode]:
    """Turn passages into LlamaIndex ``TextNode`` objects (``id_`` = passage id)."""
    from llama_index.core.schema import TextNode

    return [TextNode(text=p.text, metadata=p.metadata, id_=p.id) for p in passages]
