"""The window when another process writes to its library: its run says it waits (and writes
nothing meanwhile), then indexes; Cancel stops a waiting removal with nothing removed."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("PySide6")

from memex.core.store.writer_lock import WriterLock  # noqa: E402
from memex.desktop import qtcompat  # noqa: E402

qtcompat.apply()

from memex.desktop.indexing import IndexController  # noqa: E402
from memex.desktop.progress import StatusArea  # noqa: E402
from memex.desktop.tasks import TaskManager  # noqa: E402


def _folder(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"note-{i}.txt").write_text(f"Note {i} about lanterns, harbours and copper kettles.")
    return root


@pytest.fixture
def window_parts(qtbot, make_library, tmp_path: Path):
    lib = make_library(tmp_path / "library.db")
    tasks = TaskManager()
    controller = IndexController(lib, tasks)
    status = StatusArea()
    qtbot.addWidget(status)
    controller.progress.connect(lambda _job, p: status.update_progress(p))
    controller.started.connect(lambda job: status.start_run(job.describe))
    outcomes: list[object] = []
    errors: list[str] = []
    controller.finished.connect(lambda _job, result: (outcomes.append(result), status.finish_run()))
    controller.failed.connect(errors.append)
    yield lib, controller, status, outcomes, errors
    controller.shutdown()
    assert tasks.shutdown(10)


def test_the_window_says_it_waits_then_indexes(qtbot, window_parts, tmp_path: Path) -> None:
    lib, controller, status, outcomes, errors = window_parts
    folder = _folder(tmp_path / "notes", 5)
    other = WriterLock(lib.path)
    assert other.acquire()  # `memex index` in a terminal, as far as the window can tell
    try:
        controller.index([folder])
        qtbot.waitUntil(lambda: status.phase.text().startswith("Waiting for another"), timeout=30_000)
        assert status.running and not status.cancel_button.isHidden()  # Cancel is offered
        assert lib.status().documents == 0
    finally:
        other.release()
    qtbot.waitUntil(lambda: bool(outcomes), timeout=120_000)
    assert outcomes[0].added == 5 and not outcomes[0].cancelled
    assert not errors and not status.running


def test_cancel_stops_a_waiting_removal_with_nothing_removed(qtbot, window_parts, tmp_path: Path) -> None:
    lib, controller, status, outcomes, errors = window_parts
    folder = _folder(tmp_path / "notes", 3)
    lib.index([folder])
    other = WriterLock(lib.path)
    assert other.acquire()
    try:
        controller.remove(str(folder))
        qtbot.waitUntil(lambda: status.phase.text().startswith("Waiting for another"), timeout=30_000)
        controller.cancel()
        qtbot.waitUntil(lambda: bool(outcomes), timeout=30_000)
    finally:
        other.release()
    assert outcomes == [None] and errors and "Nothing was removed" in errors[0]
    assert lib.status().documents == 3
