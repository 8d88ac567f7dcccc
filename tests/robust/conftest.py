"""Fixtures for the robustness tests: libraries on a fast stand-in embedder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile_files import HashEmbedder
from memex.core.config import Settings
from memex.core.extract.worker import ExtractionWorker
from memex.core.library import Library

SIMULATED_TARGET = "memex_bench.robustness:simulated_extract"


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def make_library(tmp_path: Path, hash_embedder: HashEmbedder) -> Iterator[Callable[..., Library]]:
    """Factory for libraries in ``tmp_path`` (all closed afterwards), with no reranker unless
    ``reranker`` names one. ``target`` and ``timeout_s`` give the library an extraction worker
    with that target and deadline."""
    opened: list[Library] = []

    def factory(path: Path | None = None, *, settings: Settings | None = None, embedder: object = None,
                target: str | None = None, timeout_s: float | None = None, reranker: object = False) -> Library:
        settings = settings or Settings()
        worker = None
        if target is not None or timeout_s is not None:
            worker = ExtractionWorker(timeout_s=timeout_s or settings.extract_timeout_s,
                                      target=target or "memex.core.extract:extract_file")
        lib = Library.open(path or tmp_path / "library.db", settings=settings,
                           embedder=embedder or hash_embedder, reranker=reranker, extraction_worker=worker)
        opened.append(lib)
        return lib

    yield factory
    for lib in opened:
        lib.close()
