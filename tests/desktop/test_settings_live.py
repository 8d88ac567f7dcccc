"""Settings without a restart: what the library reads when it opens (its file, the reranker,
CPU/GPU, threads) is applied by opening it again; the model pickers say size, languages and
what each is good for; a greyed option says why; a confirmation names its action."""

from __future__ import annotations

from gui_helpers import search_for, wait_idle
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox


def test_threads_and_device_apply_without_a_restart(qtbot, corpus, tmp_path):
    from memex.core.config import Settings
    from memex.desktop.main_window import MainWindow
    from memex.desktop.settings_dialog import SettingsDialog

    window = MainWindow(library_path=tmp_path / "own.db", settings=Settings(threads=1), watch=False)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.library is not None, timeout=30_000)
        window.add_paths([str(corpus)])
        wait_idle(qtbot, window)
        search_for(qtbot, window, "sourdough")
        first = window.library
        dialog = SettingsDialog(first.settings, start_at_login=False, minimise_to_tray=False, tray_available=False)
        dialog.threads.setValue(2)
        result = dialog.result_settings()
        assert result.restart_needed == ["threads"]
        window.apply_settings(result)
        qtbot.waitUntil(lambda: window.library is not None and window.library is not first, timeout=30_000)
        assert window.library.settings.threads == 2
        qtbot.waitUntil(lambda: "Now using the new threads" in window.status.message_text())
        assert "Restart" not in window.status.message_text()
        qtbot.waitUntil(lambda: window.search.state == "results", timeout=10_000)
        assert search_for(qtbot, window, "tomatoes")
    finally:
        window.shutdown()
        window.close()


def test_model_pickers_say_size_languages_and_purpose(qtbot):
    from memex.core.api import catalogue
    from memex.core.config import Settings
    from memex.desktop.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings(), start_at_login=False, minimise_to_tray=False, tray_available=False)
    qtbot.addWidget(dialog)
    specs = {s.name: s for s in catalogue()}
    for combo in (dialog.embedder, dialog.reranker):
        for i in range(1, combo.count() - 1):
            name = combo.itemData(i)
            spec = specs[name]
            assert combo.itemText(i) != name  # more than a bare name
            if spec.size:
                assert " MB" in combo.itemText(i)
            combo.setCurrentIndex(i)
            assert spec.description in combo.details()
    multilingual = dialog.embedder.findData("multilingual-e5-small")
    assert "100 languages" in dialog.embedder.itemText(multilingual)
    dialog.embedder.setCurrentIndex(multilingual)
    assert "100 languages" in dialog.embedder_details.text()
    dialog.embedder.setCurrentIndex(0)
    assert not dialog.embedder_download.isEnabled() and dialog.embedder_download.toolTip()
    assert not dialog.tray.isEnabled() and "no system tray" in dialog.tray.toolTip()


def test_removing_a_folder_asks_with_remove_not_yes(qtbot):
    from memex.core.types import Source
    from memex.desktop.folders import FoldersPanel

    panel = FoldersPanel()
    qtbot.addWidget(panel)
    panel.set_sources([Source(id=1, path="/data/work", kind="folder", added_at=0.0)])
    seen: list[list[str]] = []
    removed: list[str] = []
    panel.remove_requested.connect(removed.append)

    def answer() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, answer)
            return
        box = boxes[0]
        seen.append([b.text().replace("&", "") for b in box.buttons()])
        next(b for b in box.buttons() if b.text().replace("&", "") == "Remove").click()

    QTimer.singleShot(20, answer)
    assert panel.ask_remove("/data/work")
    assert "Remove" in seen[0] and "Yes" not in seen[0]
    assert removed == ["/data/work"]
