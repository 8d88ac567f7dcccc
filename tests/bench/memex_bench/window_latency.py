"""The window's responsiveness while it indexes and embeds a real folder, beside the same window
idle, in one run (``memex bench window``).

The real window (``MainWindow`` as the app builds it, offscreen unless ``QT_QPA_PLATFORM`` says
otherwise) adds a folder to an empty library. While it reads and embeds:

- **event-loop stall**: a 10 ms timer records how late each firing is (p50/p95/max, and how many
  gaps between firings pass 100 ms — an event held that long is a window that feels stuck);
- **search as you type**: queries are typed into the search box key by key at a person's pace
  (``KEY_INTERVAL_MS``); each key's time to its results is taken when the results list updates
  (the model's ``modelReset``) and when the list paints them; the library's own ``find`` is
  timed where it runs (on the search lane), so a slow answer can be told from a slow window.

Figures are also given per phase the progress reports ("indexing": words; "embedding", or "ocr"
when scanned pages are read while vectors are made). Each gap over 100 ms is split into the GUI
thread's time running, waiting for a CPU and asleep (the GIL or a lock), from its schedstat.

Then the run is stopped (or it ends), the window goes quiet, and the same is measured idle on
the same library: the baseline. Run as ``python -m memex_bench.window_latency FOLDER LIBRARY
[--seconds N] [--dump FILE]``: one JSON line. ``--dump`` writes every thread's stack whenever
the loop has not turned for 100 ms (``faulthandler``), to find what held it.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .table import Row

TICK_MS = 10
LONG_GAP_MS = 100.0  # an event loop that does not turn for this long feels stuck
KEY_INTERVAL_MS = 220  # about 45 words a minute
RESULTS_WAIT_S = 20.0  # after the last key of a query, at most this long for its results
QUERY_PAUSE_MS = 800  # reading the results before the next query
DEFAULT_SECONDS = 120.0  # of indexing measured; then the run is cancelled (its figures are steady by then)
QUERIES = ("free space on mounted disks", "ssh key pair", "siege of vicksburg", "mutex counter threads",
           "npm lockfile install", "heap profiler", "Kündigung Mietvertrag", "fstab boot")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest rank; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(values_ms: list[float]) -> dict[str, float]:
    return {"n": len(values_ms), "p50": percentile(values_ms, 0.5), "p95": percentile(values_ms, 0.95),
            "max": max(values_ms, default=0.0)}


def _schedstat() -> tuple[int, int]:
    """This thread's time on a CPU and waiting for one, in ns (Linux; zeros elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat", encoding="ascii") as fh:
            ran, queued = fh.read().split()[:2]
        return int(ran), int(queued)
    except (OSError, ValueError):
        return 0, 0


class StallMeter:
    """A 10 ms precise timer that records each firing's lateness under the current label."""

    def __init__(self, label: Callable[[], str], dump: str | None = None) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.label = label
        self.lateness: dict[str, list[float]] = {}
        # label, at (s since start), gap, and the GUI thread meanwhile: ran, waited for a CPU, slept (ms)
        self.long_gaps: list[tuple[str, float, float, float, float, float]] = []
        self._timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self._started = 0.0
        self._sched = (0, 0)
        self._dump = open(dump, "w", encoding="utf-8") if dump else None  # noqa: SIM115 - open for the run

    def start(self) -> None:
        self._started = self._last = time.perf_counter()
        self._sched = _schedstat()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._dump is not None:
            faulthandler.cancel_dump_traceback_later()

    def close(self) -> None:
        self.stop()
        if self._dump is not None:
            self._dump.close()

    def _tick(self) -> None:
        now = time.perf_counter()
        sched = _schedstat()
        gap_ms = (now - self._last) * 1000
        self._last = now
        label = self.label()
        self.lateness.setdefault(label, []).append(max(0.0, gap_ms - TICK_MS))
        if gap_ms > LONG_GAP_MS:
            # Where the GUI thread's time went meanwhile: running, waiting for a CPU, or asleep
            # (blocked: on the GIL or a lock, when the timer was due long ago).
            ran, queued = (sched[0] - self._sched[0]) / 1e6, (sched[1] - self._sched[1]) / 1e6
            self.long_gaps.append((label, round(now - self._started, 3), round(gap_ms, 1), round(ran, 1),
                                   round(queued, 1), round(max(0.0, gap_ms - ran - queued), 1)))
        self._sched = sched
        if self._dump is not None:  # re-armed each turn: it fires only when a turn is late
            self._dump.write(f"--- {time.perf_counter() - self._started:.3f} s, {label}\n")
            faulthandler.dump_traceback_later(LONG_GAP_MS / 1000, file=self._dump)


class Typist:
    """Types queries into the search box one key at a time and times each key to its results."""

    def __init__(self, window) -> None:  # noqa: ANN001 - MainWindow (Qt imported lazily)
        from PySide6.QtCore import QEvent, QObject

        self.window = window
        self.field = window.search.field
        self.model = window.search.view.results
        self.keys: list[tuple[float, str]] = []  # (time, text after the key) since the last clear
        self.updated_ms: list[float] = []  # key → results list updated
        self.painted_ms: list[float] = []  # key → results list painted
        self.final_ms: list[float] = []  # a query's last key → its results painted
        self.keys_typed = 0
        self._answered: set[int] = set()
        self._paint_due: list[tuple[int, float]] = []  # (key index, key time) awaiting a paint
        self._painted: dict[int, float] = {}  # key index → ms to its results painted (this query)
        self.model.modelReset.connect(self._on_update)
        typist = self

        class PaintWatch(QObject):
            def eventFilter(self, watched, event) -> bool:  # noqa: N802, ANN001 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    typist._on_paint()
                return False

        self._paint_watch = PaintWatch()
        window.search.view.viewport().installEventFilter(self._paint_watch)

    def type_query(self, query: str, wait: Callable[[Callable[[], bool], float], bool]) -> bool:
        """Clear the box, type ``query`` at a person's pace, wait for its results; True when shown."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        self.field.setFocus()
        QTest.keyClick(self.field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClick(self.field, Qt.Key.Key_Backspace)
        self.keys, self._answered, self._paint_due, self._painted = [], set(), [], {}
        wait(lambda: False, QUERY_PAUSE_MS / 1000)
        for char in query:
            _press(self.field, char)
            self.keys.append((time.perf_counter(), self.field.text()))
            self.keys_typed += 1
            wait(lambda: False, KEY_INTERVAL_MS / 1000)
        last = len(self.keys) - 1
        shown = wait(lambda: last in self._painted, RESULTS_WAIT_S)
        if shown:
            self.final_ms.append(self._painted[last])
        return shown

    def _on_update(self) -> None:
        now = time.perf_counter()
        query = self.model.query
        for index in range(len(self.keys) - 1, -1, -1):
            at, text = self.keys[index]
            if text == query and text.strip():
                if index not in self._answered:
                    self._answered.add(index)
                    self.updated_ms.append((now - at) * 1000)
                    if self.model.rowCount():
                        self._paint_due.append((index, at))
                    else:  # no match (yet): the list is hidden and says so at once, nothing to paint
                        self.painted_ms.append((now - at) * 1000)
                        self._painted[index] = (now - at) * 1000
                return

    def _on_paint(self) -> None:
        now = time.perf_counter()
        for index, at in self._paint_due:
            self.painted_ms.append((now - at) * 1000)
            self._painted[index] = (now - at) * 1000
        self._paint_due = []


class SearchTimer:
    """How long each of the window's searches takes on its lane, by phase (the library's own
    ``find``, timed where it runs). With ``dump``: every thread's stack when one passes 2 s."""

    def __init__(self, library, label: Callable[[], str], dump: str | None) -> None:  # noqa: ANN001
        import threading

        self.times: dict[str, list[float]] = {}
        find = library.find

        def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - Library.find's own
            phase = label()
            watchdog = threading.Timer(2.0, self._dump, (dump,)) if dump else None
            if watchdog is not None:
                watchdog.start()
            started = time.perf_counter()
            try:
                return find(*args, **kwargs)
            finally:
                if watchdog is not None:
                    watchdog.cancel()
                self.times.setdefault(phase, []).append((time.perf_counter() - started) * 1000)

        library.find = timed

    @staticmethod
    def _dump(path: str) -> None:
        with open(path + ".search", "a", encoding="utf-8") as fh:
            fh.write(f"=== a search past 2 s at {time.strftime('%T')}\n")
            faulthandler.dump_traceback(fh, all_threads=True)

    def summary(self) -> dict:
        return {phase: summary(values) for phase, values in self.times.items()}


def _press(field, char: str) -> None:  # noqa: ANN001 - a QLineEdit
    """One key typed into ``field`` (QTest knows only ASCII keys: others go as the text they type)."""
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    if char.isascii():
        QTest.keyClicks(field, char)
        return
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        QApplication.sendEvent(field, QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier, char))


def turn_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop (never sleeping: the timer must see every turn) until ``done()``."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer(interval=20)
    poll.timeout.connect(lambda: done() and loop.quit())
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    if not done():
        poll.start()
        loop.exec()
    poll.stop()
    return done()


def measure(folder: str, library: str, seconds: float = DEFAULT_SECONDS, dump: str | None = None) -> dict:
    """Open the window on a new library at ``library``, add ``folder``, measure while it indexes
    (at most ``seconds``), then measure the same window idle."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from memex.desktop import style
    from memex.desktop.main_window import MainWindow
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    style.apply_style(app)
    window = MainWindow(library_path=library, watch=False)
    window.show()
    if not turn_until(lambda: window.indexer is not None and not window.tasks.busy(), 600):
        raise RuntimeError("the window did not open its library within 10 minutes")
    phase = {"stage": "idle", "phase": "idle"}
    window.indexer.progress.connect(lambda _job, p: phase.update(phase=p.phase))
    meter = StallMeter(lambda: phase["stage"] if phase["stage"] == "idle" else phase["phase"], dump)
    typist = Typist(window)
    searches = SearchTimer(window.library, meter.label, dump)
    load_before = os.getloadavg()[0]

    phase["stage"] = "busy"
    busy = _while_indexing(window, folder, seconds, meter, typist)
    load_busy = os.getloadavg()[0]
    turn_until(lambda: False, 3.0)  # quiet: the last counts and any memory release
    phase["stage"] = "idle"
    meter.start()
    for query in QUERIES:
        typist.type_query(query, turn_until)
    meter.stop()
    idle = _stage_figures(meter, typist, exclude=()) | {"queries": len(QUERIES)}
    status = window.library.status()
    meter.close()
    window.close()
    return {"busy": busy, "idle": idle, "documents": status.documents, "chunks": status.chunks,
            "embedded": status.chunks_embedded, "load_before": load_before, "load_busy": load_busy,
            "platform": app.platformName(), "searches": searches.summary()}


def _while_indexing(window, folder: str, seconds: float, meter: StallMeter,  # noqa: ANN001 - MainWindow
                    typist: Typist) -> dict:
    """Add ``folder`` and type queries until the run ends or ``seconds`` pass (then cancel it);
    the figures, and the meter and typist emptied for the next stage."""
    meter.start()
    started = time.perf_counter()
    window.add_paths([folder])
    queries = 0
    while window.indexer.busy and time.perf_counter() - started < seconds:
        typist.type_query(QUERIES[queries % len(QUERIES)], turn_until)
        queries += 1
    finished = not window.indexer.busy
    busy_s = time.perf_counter() - started
    if not finished:
        window.indexer.cancel()
    turn_until(lambda: not window.indexer.busy and not window.tasks.busy(), 120)
    meter.stop()
    figures = _stage_figures(meter, typist, exclude=("idle",))
    meter.lateness.clear()
    meter.long_gaps.clear()
    typist.updated_ms, typist.painted_ms, typist.final_ms, typist.keys_typed = [], [], [], 0
    return figures | {"queries": queries, "seconds": busy_s, "finished": finished}


def _stage_figures(meter: StallMeter, typist: Typist, exclude: tuple[str, ...]) -> dict:
    every = [v for label, values in meter.lateness.items() if label not in exclude for v in values]
    by_phase = {label: summary(values) | {"long": sum(v + TICK_MS > LONG_GAP_MS for v in values)}
                for label, values in meter.lateness.items() if label not in exclude}
    return {"stall": summary(every) | {"long": sum(v + TICK_MS > LONG_GAP_MS for v in every)},
            "by_phase": by_phase, "long_gaps": sorted(meter.long_gaps, key=lambda g: -g[2])[:20],
            "long_gap_ms": {what: round(sum(g[i] for g in meter.long_gaps), 1)
                            for i, what in ((2, "total"), (3, "ran"), (4, "queued"), (5, "slept"))},
            "key_to_update": summary(typist.updated_ms), "key_to_paint": summary(typist.painted_ms),
            "last_key_to_paint": summary(typist.final_ms), "keys": typist.keys_typed}


# -- the suite: a fresh process, its rows ---------------------------------------------------------
def run(workdir: Path, folder: Path | None = None, seconds: float = DEFAULT_SECONDS) -> list[Row]:
    from memex.core.config import cache_dir

    from .indexing import DEFAULT_FOLDER

    folder = folder or DEFAULT_FOLDER
    if not folder.is_dir():
        raise RuntimeError(f"No folder at {folder}: build it with tests/realfolder/build_folder.py "
                           "or pass --folder.")
    home = workdir / "window-home"
    (home / "cache").mkdir(parents=True, exist_ok=True)
    optimized = cache_dir() / "optimized"
    optimized.mkdir(parents=True, exist_ok=True)
    link = home / "cache" / "optimized"
    if not link.exists():  # reuse the optimised model copy instead of building it again
        link.symlink_to(optimized, target_is_directory=True)
    library = workdir / "window.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(library) + suffix).unlink(missing_ok=True)
    env = {**os.environ, "MEMEX_HOME": str(home)}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run([sys.executable, "-m", "memex_bench.window_latency", str(folder), str(library),
                           "--seconds", str(seconds)], capture_output=True, text=True,
                          timeout=seconds + 1800, env=env, cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0:
        raise RuntimeError(f"window benchmark failed: {proc.stderr.strip()[-800:]}")
    return rows(json.loads(proc.stdout.strip().splitlines()[-1]))


def rows(result: dict) -> list[Row]:
    """The table: each figure while indexing, beside the same window idle in the same run."""
    busy, idle = result["busy"], result["idle"]
    what = f"{busy['seconds']:.0f} s of indexing" + ("" if busy["finished"] else ", then cancelled")
    out = []
    for key, name in (("p50", "median"), ("p95", "p95"), ("max", "max")):
        out.append(Row(f"event-loop lateness {name}, while indexing ({what})", busy["stall"][key], "ms",
                       "< 100 ms" if key == "max" else "", "idle", idle["stall"][key],
                       busy["stall"][key] < LONG_GAP_MS if key == "max" else None))
    out.append(Row(f"  … gaps over 100 ms (of {busy['stall']['n']:,}; idle: of {idle['stall']['n']:,})",
                   busy["stall"]["long"], "", "0", "idle", idle["stall"]["long"], busy["stall"]["long"] == 0))
    for label, figures in sorted(busy["by_phase"].items()):
        out.append(Row(f"  … while {label}: max lateness (p95 {figures['p95']:.0f} ms, "
                       f"{figures['long']} gaps over 100 ms)", figures["max"], "ms"))
    for part, name in (("queued", "waiting for a CPU"), ("slept", "asleep (the GIL or a lock)"),
                       ("ran", "running")):
        out.append(Row(f"  … time in those gaps with the GUI thread {name}", busy["long_gap_ms"][part], "ms",
                       "", "idle", idle["long_gap_ms"][part]))
    for key, name in (("key_to_paint", "a key → its results shown"),
                      ("last_key_to_paint", "a query's last key → its results shown")):
        for stat in ("p50", "p95", "max"):
            out.append(Row(f"{name}, {stat}, while indexing", busy[key][stat], "ms", "", "idle", idle[key][stat]))
    searches = result.get("searches", {})
    during = [f for label, f in searches.items() if label != "idle"]
    if during and "idle" in searches:  # the library's own find, on the search lane
        worst = max(during, key=lambda f: f["p95"])
        out.append(Row("a search on its lane (Library.find), p95 in the slowest phase", worst["p95"], "ms", "",
                       "idle", searches["idle"]["p95"]))
    out.append(Row("keys typed while indexing (whose results were shown: baseline column)", busy["keys"], "",
                   "", "shown", busy["key_to_paint"]["n"]))
    out.append(Row("load average (1 min) while indexing", result["load_busy"], "", "", "before",
                   result["load_before"]))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m memex_bench.window_latency")
    parser.add_argument("folder")
    parser.add_argument("library")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--dump", help="write every thread's stack here when the loop stalls 100 ms")
    args = parser.parse_args(argv)
    os.environ.setdefault("MEMEX_HOME", str(Path(args.library).resolve().parent / "window-home"))
    result = measure(args.folder, args.library, args.seconds, args.dump)
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip interpreter teardown under a live Qt application


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
