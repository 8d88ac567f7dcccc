"""Rerank latency: top-30 (query, passage) pairs through the cross-encoder, as search does it
(a ~120-token window around the matches) against the naive way (whole 256-token chunks)."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

from ..search.hybrid import RERANK_TOP, rerank_passage
from ..search.query import query_terms
from ..search.snippets import TermMatcher
from .table import Row

TARGET_MS = 150.0
WORDS = ("aircraft wing flow boundary layer pressure heat transfer shock wave supersonic drag lift "
         "turbulent laminar plate cylinder nozzle jet velocity temperature surface model theory "
         "experiment results method solution equation numerical analysis structure stress").split()


def _chunk(rnd: random.Random, words: int = 190) -> str:
    sentences, out = [], 0
    while out < words:
        n = rnd.randint(8, 20)
        sentences.append(" ".join(rnd.choice(WORDS) for _ in range(n)).capitalize() + ".")
        out += n
    return " ".join(sentences)


def run(reranker_spec: str, rounds: int = 15, threads: int = 0) -> list[Row]:
    from ..rerank import load_reranker

    reranker = load_reranker(reranker_spec, threads=threads)
    rnd = random.Random(11)
    naive, windowed = [], []
    for _ in range(rounds):
        query = " ".join(rnd.sample(WORDS, 6))
        chunks = [_chunk(rnd) for _ in range(RERANK_TOP)]
        terms = TermMatcher(query_terms(query))
        for timings, passages in ((naive, chunks), (windowed, [rerank_passage(c, terms) for c in chunks])):
            start = time.perf_counter()
            reranker.score(query, passages)
            timings.append((time.perf_counter() - start) * 1000)
    p50 = statistics.median(windowed)
    return [
        Row("rerank top-30 p50", p50, "ms", f"≤ {TARGET_MS:.0f} ms", "whole chunks (~256 tokens)",
            statistics.median(naive), p50 <= TARGET_MS),
        Row("rerank top-30 p95", statistics.quantiles(windowed, n=20)[-1], "ms", "", "whole chunks",
            statistics.quantiles(naive, n=20)[-1]),
    ]


def default_reranker() -> str | None:
    """The configured reranker, else the shared test model (latency only) when present."""
    import os

    from ..config import Settings

    configured = Settings.load().reranker
    if configured:
        return configured
    shared = Path(os.environ.get("MEMEX_SHARED", Path(__file__).resolve().parents[3] / "shared"))
    candidate = shared / "models" / "random-cross-encoder-L6-H384"
    return str(candidate) if (candidate / "model.onnx").is_file() else None
