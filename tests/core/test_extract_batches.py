"""Small files read several to a round trip of the extraction process; a batch that hangs or
crashes it is read again file by file; a child holding too much memory is replaced."""

from __future__ import annotations

import sys
from pathlib import Path

import docgen
import pytest
from memex.core.errors import CorruptFile, ExtractionError, ExtractionTimeout, ExtractorCrashed
from memex.core.extract.worker import ExtractionWorker
from memex.core.types import Extraction

TEST_TARGET = f"{docgen.__name__}:misbehaving_extract"


def _notes(folder: Path, names: list[str]) -> list[Path]:
    paths = []
    for name in names:
        path = folder / name
        path.write_text(f"the text of {name}", encoding="utf-8")
        paths.append(path)
    return paths


def test_a_batch_is_one_round_trip_with_an_outcome_per_file_in_order(tmp_path: Path, monkeypatch) -> None:
    paths = _notes(tmp_path, ["a.txt", "b.txt", "c.txt", "d.txt"])
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not a pdf at all")
    with ExtractionWorker(timeout_s=30) as worker:
        trips = []
        request = worker._request

        def counted(*args):
            trips.append(args)
            return request(*args)

        monkeypatch.setattr(worker, "_request", counted)
        out = worker.extract_many([(p, 1000, None) for p in paths[:2]] + [(broken, 1000, None)]
                                  + [(p, 1000, None) for p in paths[2:]])
        assert len(trips) == 1
        assert [o.pages[0].text if isinstance(o, Extraction) else None for o in out] == [
            "the text of a.txt", "the text of b.txt", None, "the text of c.txt", "the text of d.txt"]
        assert isinstance(out[2], CorruptFile) and out[2].reason == "corrupt"
        assert worker.extract(paths[0]).pages[0].text == "the text of a.txt"  # one file: the same call


def test_a_crash_in_a_batch_fails_only_the_file_that_caused_it(tmp_path: Path) -> None:
    paths = _notes(tmp_path, ["before.txt", "crash.txt", "after.txt"])
    with ExtractionWorker(timeout_s=30, target=TEST_TARGET) as worker:
        out = worker.extract_many([(p, 1000, None) for p in paths])
    assert isinstance(out[0], Extraction) and out[0].pages[0].text == "the text of before.txt"
    assert isinstance(out[1], ExtractorCrashed) and out[1].reason == "crashed"
    assert isinstance(out[2], Extraction) and out[2].pages[0].text == "the text of after.txt"


@pytest.mark.slow
def test_a_hang_in_a_batch_times_out_only_the_file_that_caused_it(tmp_path: Path) -> None:
    paths = _notes(tmp_path, ["first.txt", "hang.txt", "last.txt"])
    with ExtractionWorker(timeout_s=2, target=TEST_TARGET) as worker:
        out = worker.extract_many([(p, 1000, None) for p in paths])
    assert isinstance(out[1], ExtractionTimeout)
    assert [o.pages[0].text for o in (out[0], out[2]) if isinstance(o, Extraction)] == [
        "the text of first.txt", "the text of last.txt"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux-only")
def test_after_running_out_of_memory_the_rest_of_the_batch_gets_a_fresh_child(tmp_path: Path) -> None:
    paths = _notes(tmp_path, ["fed.txt", "oom.txt", "fine.txt"])
    with ExtractionWorker(timeout_s=30, memory_mb=1024, target=TEST_TARGET) as worker:
        out = worker.extract_many([(p, 1000, None) for p in paths])
    assert isinstance(out[1], ExtractionError) and out[1].reason == "too-large"
    assert [o.pages[0].text for o in (out[0], out[2]) if isinstance(o, Extraction)] == [
        "the text of fed.txt", "the text of fine.txt"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_holding_more_than_the_recycle_bound_is_replaced(tmp_path: Path) -> None:
    [path] = _notes(tmp_path, ["note.txt"])
    with (ExtractionWorker(timeout_s=30, recycle_mb=10_000) as keeps,
          ExtractionWorker(timeout_s=30, recycle_mb=1) as recycles):
        keeps.extract(path)
        assert keeps.pid is not None and keeps.recycled == 0
        recycles.extract(path)
        assert recycles.pid is None and recycles.recycled == 1  # replaced: the next file gets a fresh one
        assert recycles.extract(path).pages[0].text == "the text of note.txt"
