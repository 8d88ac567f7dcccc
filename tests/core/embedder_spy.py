"""The real embedder, with a record of what indexing asked of it (shared by the indexing tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class RecordingEmbedder:
    """Every text asked for, in order (``asked``), and whether each call asked to leave a core
    to other work (``narrow``); the embedding itself is the real embedder's."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.asked: list[str] = []
        self.narrow: list[bool] = []

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32, *, narrow: bool = False) -> np.ndarray:
        self.asked.extend(texts)
        self.narrow.append(narrow)
        return self._inner.embed_documents(texts, batch_size=batch_size, narrow=narrow)
