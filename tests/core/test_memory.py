"""Memory goes back to the system once the app is idle: the free heap, SQLite's page caches and
ONNX Runtime's run buffers (the window asks for this when it goes quiet)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import apsw
import numpy as np
import pytest
from memex.core.memory import release_free_heap

pytestmark = pytest.mark.slow  # waits for memory to go back; measures the whole process


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS:")).split()[1]) / 1024


def test_freed_heap_memory_goes_back_to_the_system():
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # ~128 MB in blocks glibc keeps on its heap
    before = _rss_mb()
    del blocks
    released = release_free_heap()
    assert released is sys.platform.startswith("linux")
    if released:
        assert _rss_mb() < before - 64


def _anon_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("RssAnon:")).split()[1]) / 1024


def _cache_bytes(library) -> list[int]:
    return [c.status(apsw.SQLITE_DBSTATUS_CACHE_USED)[0] for c in apsw.connections()
            if c.filename == str(library.path)]


def _write_corpus(folder: Path, files: int = 40) -> None:
    folder.mkdir()
    for i in range(files):
        words = " ".join(f"term{(i * 7 + j) % 997} harbour{j % 13} ledger" for j in range(400))
        (folder / f"note{i:02d}.txt").write_text(f"Note {i} about tides and cargo. {words}\n", encoding="utf-8")


def test_an_idle_library_gives_back_page_caches_and_keeps_answering(open_library, tmp_path: Path):
    library = open_library()
    _write_corpus(tmp_path / "notes")
    report = library.index([tmp_path / "notes"])
    assert report.added == 40, report.errors[:1]
    before = [h.path for h in library.search("tides cargo harbour3", rerank=False)]
    filled = sum(_cache_bytes(library))
    assert filled > 256 * 1024  # indexing and searching filled the caches
    library.release_memory()
    assert sum(_cache_bytes(library)) < 32 * 1024  # a page or two stay with open statements
    assert [h.path for h in library.search("tides cargo harbour3", rerank=False)] == before


def test_release_skips_a_connection_busy_in_another_thread(open_library):
    library = open_library()
    started, result = threading.Event(), {}

    def long_query() -> None:
        conn = library.store.connection()  # this thread's own connection
        started.set()
        result["n"] = conn.execute("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r "
                                   "WHERE i < 2000000) SELECT count(*) FROM r").fetchone()[0]

    worker = threading.Thread(target=long_query)
    worker.start()
    started.wait(5)
    time.sleep(0.05)
    library.release_memory()  # must neither raise nor disturb the running query
    worker.join(30)
    assert result == {"n": 2_000_000}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; malloc_trim is glibc's")
def test_embedder_gives_back_its_run_buffers_and_embeds_the_same(embedder):
    texts = [" ".join(f"word{i}{j} boundary layer" for j in range(120)) for i in range(16)]
    first = embedder.embed_documents(texts, batch_size=8)  # long batches grow ONNX Runtime's arena
    grown = _anon_mb()
    embedder.release_memory()
    release_free_heap()
    assert _anon_mb() < grown - 20
    np.testing.assert_allclose(embedder.embed_documents(texts, batch_size=8), first, atol=1e-6)


def test_reranker_gives_back_its_run_buffers_and_scores_the_same(reranker_dir: Path):
    from memex.core.models.rerank import load_reranker

    reranker = load_reranker(str(reranker_dir))
    passages = [f"passage {i} about supersonic flow over a flat plate " * 8 for i in range(12)]
    first = reranker.score("flat plate flow", passages)
    reranker.release_memory()
    np.testing.assert_array_equal(reranker.score("flat plate flow", passages), first)
