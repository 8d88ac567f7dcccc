"""The extraction process reads the next group of files while this process writes
the group before it; a stop while a group is being extracted ends the run at once, writes no
part of that group and leaves none of its files counted as in flight.

The extraction child and the test meet on named pipes (events, never sleeps): the child says
the name of each file it starts on; a file named ``gated*`` waits in the child until the test
lets it go. The groups of a run are 1 file, then 2 (:func:`reading_groups`, files in name order).
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from memex.core.extract import extract_file
from memex.core.extract.worker import ExtractionWorker
from memex.core.indexing.scan import file_hash
from memex.core.library import Library
from memex.core.store import in_flight
from memex.core.types import Extraction

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="named pipes opened read-write")

TARGET = "test_reading_overlap:signalling_extract"
STARTED_ENV, RELEASE_ENV = "MEMEX_TEST_STARTED_FIFO", "MEMEX_TEST_RELEASE_FIFO"
WAIT_S = 60.0  # a deadline for what must happen, never a pause


def signalling_extract(path: Path, max_chars: int, kind: str | None = None) -> Extraction:
    """(In the extraction child.) Say which file starts; a ``gated`` file waits for a release."""
    name = Path(path).name
    fd = os.open(os.environ[STARTED_ENV], os.O_WRONLY)
    try:
        os.write(fd, (name + "\n").encode())
    finally:
        os.close(fd)
    if name.startswith("gated"):
        fd = os.open(os.environ[RELEASE_ENV], os.O_RDONLY)
        try:
            os.read(fd, 1)  # blocks until the test writes a byte
        finally:
            os.close(fd)
    return extract_file(path, max_chars, kind)


class Pipes:
    """The two pipes, held open read-write here so neither end ever blocks on opening."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        started, release = folder / "started", folder / "release"
        os.mkfifo(started)
        os.mkfifo(release)
        monkeypatch.setenv(STARTED_ENV, str(started))
        monkeypatch.setenv(RELEASE_ENV, str(release))
        self.started = os.open(started, os.O_RDWR | os.O_NONBLOCK)
        self.release_fd = os.open(release, os.O_RDWR)
        self.names: list[str] = []
        self._buffer = b""

    def wait_started(self, name: str) -> bool:
        """Whether the child starts on ``name`` within the deadline."""
        while name not in self.names:
            ready, _, _ = select.select([self.started], [], [], WAIT_S)
            if not ready:
                return False
            self._buffer += os.read(self.started, 4096)
            *lines, self._buffer = self._buffer.split(b"\n")
            self.names.extend(line.decode() for line in lines)
        return True

    def release(self) -> None:
        os.write(self.release_fd, b"x" * 64)  # every gated file from now on goes through

    def close(self) -> None:
        os.close(self.started)
        os.close(self.release_fd)


@pytest.fixture
def pipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipes]:
    p = Pipes(tmp_path, monkeypatch)
    yield p
    p.close()


def _folder(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in names:
        (folder / name).write_text(f"The notes of {name.split('.')[0]} about quiet harbours.\n")
    return folder


def _writing_waits_for(monkeypatch: pytest.MonkeyPatch, pipes: Pipes, name: str, seen: list[bool]) -> None:
    """The first group's writing (the parent's work on it) goes on only once the child has
    started on ``name``, a file of the next group; ``seen`` says whether it did in time."""
    from memex.core.indexing.indexer import Indexer

    real = Indexer._write

    def gated(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if not seen:
            seen.append(pipes.wait_started(name))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Indexer, "_write", gated)


def test_the_next_group_is_extracted_while_the_one_before_is_written(tmp_path, embedder, monkeypatch, pipes):
    folder = _folder(tmp_path, ["alpha.txt", "bravo.txt", "charlie.txt"])
    seen: list[bool] = []
    _writing_waits_for(monkeypatch, pipes, "bravo.txt", seen)
    lib = Library.open(tmp_path / "library.db", embedder=embedder, reranker=False,
                       extraction_worker=ExtractionWorker(timeout_s=WAIT_S, target=TARGET))
    try:
        report = lib.index([folder])
    finally:
        lib.close()
    assert seen == [True], "the child did not start on group 2 while group 1 waited to be written"
    assert pipes.wait_started("charlie.txt")  # every line the child wrote, read
    assert pipes.names == ["alpha.txt", "bravo.txt", "charlie.txt"]  # each file once, in order
    assert (report.added, report.failed, report.cancelled) == (3, 0, False)


def test_a_stop_during_an_overlapped_extraction_abandons_that_group_cleanly(tmp_path, embedder, pipes):
    folder = _folder(tmp_path, ["alpha.txt", "gated-bravo.txt", "gated-charlie.txt"])
    cancel = threading.Event()
    lib = Library.open(tmp_path / "library.db", embedder=embedder, reranker=False,
                       extraction_worker=ExtractionWorker(timeout_s=WAIT_S, target=TARGET))
    try:
        outcome: dict[str, object] = {}
        run = threading.Thread(target=lambda: outcome.update(report=lib.index([folder], cancel=cancel)))
        run.start()
        assert pipes.wait_started("gated-bravo.txt")  # group 2 is in the child, held there
        cancel.set()
        run.join(WAIT_S)
        assert not run.is_alive(), "the stop did not land while group 2 was being extracted"
        report = outcome["report"]
        assert report.cancelled  # type: ignore[attr-defined]
        # Group 1 whole, nothing of group 2, and no file of it left counted as in flight.
        assert [Path(d.path).name for d in lib.documents()] == ["alpha.txt"]
        reader = apsw.Connection(str(tmp_path / "library.db"), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            for name in ("gated-bravo.txt", "gated-charlie.txt"):
                noted = in_flight.reading_attempts(reader, str(folder / name), file_hash(str(folder / name)))
                assert noted == 0, name
        finally:
            reader.close()

        pipes.release()  # the abandoned extraction ends in the child; the next run reads all
        again = lib.index([folder])
        assert (again.added, again.failed, again.cancelled) == (2, 0, False)
        assert sorted(Path(d.path).name for d in lib.documents()) == [
            "alpha.txt", "gated-bravo.txt", "gated-charlie.txt"]
    finally:
        pipes.release()
        lib.close()
