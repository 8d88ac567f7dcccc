"""Run by test_window_shape at 150 % scale (QT_SCALE_FACTOR is read when Qt starts): builds the
window over a small indexed library and prints, as JSON, what is cut off at each size."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SIZES = ((800, 500), (1024, 700), (1600, 1000))


def main(folder: Path) -> None:
    from docgen import make_broken_pdf, make_pdf
    from gui_helpers import PDF_PAGES
    from layout_check import layout_problems
    from memex.core.library import Library
    from memex.desktop import qtcompat, style
    from memex.desktop.main_window import MainWindow
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    qtcompat.apply()
    style.apply_style(app)
    docs = folder / "docs"
    docs.mkdir()
    make_pdf(docs / "hypersonic-report.pdf", PDF_PAGES, title="Hypersonic heat transfer")
    make_broken_pdf(docs / "broken.pdf")
    (docs / "garden-notes.txt").write_text("Tomatoes need full sun and steady watering.\n")
    library = Library.open(folder / "lib.db")
    window = MainWindow(library, watch=False)
    window.show()

    def wait(condition, seconds: float = 60) -> None:
        end = time.monotonic() + seconds
        while not condition() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def check(state: str, found: dict) -> None:
        for size in SIZES:
            window.resize(*size)
            wait(lambda: False, 0.15)
            # A loaded machine may deliver the resize's layout passes late: wait until the
            # layout settles (no problem left) or 5 s pass, and report what is left then.
            wait(lambda: not layout_problems(window, check_screen=False), 5)
            problems = layout_problems(window, check_screen=False)
            if problems:
                found[f"{state} {size}"] = problems

    found: dict = {}
    wait(lambda: window.search.state == "welcome")
    check("empty", found)
    window.add_paths([str(docs)])
    wait(lambda: window.indexer is not None and not window.indexer.busy and not window.tasks.busy("read"))
    window.status.show_message("Indexed 3 files (1 could not be read) — see the list of files for the reasons",
                               error=True)
    check("idle", found)
    window.search.field.setText("heat transfer")
    wait(lambda: window.search.state == "results")
    check("results", found)
    window.shutdown()
    library.close()
    print(json.dumps(found))


if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] / "core")]
    main(Path(sys.argv[1]))
