"""What the rest of Memex needs of a model: one ``Embedder`` and one ``Reranker`` protocol.

``embedding.Embedder`` and ``rerank.Reranker`` (ONNX) are the models Memex loads; a library
may also be opened with any other object that has these members (the tests' hash embedder,
say). Members are read-only properties, so plain attributes, properties and frozen
dataclasses all satisfy them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    from tokenizers import Tokenizer


class Embedder(Protocol):
    """A loaded embedding model: one vector per text, from one vector space (``model_id``)."""

    @property
    def model_id(self) -> str:
        """Names the vector space: vectors of two model ids are never compared."""
        ...

    @property
    def dim(self) -> int: ...

    @property
    def tokenizer(self) -> Tokenizer:
        """For counting tokens and offsets when chunking: no truncation, no padding."""
        ...

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32, *, narrow: bool = False) -> np.ndarray:
        """(len(texts), dim) float32 vectors in input order; ``narrow``: leave a core to other work."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) float32 vector for a search query."""
        ...


class Reranker(Protocol):
    """A loaded cross-encoder: scores (query, passage) pairs."""

    @property
    def model_id(self) -> str: ...

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One relevance score per passage, in input order (higher is more relevant)."""
        ...


@runtime_checkable
class HoldsMemory(Protocol):
    """A model that keeps buffers between runs and can give them back when the app goes idle
    (the ONNX models do; a stand-in without any need not)."""

    def release_memory(self) -> None: ...


@runtime_checkable
class RunsOnDevice(Protocol):
    """A model run by ONNX Runtime: the providers it got and the fallbacks to tell the user
    (what ``memex doctor`` reports)."""

    @property
    def providers(self) -> list[str]: ...

    @property
    def warnings(self) -> list[str]: ...
