"""Names, paths, document text and error messages that look like HTML are shown as they are.

Qt takes a string that merely looks like markup as markup: in a QLabel (AutoText), a
QMessageBox and every tooltip. Each test builds the real widgets with hostile names and checks
what a person would read — the text as Qt renders it — against the raw name, with its control
and bidi characters shown as escapes (``SEEN_NAME``), as the command line shows them."""

from __future__ import annotations

import os
from pathlib import Path

from gui_helpers import search_for, wait_idle
from memex.core.config import Settings, default_library_path
from memex.core.display_text import safe
from memex.core.models.switch import SwitchEstimate
from memex.core.types import FileError, IndexProgress, Source
from PySide6 import QtGui
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

MARKUP = "<img src=x><b>BOLD&amp;"  # a file name cannot hold "/", so no closing tags
FILE_NAME = f"{MARKUP}\x1b[31m \u202etxt.exe.txt"  # an escape sequence and a right-to-left override
DIR_NAME = "<a href='file:etc'>dir&lt;"
SEEN_NAME = f"{MARKUP}\\x1b[31m \\u202etxt.exe.txt"  # what a person reads: nothing reorders or hides


def rendered(text: str, text_format: Qt.TextFormat = Qt.TextFormat.AutoText) -> str:
    """What Qt shows for ``text`` in that format (AutoText: rich when it looks like HTML)."""
    rich = text_format == Qt.TextFormat.RichText or (
        text_format == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text))
    if not rich:
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def shown(label: QLabel) -> str:
    return rendered(label.text(), label.textFormat())


def tip(widget_or_item) -> str:
    """A tooltip as Qt shows it (QToolTip always guesses whether the text is rich)."""
    return rendered(widget_or_item.toolTip())


def test_status_area_shows_file_names_and_errors_as_they_are(qtbot) -> None:
    from memex.desktop.progress import StatusArea

    status = StatusArea()
    qtbot.addWidget(status)
    status.resize(1400, 40)
    path = f"/data/{DIR_NAME}/{FILE_NAME}"
    status.start_run(f"Indexing {DIR_NAME}")
    assert shown(status.phase) == status.phase.fontMetrics().elidedText(
        f"Indexing {DIR_NAME}", Qt.TextElideMode.ElideRight, status.phase.width())
    assert tip(status.phase) == f"Indexing {DIR_NAME}"
    status.update_progress(IndexProgress(phase="indexing", files_total=3, files_done=1, current=path))
    assert shown(status.current) == status.current.fontMetrics().elidedText(
        SEEN_NAME, Qt.TextElideMode.ElideMiddle, status.current.width())
    assert tip(status.current) == safe(path)
    status.finish_run()
    error = f"Cannot read {path}"
    status.show_message(error, error=True)
    assert tip(status.message) == safe(error) and status.message_text() == error
    assert shown(status.message) == status.message.fontMetrics().elidedText(
        safe(error), Qt.TextElideMode.ElideRight, status.message.width())


def test_folders_and_failures_show_paths_as_they_are(qtbot) -> None:
    from memex.desktop.folders import FailuresDialog, FoldersPanel

    folder = f"/data/{DIR_NAME}"
    panel = FoldersPanel()
    qtbot.addWidget(panel)
    panel.set_sources([Source(id=1, path=folder, kind="folder", added_at=0.0, documents=2, errors=1)])
    row = panel.list.itemWidget(panel.list.item(0))
    title, path_label = row.findChildren(QLabel)[:2]
    assert shown(title) == DIR_NAME
    assert shown(path_label) == path_label.text() and path_label.text().endswith(DIR_NAME[-4:])
    assert tip(row) == folder

    failed = f"{folder}/{FILE_NAME}"
    dialog = FailuresDialog([FileError(failed, "outside-link", f"{failed} points outside the folder")])
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 0).text() == SEEN_NAME and tip(dialog.table.item(0, 0)) == safe(failed)
    assert tip(dialog.table.item(0, 3)) == f"{safe(failed)}\n{safe(failed)} points outside the folder"
    assert dialog.table.item(0, 2).text() == "Link outside the folder"
    assert tip(dialog.table.item(0, 1)) == safe(folder)


def _answer_box(seen: list, tries: int = 500) -> None:
    """Read the message box that is up, then close it (it was opened with exec())."""
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    if not boxes:
        if tries:
            QTimer.singleShot(20, lambda: _answer_box(seen, tries - 1))
        return
    box = boxes[0]
    seen.append({label.objectName(): shown(label) for label in box.findChildren(QLabel)})
    box.reject()


def test_model_switch_question_shows_model_names_as_they_are(qtbot) -> None:
    from memex.desktop.model_switch import ask_to_switch

    name = "<img src=x><b>BOLD"
    estimate = SwitchEstimate(model_id=f"local:{name}:abc", dim=384, current_model_id="local:x:1",
                              chunks_total=10, chunks_done=0, chunks_to_embed=10, chunks_per_s=5.0,
                              sample=4, seconds=2.0, discards_pending=f"local:{name}&lt;:def")
    parent = QWidget()
    qtbot.addWidget(parent)
    seen: list[dict] = []
    QTimer.singleShot(0, lambda: _answer_box(seen))
    assert ask_to_switch(estimate, parent) is False
    assert seen[0]["qt_msgbox_label"] == f"Analyse 10 passages again with {name}?"
    assert f"The unfinished switch to {name}&lt; is discarded." in seen[0]["qt_msgbox_informativelabel"]


def test_recovered_library_notice_shows_the_path_as_it_is(qtbot, tmp_path, monkeypatch, embedder) -> None:
    from memex.core.library import Library
    from memex.desktop.library_notice import show_library_notices
    from memex.desktop.progress import StatusArea

    home = tmp_path / DIR_NAME
    home.mkdir()
    monkeypatch.setenv("MEMEX_HOME", str(home))
    Library.open(embedder=embedder).close()
    db = default_library_path()
    with open(db, "r+b") as f:
        f.write(b"\0" * 100)  # the header is gone: damaged
    library = Library.open(embedder=embedder)
    try:
        parent, status = QWidget(), StatusArea()
        qtbot.addWidget(parent)
        qtbot.addWidget(status)
        box = show_library_notices(parent, status, library)
        labels = {label.objectName(): label for label in box.findChildren(QLabel)}
        assert shown(labels["qt_msgbox_label"]) == library.recovered.message
        kept = f"The damaged file was kept as {library.recovered.moved_to}."
        assert shown(labels["qt_msgbox_informativelabel"]) == kept
        assert tip(status.message) == library.recovered.message
        box.close()
    finally:
        library.close()


def test_a_library_that_cannot_open_is_named_as_it_is(qtbot, tmp_path) -> None:
    from memex.desktop.main_window import MainWindow

    target = tmp_path / DIR_NAME / FILE_NAME
    target.parent.mkdir()
    target.write_text("not a library, a document someone wrote\n", encoding="utf-8")
    window = MainWindow(library_path=target, settings=Settings(), watch=False, reconcile=False)
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: "cannot open" in window.search.empty.title.text(), timeout=30_000)
        body = shown(window.search.empty.body)
        assert safe(target) in body, body
        assert str(target) in window.status.message_text() and safe(target) in tip(window.status.message)
    finally:
        window.shutdown()
        window.close()


def test_window_shows_hostile_file_names_as_they_are(qtbot, make_window, tmp_path: Path) -> None:
    root = tmp_path / DIR_NAME
    root.mkdir()
    doc = root / FILE_NAME
    doc.write_text("The zephyrine lighthouse keeper logs every <b>storm</b> &amp; every ship.\n", encoding="utf-8")
    os.symlink("/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd", root / f"{MARKUP}.txt")
    window = make_window()
    window.add_paths([str(root)])
    wait_idle(qtbot, window)

    hits = search_for(qtbot, window, "zephyrine")
    assert [h.path for h in hits] == [str(doc)]
    results = window.search.view.results
    assert rendered(results.data(results.index(0, 0), Qt.ItemDataRole.ToolTipRole)) == safe(doc)
    assert results.data(results.index(0, 0), Qt.ItemDataRole.DisplayRole) == SEEN_NAME  # painted as plain text
    qtbot.waitUntil(lambda: window.preview.hit is not None and window.preview.hit.path == str(doc))
    preview = window.preview
    assert shown(preview.title) == preview.title.text() and tip(preview.title) == safe(doc)
    assert preview.title.text() == preview.title.fontMetrics().elidedText(  # shortened to the pane, if at all
        SEEN_NAME, Qt.TextElideMode.ElideMiddle, preview.width() - 32)
    assert shown(preview.meta) == preview.meta.text() and "&lt;  ·  modified" in preview.meta.text()
    qtbot.waitUntil(lambda: "zephyrine" in preview.text.toPlainText())
    assert "every <b>storm</b> &amp; every ship." in preview.text.toPlainText()  # document text, as written
    assert preview.page_label.textFormat() == Qt.TextFormat.PlainText  # its errors quote paths

    row = window.folders.list.itemWidget(window.folders.list.item(0))
    name = row.findChildren(QLabel)[0]  # shortened to the sidebar's width
    assert shown(name) == name.text() and name.text()[:-1] in DIR_NAME and tip(row) == str(root)
    assert window.search.folder_filter.itemText(1) == DIR_NAME
    assert rendered(window.search.folder_filter.itemData(1, Qt.ItemDataRole.ToolTipRole)) == str(root)

    query = "<img src=x>nothingmatcheszq"
    search_for(qtbot, window, query)
    assert shown(window.search.empty.title) == f"No matches for “{query}”"
    assert [(os.path.basename(f.path), f.reason) for f in window.library.failures()] == [
        (f"{MARKUP}.txt", "outside-link")]  # the link to a file outside the folder is listed, not read


def test_the_tray_tooltip_shows_folder_names_as_they_are(qtbot) -> None:
    from memex.desktop.tray import Tray

    holder = QWidget()
    qtbot.addWidget(holder)
    tray = Tray(QtGui.QIcon(), holder)
    tray.set_state(f"Indexing {DIR_NAME}, {FILE_NAME}")
    assert tip(tray.icon) == f"Memex — Indexing {DIR_NAME}, {SEEN_NAME}"
