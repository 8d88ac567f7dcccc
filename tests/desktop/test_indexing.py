"""Indexing from the window: drag and drop, progress, pause/cancel, removing, failed files,
and the GUI thread staying free while it all happens."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from docgen import make_broken_pdf, make_encrypted_pdf
from gui_helpers import search_for, wait_idle
from memex.desktop import indexing as desktop_indexing
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QTableWidget


def _drop(window, paths: list[Path]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    assert window.drop_hint.isVisible()  # "Drop to add to your library"
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop


def test_dropped_folder_is_indexed_watched_and_searchable(qtbot, make_window, corpus):
    window = make_window()
    drop = _drop(window, [corpus])
    assert drop.isAccepted()
    assert not window.drop_hint.isVisible()
    qtbot.waitUntil(lambda: window.status.running)  # the progress area shows the run
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: [s.path for s in window.folders.sources] == [str(corpus)])
    source = window.folders.sources[0]
    assert source.kind == "folder" and source.documents == 4 and source.chunks >= 4
    assert "Indexed 4 files" in window.status.message_text()
    assert window.status.summary.text().startswith("4 documents in 1 folder")
    assert os.path.basename(search_for(qtbot, window, "sourdough starter")[0].path) == "bread.txt"


def test_dropping_text_that_is_not_files_is_refused(qtbot, make_window):
    window = make_window()
    mime = QMimeData()
    mime.setText("just words")
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def _many_files(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    words = "river stone cloud lantern meadow copper violin harbour orchard canyon".split()
    for i in range(n):
        text = f"Note {i}: the {words[i % 10]} and the {words[(i * 3) % 10]} of day {i}. Entry number {i}.\n"
        (root / f"note-{i:04d}.txt").write_text(text, encoding="utf-8")
    return root


# Sleeps 5 ms in a loop in its own process and prints every oversleep longer than 30 ms: the
# moments the machine itself (other processes) kept runnable threads off the CPU.
_CONTROL = """
import sys, time
end = time.monotonic() + float(sys.argv[1])
print("ready", flush=True)
while time.monotonic() < end:
    t0 = time.monotonic()
    time.sleep(0.005)
    t1 = time.monotonic()
    if t1 - t0 > 0.03:
        print(t0, t1, flush=True)
"""


def _overlap(a: float, b: float, spans: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, d) - max(a, c)) for c, d in spans)


def test_gui_thread_is_never_blocked_while_200_files_are_indexed(qtbot, make_window, tmp_path):
    folder = _many_files(tmp_path / "many", 200)
    window = make_window()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: not window.tasks.busy(), timeout=30_000)  # start-up work (model, PyMuPDF) done
    control = subprocess.Popen([sys.executable, "-c", _CONTROL, "60"], stdout=subprocess.PIPE, text=True)
    assert control.stdout.readline().strip() == "ready"
    gaps: list[tuple[float, float]] = []
    last = [time.monotonic()]
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)

    def tick():
        now = time.monotonic()
        gaps.append((last[0], now))
        last[0] = now

    heartbeat.timeout.connect(tick)
    finished: list = []
    window.indexer.finished.connect(lambda job, report: finished.append(report))
    heartbeat.start()
    started = time.monotonic()
    _drop(window, [folder])
    # While it runs, search too: results must come while the writer writes.
    qtbot.keyClicks(window.search.field, "lantern")
    qtbot.waitUntil(lambda: bool(finished), timeout=40_000)
    heartbeat.stop()
    elapsed = time.monotonic() - started
    control.kill()
    stalls = [tuple(map(float, line.split())) for line in control.stdout.read().splitlines() if line.strip()]
    report = finished[0]
    assert report.added == 200 and report.failed == 0
    worst = max(b - a for a, b in gaps)
    # Time the GUI thread was late that the machine does not explain (the control process was
    # running fine meanwhile): that is time our own code blocked the event loop.
    blocked = max((b - a) - _overlap(a, b, stalls) for a, b in gaps)
    print(f"\nindexed 200 files in {elapsed:.1f} s; {len(gaps)} heartbeats; max gap between ticks "
          f"{worst * 1000:.0f} ms; max GUI-thread block {blocked * 1000:.0f} ms; machine stalls: {len(stalls)}")
    assert len(gaps) > elapsed * 20  # the timer really kept ticking
    # Work done on the GUI thread by mistake (a query, a batch of embeddings, a file's extraction)
    # takes from a quarter of a second to seconds; below that, what is left is the interpreter
    # lock shared with the worker threads on a loaded two-core machine.
    assert blocked < 0.250, f"the GUI thread was blocked for {blocked * 1000:.0f} ms"
    qtbot.waitUntil(lambda: window.search.state == "results")
    assert "lantern" in window.search.view.results.hits()[0].snippet


@pytest.mark.slow
def test_pause_resume_and_cancel(qtbot, make_window, tmp_path, monkeypatch):
    folder = _many_files(tmp_path / "many", 120)
    window = make_window()
    progress: list = []
    window.indexer.progress.connect(lambda job, p: progress.append(p))
    # 120 notes are read in a fraction of a second: the run waits at its third file (on its own
    # thread, every report let through) until the person has clicked, so the pause lands mid-run.
    monkeypatch.setattr(desktop_indexing, "PROGRESS_EVERY_S", 0.0)
    clicked = threading.Event()

    def hold(job, p) -> None:
        if p.phase == "indexing" and p.files_done >= 3:
            clicked.wait(30)

    window.indexer._progress_from_worker.connect(hold, Qt.ConnectionType.DirectConnection)
    window.add_paths([folder])
    qtbot.waitUntil(lambda: any(p.files_done >= 3 for p in progress), timeout=20_000)

    window.status.pause_button.click()  # the person pauses
    clicked.set()
    assert window.indexer.paused and window.status.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: progress[-1].phase == "paused", timeout=10_000)
    done_at_pause = progress[-1].files_done
    qtbot.wait(400)
    assert progress[-1].files_done == done_at_pause  # nothing moved while paused
    assert window.status.phase.text() == "Paused"
    t0 = time.monotonic()
    assert search_for(qtbot, window, "violin")  # searching works while paused mid-run
    assert time.monotonic() - t0 < 5

    window.status.pause_button.click()  # resume: the run goes on to the end
    wait_idle(qtbot, window)
    assert window.library.status().documents == 120

    # A second run, cancelled while paused (so it cannot finish first on a fast machine). It is
    # large enough that the pause lands while its words are still being read: reports reach the
    # window a little after the run makes them, and 120 notes are read in well under a second.
    second = _many_files(tmp_path / "more", 2000)
    window.add_paths([second])
    qtbot.waitUntil(lambda: progress[-1].files_total == 2000 and progress[-1].files_done >= 3
                    and progress[-1].phase == "indexing", timeout=20_000)
    window.status.pause_button.click()
    qtbot.waitUntil(lambda: progress[-1].phase == "paused", timeout=10_000)
    window.status.cancel_button.click()
    wait_idle(qtbot, window)
    assert "stopped" in window.status.message_text()
    assert not window.status.running
    status = window.library.status()
    assert 120 < status.documents < 2120  # what was done stays; the rest was not indexed


def test_remove_folder_forgets_it_but_keeps_files(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(window.folders.sources) == 1)
    window.folders.list.item(0).setSelected(True)
    assert window.folders.remove_button.isEnabled()
    window.folders.remove_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.folders.sources == [])
    qtbot.waitUntil(lambda: window.search.state == "welcome")
    assert "untouched" in window.status.message_text()
    assert (corpus / "garden-notes.txt").exists()


def test_failed_files_are_shown_with_reasons(qtbot, make_window, corpus):
    make_broken_pdf(corpus / "broken.pdf")
    make_encrypted_pdf(corpus / "locked.pdf", "secret plans")
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.status.problems.isVisible())
    assert "2 files could not be read" in window.status.problems.text()
    assert "could not be read" in window.status.message_text()
    shown = [w.text() for w in window.findChildren(QLabel)
             if w.isVisible() and "could not be read" in w.text() and w is not window.status.message]
    assert shown == [window.status.problems.text()]  # the count in one place

    window.show_failures()
    qtbot.waitUntil(lambda: getattr(window, "failures_dialog", None) is not None)
    table = window.failures_dialog.findChild(QTableWidget)
    rows = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert sorted(f"{r[0]}: {r[2]}" for r in rows) == ["broken.pdf: Damaged", "locked.pdf: Password-protected"]
    assert all(r[1] == window.failures_dialog.table.item(0, 1).text() and r[1] for r in rows)  # the folder
    window.failures_dialog.reject()


def test_try_again_reads_a_failed_file_that_a_sync_leaves_failed(qtbot, make_window, corpus):
    """A file that failed and was then put right without changing its size or date (a copy
    finished, a lock released) is read when the person asks, from the failed-files list."""
    good = b"The heron stood in the reeds at dawn."
    stuck = corpus / "stuck.txt"
    stuck.write_bytes(b"\x00" * len(good))
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.status.problems.isVisible())
    before = stuck.stat()
    stuck.write_bytes(good)
    os.utime(stuck, ns=(before.st_atime_ns, before.st_mtime_ns))

    window.show_failures()
    qtbot.waitUntil(lambda: getattr(window, "failures_dialog", None) is not None)
    dialog = window.failures_dialog
    assert dialog.retry_button.isEnabled() and dialog.retry_button.text() == "Try again"
    dialog.retry_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: not window.status.problems.isVisible())
    assert [os.path.basename(h.path) for h in search_for(qtbot, window, "heron")] == ["stuck.txt"]


def test_errors_from_core_and_bugs_are_readable(qtbot, make_window, tmp_path):
    window = make_window()
    window.add_paths([str(tmp_path / "no-such-folder")])
    assert "Not found" in window.status.message_text()
    window.tasks.run(lambda: 1 / 0)  # an unexpected error in a worker
    qtbot.waitUntil(lambda: "Something went wrong" in window.status.message_text())
    assert "ZeroDivisionError" in window.status.message_text()
    assert "Traceback" not in window.status.message_text()
    assert window.status.message.objectName() == "StatusError"
