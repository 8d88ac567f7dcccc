"""The window's own memory on a library, for ``memex bench indexing``: right after it opens,
after typed searches with a result shown, and once it has gone quiet and given memory back.

Run as ``python -m memex_bench.window_idle LIBRARY``; prints one JSON line. It opens the real
window (offscreen unless a display is asked for) with the user folder in ``MEMEX_HOME``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable

QUERIES = ("budget risk", "water climate policy", "network security data model")


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from memex.desktop import style
    from memex.desktop.main_window import MainWindow
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    style.apply_style(app)
    window = MainWindow(library_path=argv[0])
    window.show()
    shown: list[str] = []
    window.search.results_shown.connect(lambda query, _n: shown.append(query))

    def wait(done: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while not done() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        return done()

    result: dict[str, float] = {}
    wait(lambda: window.library is not None and not window.tasks.busy(), 120)
    wait(lambda: window.memory.releases >= 1, 30)  # the start-up scan settled
    result["start_mb"] = rss_mb()
    for query in QUERIES:
        window.search.field.setText(query)
        wait(lambda q=query: q in shown and not window.tasks.busy(), 30)
    from PySide6.QtCore import Qt

    window.search.view.navigate(Qt.Key.Key_Down)  # a result in the preview, as arrow keys do
    window.search.view.navigate(Qt.Key.Key_Down)
    wait(lambda: not window.tasks.busy(), 10)
    result["searched_mb"] = rss_mb()
    released = window.memory.releases
    wait(lambda: window.memory.releases > released, window.memory.after_search_ms / 1000 + 30)
    result["quiet_mb"] = rss_mb()
    window.close()
    window.shutdown()
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip interpreter teardown under a live Qt application


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
