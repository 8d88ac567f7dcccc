"""The window answers while it indexes and embeds: a 10 ms timer keeps firing on time.

A generated folder of a few hundred notes is added to the real window with the real default
embedder, while a person types queries into the search box. Every gap between two firings of a
10 ms timer is recorded: none may pass ``MAX_GAP_MS``, and few may pass 100 ms (an event that
waits that long is a window that feels stuck). A GUI thread that does work itself (a lot of
vectors, a SQL call, a slow handler per progress report) or waits for the GIL held by a
slowed-down worker shows up here (``memex bench window`` measures the same on a real folder,
beside the idle window).
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from pathlib import Path

import pytest
from memex_bench.window_latency import turn_until
from PySide6.QtCore import Qt, QTimer

FILES = 300
TICK_MS = 10
# Bounds that hold on a 2-core machine that other programs keep busy (there, idle or indexing,
# the window sees a few gaps of 100-500 ms: under 1 % of them) and that a GUI thread doing
# indexing work itself, or a 250 ms handler per progress report, does not meet.
MAX_GAP_MS = 1000.0
LONG_GAP_MS = 100.0
MAX_LONG_SHARE = 0.05
KEY_EVERY_MS = 250
QUERIES = ("harbour lighthouse keeper", "glacier meltwater survey", "orchard frost")
VOCABULARY = ("harbour lighthouse keeper storm ferry tide glacier meltwater survey valley orchard frost "
              "blossom pruning cider ledger invoice budget audit committee bridge cable tension rivet "
              "kiln glaze porcelain clay furnace telescope comet orbit eclipse station archive letter "
              "census parish river delta silt levee granary harvest drought irrigation").split()


def write_notes(folder: Path, count: int) -> None:
    """``count`` notes of a few paragraphs each (one to three chunks apiece)."""
    rnd = random.Random(16)
    folder.mkdir(parents=True)
    for i in range(count):
        paragraphs = [" ".join(rnd.choice(VOCABULARY) for _ in range(rnd.randint(40, 120))) + "."
                      for _ in range(rnd.randint(2, 6))]
        suffix = ".md" if i % 3 == 0 else ".txt"
        (folder / f"note-{i:03}{suffix}").write_text(f"Note {i}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")


class Typist:
    """Types the queries into the search box, one key every ``KEY_EVERY_MS``, over and over."""

    def __init__(self, qtbot, field) -> None:  # noqa: ANN001 - pytest-qt's bot, a QLineEdit
        self.qtbot, self.field = qtbot, field
        self.text = " / ".join(QUERIES)
        self.at = 0
        self.timer = QTimer(interval=KEY_EVERY_MS)
        self.timer.timeout.connect(self._key)

    def _key(self) -> None:
        char = self.text[self.at % len(self.text)]
        self.at += 1
        if char == "/":
            self.field.clear()
        elif char != " " or self.field.text():
            self.qtbot.keyClick(self.field, char)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_lanes_that_answer_the_window_keep_its_priority(qtbot) -> None:
    """A query or a page holds the GIL while it is made: below the GUI thread's priority, a CPU
    busy embedding would stretch that and keep the GUI thread waiting for the GIL. Indexing and
    the watcher's walks run below it."""
    from memex.desktop.tasks import LANES, WORKER_NICENESS, TaskManager

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    own = niceness()
    tasks = TaskManager()
    seen: dict[str, int] = {}
    for lane in LANES:
        tasks.run(niceness, lambda value, lane=lane: seen.__setitem__(lane, value), lane=lane)
    qtbot.waitUntil(lambda: len(seen) == len(LANES), timeout=10_000)
    tasks.shutdown()
    assert {lane: seen[lane] for lane in ("search", "rerank", "read", "render")} == dict.fromkeys(
        ("search", "rerank", "read", "render"), own)
    assert seen["write"] >= WORKER_NICENESS and seen["watch"] >= WORKER_NICENESS


@pytest.mark.slow
def test_window_keeps_turning_while_it_indexes_and_embeds(qtbot, make_window, library, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    write_notes(folder, FILES)
    window = make_window()
    assert turn_until(lambda: window.indexer is not None and not window.tasks.busy(), 60)
    phases: set[str] = set()
    window.indexer.progress.connect(lambda _job, p: phases.add(p.phase))

    gaps: list[tuple[float, float]] = []  # (seconds since start, gap in ms)
    last = [time.perf_counter()]
    started = last[0]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append((now - started, (now - last[0]) * 1000))
        last[0] = now

    timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    typist = Typist(qtbot, window.search.field)
    window.search.field.setFocus()
    timer.start()
    typist.timer.start()
    window.add_paths([str(folder)])
    finished = turn_until(lambda: window.indexer.busy is False and not window.tasks.busy("write"), 600)
    timer.stop()
    typist.timer.stop()

    assert finished, "indexing did not finish within 10 minutes"
    worst = [(round(t, 1), round(g)) for t, g in sorted(gaps, key=lambda g: -g[1])[:5]]
    long_share = sum(g > LONG_GAP_MS for _, g in gaps) / len(gaps)
    assert worst[0][1] <= MAX_GAP_MS, f"the event loop stalled: longest gaps (s into the run, ms) {worst}"
    assert long_share <= MAX_LONG_SHARE, (
        f"{long_share:.0%} of the event loop's turns took over {LONG_GAP_MS:.0f} ms; longest {worst}")
    status = library.status()
    assert status.documents == FILES and status.chunks_pending == 0
    assert {"indexing", "embedding"} <= phases  # both halves ran under the timer
    assert len(gaps) > 100
