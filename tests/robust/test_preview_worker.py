"""Page previews are drawn in a child process: a file that hangs or crashes the renderer costs
only that child, the main process never imports PyMuPDF, and no child outlives its library."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile_pages import TARGET
from memex.core.errors import ExtractionError, ExtractionTimeout, ExtractorCrashed, LibraryError
from memex.core.preview.render import MAX_PIXELS
from memex.core.preview.worker import PreviewWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))  # docgen
from docgen import make_pdf  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _preview_children() -> set[int]:
    """This process's running page preview children (a PreviewWorker names its child)."""
    return {p.pid for p in multiprocessing.active_children() if p.name == PreviewWorker.SPEC.process_name}


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "report.pdf", ["Nothing here.", "The heat transfer rate was measured twice."])


@linux_only
def test_pages_are_drawn_in_a_child_that_stops_with_the_worker(pdf: Path) -> None:
    with PreviewWorker() as worker:
        page = worker.render(pdf, 2, ["transfer"], 500)
        assert page.png.startswith(b"\x89PNG") and page.page_count == 2 and len(page.matches) == 1
        assert worker.page_count(pdf) == 2
        pid = worker.pid
        assert pid is not None and pid != os.getpid() and _alive(pid)
    assert _wait_gone(pid, 2.0)
    with pytest.raises(ExtractionError, match="closed"):
        worker.render(pdf, 1, [], 300)


@linux_only
def test_a_page_that_hangs_is_stopped_at_the_deadline_and_the_next_page_draws(tmp_path: Path, pdf: Path) -> None:
    hang = make_pdf(tmp_path / "hang.pdf", ["A page that never finishes."])
    with PreviewWorker(timeout_s=2, target=TARGET) as worker:
        worker.render(pdf, 1, [], 200)  # the child is up: the deadline counts only the page
        first = worker.pid
        started = time.monotonic()
        with pytest.raises(ExtractionTimeout, match=r"Drawing hang\.pdf took longer than 2 s"):
            worker.render(hang, 1, [], 300)
        assert time.monotonic() - started < 8
        assert _wait_gone(first, 2.0)
        assert worker.render(pdf, 2, ["heat"], 300).matches
        assert worker.pid not in (None, first)


@linux_only
@pytest.mark.parametrize("name", ["crash.pdf", "oom.pdf"])
def test_a_crash_or_a_memory_blowup_costs_only_the_child(tmp_path: Path, pdf: Path, name: str) -> None:
    bad = make_pdf(tmp_path / name, ["Hostile."])
    with PreviewWorker(timeout_s=20, memory_mb=1024, target=TARGET) as worker:
        with pytest.raises(ExtractionError) as info:
            worker.render(bad, 1, [], 300)
        if name.startswith("crash"):
            assert isinstance(info.value, ExtractorCrashed)
            assert "crashed while drawing crash.pdf (signal 11)" in str(info.value)
        else:
            assert "memory" in str(info.value)
        assert worker.render(pdf, 1, [], 200).width == 200


def test_an_absurdly_tall_page_stays_within_the_pixel_budget(tmp_path: Path) -> None:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=4, height=14400)  # the tallest page PDF allows, as thin as a thread
    page.insert_text((0, 100), "x", fontsize=3)
    path = tmp_path / "strip.pdf"
    doc.save(str(path))
    doc.close()
    with PreviewWorker() as worker:
        drawn = worker.render(path, 1, [], 4000)  # 4000 px wide would be ~14 gigapixels
    assert drawn.width * drawn.height <= MAX_PIXELS * 1.01
    assert drawn.height > drawn.width * 1000


@linux_only
def test_closing_during_a_hanging_page_kills_the_child_at_once(tmp_path: Path, pdf: Path) -> None:
    hang = make_pdf(tmp_path / "hang.pdf", ["A page that never finishes."])
    worker = PreviewWorker(timeout_s=60, target=TARGET)
    worker.render(pdf, 1, [], 200)  # the child is up and waiting
    errors: list[BaseException] = []

    def draw() -> None:
        try:
            worker.render(hang, 1, [], 300)
        except BaseException as exc:
            errors.append(exc)

    pid = worker.pid
    thread = threading.Thread(target=draw)
    thread.start()
    time.sleep(0.5)  # the request is in the child now
    assert worker.pid == pid and thread.is_alive()
    started = time.monotonic()
    worker.close()
    assert time.monotonic() - started < 5
    thread.join(10)
    assert not thread.is_alive()
    assert len(errors) == 1 and "closed" in str(errors[0])
    assert _wait_gone(pid, 2.0)


@linux_only
def test_closing_the_library_stops_its_preview_process(make_library, pdf: Path) -> None:
    before = _preview_children()
    lib = make_library()
    assert _preview_children() == before  # started lazily, by the first page
    assert lib.render_page(pdf, 2, ["transfer"], 400, crop_margins=True).matches
    started = _preview_children() - before
    assert len(started) == 1
    pid = started.pop()
    assert _alive(pid)
    lib.close()
    assert _wait_gone(pid, 2.0)
    with pytest.raises(LibraryError, match="closed"):
        lib.render_page(pdf, 1, [], 300)


_SCRIPT = """
import multiprocessing, os, signal, sys
from memex.core.config import Settings
from memex.core.library import Library
from memex.core.preview.worker import PreviewWorker

lib = Library.open(sys.argv[1], settings=Settings(), reranker=False)
page = lib.render_page(sys.argv[2], 2, ["heat"], 300)
assert page.matches
(pid,) = [p.pid for p in multiprocessing.active_children() if p.name == PreviewWorker.SPEC.process_name]
print("pymupdf" in sys.modules, pid, flush=True)
if sys.argv[3] == "close":
    lib.close()
    print("closed", flush=True)
else:
    os.kill(os.getpid(), signal.SIGKILL)
"""


@linux_only
@pytest.mark.parametrize("ending", ["close", "killed"])
def test_no_preview_process_outlives_the_app(tmp_path: Path, pdf: Path, ending: str) -> None:
    """The app's own process never imports PyMuPDF; the child goes when the library closes, and
    also when the app dies without closing it (the child sees its pipe close)."""
    env = {**os.environ, "MEMEX_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "lib.db"), str(pdf), ending],
                            capture_output=True, text=True, timeout=120, env=env)
    lines = result.stdout.split("\n")
    imported, pid = lines[0].split()
    assert imported == "False", "the main process must not parse documents"
    if ending == "close":
        assert result.returncode == 0 and lines[1] == "closed", result.stderr
    else:
        assert result.returncode == -9
    assert _wait_gone(int(pid), 10.0)
