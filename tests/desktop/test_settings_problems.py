"""The window says, once, which settings were bad and took their defaults."""

from __future__ import annotations

import json

from memex.core.config import Settings


def test_the_window_names_bad_settings_and_still_opens(qtbot) -> None:
    from memex.desktop.main_window import MainWindow

    path = Settings.path()
    path.write_text(json.dumps({"threads": "many", "fusion": "nonsense", "chunk_tokens": 260}), encoding="utf-8")
    window = MainWindow(watch=False, reconcile=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.library_ready, timeout=60_000):
        window.show()
    try:
        told = window.status.message.toolTip()
        assert str(path) in told and '"threads" is "many"' in told and '"fusion" is "nonsense"' in told
        settings = window.library.settings
        assert (settings.threads, settings.fusion, settings.chunk_tokens) == (0, "convex", 260)
    finally:
        window.shutdown()
        window.close()
