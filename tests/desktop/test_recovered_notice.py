"""The window tells once, when it gets the library, that a damaged library was set aside."""

from __future__ import annotations

import os

from memex.core.config import Settings, default_library_path
from PySide6.QtWidgets import QMessageBox


def _window(qtbot, **kwargs):
    from memex.desktop.main_window import MainWindow

    window = MainWindow(settings=Settings(), watch=False, reconcile=False, **kwargs)
    qtbot.addWidget(window)
    return window


def test_the_window_shows_that_a_damaged_library_was_set_aside(qtbot) -> None:
    db = default_library_path()
    db.write_bytes(b"\0" * 4096 + os.urandom(4096))  # truncated over: its folder list is gone

    window = _window(qtbot)
    with qtbot.waitSignal(window.library_ready, timeout=60_000):
        window.show()
    try:
        box = getattr(window, "library_notice", None)
        assert isinstance(box, QMessageBox) and box.isVisible()
        assert "set it aside" in box.text() and "add your folders again" in box.text()
        assert window.library.recovered.moved_to.name in box.informativeText()
        assert "set it aside" in window.status.message.toolTip()
        assert window.library.recovered.moved_to.exists()
    finally:
        window.shutdown()
        window.close()

    again = _window(qtbot)  # the next start: a sound library, nothing to tell
    with qtbot.waitSignal(again.library_ready, timeout=60_000):
        again.show()
    try:
        assert again.library_notice is None and again.library.recovered is None
    finally:
        again.shutdown()
        again.close()
