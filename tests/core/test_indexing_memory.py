"""Memory while a run goes on: the extraction process ends before a long backlog of vectors or
scanned pages (a short run keeps it), and beside OCR or the extraction process the embedder
leaves a core to that work (on 2 cores: one batch at a time)."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from embedder_spy import RecordingEmbedder
from memex.core import memory
from memex.core.errors import IndexingCancelled
from memex.core.indexing import indexer, meaning
from memex.core.indexing.meaning import MeaningQueue
from memex.core.indexing.pace import Pace
from memex.core.jobs import JobControl
from memex.core.models import embedding
from memex.core.models.embedding import workers_beside_other_work
from memex.core.store.vectors import active_space

WORDS = "harbour ledger tide lantern orchard quarry meadow ferry granary cobbler thimble parchment".split()


def _write_notes(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        body = "\n\n".join(" ".join(WORDS[(i + p + w) % len(WORDS)] for w in range(150)) + f" note{i}x{p}."
                           for p in range(3))
        (folder / f"note{i:02}.txt").write_text(body, encoding="utf-8")


def _worker_pid(library) -> int | None:
    return library._runner._extraction_worker().pid


def test_a_long_backlog_ends_the_extraction_process_and_a_short_run_keeps_it(
        tmp_path, open_library, monkeypatch):
    _write_notes(tmp_path / "few", files=2)
    _write_notes(tmp_path / "many", files=12)
    library = open_library(reranker=False)
    library.index([tmp_path / "few"])
    assert _worker_pid(library) is not None  # kept for the next run: it starts in a moment less

    monkeypatch.setattr(meaning, "EARLY_CHUNKS", 0)
    monkeypatch.setattr(indexer, "REST_READER_CHUNKS", 20)  # 36 chunks wait after the words
    ended: list[int | None] = []
    drain = MeaningQueue.drain
    monkeypatch.setattr(MeaningQueue, "drain", lambda self: (ended.append(_worker_pid(library)), drain(self)))
    report = library.index([tmp_path / "many"])
    assert report.added == 12 and report.embedded == report.chunks >= 20
    assert ended and set(ended) == {None}  # ended before the vectors, and not started again by them
    (tmp_path / "many" / "note99.txt").write_text("a late note about lanterns", encoding="utf-8")
    assert library.index([tmp_path / "many"]).added == 1  # the next run starts a fresh one
    assert library.search("late lanterns", mode="bm25", rerank=False)


def test_early_vectors_go_one_batch_at_a_time_and_the_backlog_side_by_side(tmp_path, open_library, embedder,
                                                                          monkeypatch):
    monkeypatch.setattr(meaning, "EARLY_AFTER_S", 0.0)
    _write_notes(tmp_path / "notes", files=24)
    spy = RecordingEmbedder(embedder)
    library = open_library(embedder=spy, reranker=False)
    report = library.index([tmp_path / "notes"])
    assert report.embedded == report.chunks > meaning.EARLY_CHUNKS
    first_wide = spy.narrow.index(False)
    assert first_wide > 0 and all(spy.narrow[:first_wide])  # early, beside the extraction process
    assert not any(spy.narrow[first_wide:])  # nothing else runs beside the backlog: every worker


def test_a_crowded_backlog_is_embedded_one_batch_at_a_time(tmp_path, open_library, embedder, monkeypatch):
    _write_notes(tmp_path / "notes", files=6)
    spy = RecordingEmbedder(embedder)
    library = open_library(embedder=spy, reranker=False)
    monkeypatch.setattr(meaning, "EARLY_CHUNKS", 0)
    drain = MeaningQueue.drain
    monkeypatch.setattr(MeaningQueue, "drain", lambda self: None)
    library.index([tmp_path / "notes"])
    waiting = library.status().chunks_pending
    assert spy.narrow == [] and waiting >= 12
    conn = library.store.connection()
    space = active_space(conn)
    job = JobControl(None, None, stopped=lambda: IndexingCancelled("stopped"))
    crowded = [True]
    queue = MeaningQueue(conn, lambda texts, narrow=False: spy.embed_documents(texts, 4, narrow=narrow), space,
                         job, Pace(), lambda: None, lambda force: None, crowded=lambda: crowded[0])
    monkeypatch.setattr(meaning, "FETCH_CHUNKS", 8)
    drain(queue)  # lots of 8: each asks whether OCR still runs beside
    assert spy.narrow == [True] * -(-waiting // 8) and library.status().chunks_pending == 0
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "late.txt").write_text("A late note about the ferry timetable.", encoding="utf-8")
    library.index([tmp_path / "more"])
    crowded[0] = False  # OCR done: every worker again
    drain(queue)
    assert spy.narrow[-1] is False and library.status().chunks_pending == 0


def test_beside_other_work_one_core_is_left_to_it():
    assert [workers_beside_other_work(4, cores) for cores in (1, 2, 3, 4, 8)] == [1, 1, 2, 3, 4]
    assert workers_beside_other_work(1, 16) == 1


def test_narrow_on_two_cores_runs_one_batch_at_a_time_with_the_same_vectors(embedder, monkeypatch):
    monkeypatch.setattr(embedding.os, "cpu_count", lambda: 2)
    assert embedder.workers == 2
    texts = [" ".join(WORDS[i % 5:] * (3 + i % 7)) + f" text{i}" for i in range(16)]
    session = embedder._session
    active, most, lock = [0], [0], threading.Lock()
    meet = threading.Barrier(2, timeout=30)

    class Counting:
        def __init__(self, wide: bool) -> None:
            self.wide, self.calls = wide, 0

        def run(self, names, feed):
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
                self.calls += 1
                first = self.calls <= 2
            try:
                if self.wide and first:
                    meet.wait()  # the first two batches of a wide call run together, or this times out
                return session.run(names, feed)
            finally:
                with lock:
                    active[0] -= 1

    try:
        embedder._session = Counting(wide=True)
        wide = embedder.embed_documents(texts, batch_size=2)
        assert most[0] == 2
        most[0] = 0
        embedder._session = Counting(wide=False)
        narrow = embedder.embed_documents(texts, batch_size=2, narrow=True)
        assert most[0] == 1 and embedder._session.calls == 8
    finally:
        embedder._session = session
    np.testing.assert_allclose(narrow, wide, atol=1e-6)


def test_the_c_library_is_found_without_running_a_program(monkeypatch):
    if not memory.sys.platform.startswith("linux"):
        pytest.skip("malloc_trim is glibc's")
    memory.c_library.cache_clear()

    def refuse(*args, **kwargs):
        raise AssertionError("a program was run to find the C library")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    memory.release_free_heap()
    assert memory.c_library() is not None
