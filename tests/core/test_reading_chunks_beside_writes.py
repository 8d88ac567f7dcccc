"""The next group's pages are cut into chunks off the writing thread, while the group before
it is being written: the writer waits (on an event, never a sleep) inside its first file's
write until the next group is being chunked, which can happen only if chunking runs beside it.
The groups of a run are 1 file, then 2, in name order."""

from __future__ import annotations

import threading
from pathlib import Path

from memex.core.indexing import reading
from memex.core.indexing.indexer import Indexer
from memex.core.library import Library

WAIT_S = 60.0  # a deadline for what must happen, never a pause


def test_the_next_group_is_chunked_off_the_writer_while_the_one_before_is_written(tmp_path, embedder,
                                                                                   monkeypatch):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("alpha", "bravo", "charlie"):
        (folder / f"{name}.txt").write_text(f"The notes of {name} about quiet harbours.\n")
    next_chunked = threading.Event()
    writers: set[threading.Thread] = set()
    choppers: set[threading.Thread] = set()
    waited: list[bool] = []
    real_chunk, real_write = reading.chunk_documents, Indexer._write

    def chunk(documents, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        choppers.add(threading.current_thread())
        if any("bravo" in page.text for doc in documents for page in doc):
            next_chunked.set()
        return real_chunk(documents, *args, **kwargs)

    def write(self, r, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        writers.add(threading.current_thread())
        if not waited:  # alpha, group 1: written only once group 2 is being chunked
            waited.append(next_chunked.wait(WAIT_S))
        return real_write(self, r, *args, **kwargs)

    monkeypatch.setattr(reading, "chunk_documents", chunk)
    monkeypatch.setattr(Indexer, "_write", write)
    lib = Library.open(tmp_path / "library.db", embedder=embedder, reranker=False)
    try:
        report = lib.index([folder])
        assert waited == [True], "group 2 was not chunked while group 1 was being written"
        assert len(writers) == 1 and not writers & choppers  # one writer, which never chunks
        assert (report.added, report.failed, report.cancelled) == (3, 0, False)
        hits = {Path(h.path).name for h in lib.search("harbours", mode="bm25")}
        assert hits == {"alpha.txt", "bravo.txt", "charlie.txt"}
    finally:
        lib.close()

