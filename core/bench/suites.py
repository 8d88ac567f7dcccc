"""The benchmark suites behind ``memex bench``, each returning table rows."""

from __future__ import annotations

from pathlib import Path

from ..errors import MemexError
from .table import Row

ORDER = ["embed", "rerank", "latency", "indexing", "robustness"]


def run(name: str, *, workdir: Path | None, reranker: str | None, sizes: list[int], rounds: int) -> list[Row]:
    if name == "rerank":
        from . import rerank

        spec = reranker or rerank.default_reranker()
        if spec is None:
            raise MemexError("No reranker to measure: pass --reranker FOLDER.")
        return rerank.run(spec)
    if name == "indexing":
        from . import indexing

        return indexing.run(workdir)
    raise MemexError(f"Unknown benchmark '{name}'.")
