"""The failed-files dialog also lists the files Memex did not read at all (types it does not
read, pipes, folders it may not open), so a person can tell that some files were never read."""

from __future__ import annotations

import os
from pathlib import Path

from docgen import make_broken_pdf
from gui_helpers import wait_idle
from memex.core.types import FileError


def rows(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_files_not_read_are_listed_under_the_failures(qtbot, tmp_path: Path):
    from memex.desktop.failures_dialog import FailuresDialog

    broken, odd, pipe = tmp_path / "broken.pdf", tmp_path / "model.stl", tmp_path / "pipe"
    broken.write_bytes(b"%PDF-1.7 garbage")
    odd.write_bytes(b"\x00solid")
    os.mkfifo(pipe)
    skipped = [FileError(str(odd), "unsupported", "This type of file is not supported (.stl)"),
               FileError(str(pipe), "not-a-file", "Not a regular file (a named pipe): there is nothing to read")]
    dialog = FailuresDialog([FileError(str(broken), "corrupt", "not a PDF")], skipped=skipped)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.skipped_heading.isVisible() and dialog.table.isVisible()
    assert dialog.skipped_heading.text() == "2 files not read: 1 of types Memex does not read, 1 not a regular file"
    assert [r[0] for r in rows(dialog.skipped_table)] == ["model.stl", "pipe"]
    assert rows(dialog.skipped_table)[0][2] == "This type of file is not supported (.stl)"
    assert "Memex reads PDFs" in dialog.skipped_table.item(0, 2).toolTip()
    assert dialog.selected_path() == str(broken) and dialog.retry_button.isEnabled()

    dialog.skipped_table.selectRow(0)  # a file not read: shown in its folder, not tried again
    assert dialog.selected_path() == str(odd) and not dialog.table.selectionModel().selectedRows()
    assert dialog.open_button.isEnabled() and not dialog.retry_button.isEnabled()
    with qtbot.waitSignal(dialog.reveal_requested) as shown:
        dialog.reveal_button.click()
    assert shown.args == [str(odd)]
    dialog.table.selectRow(0)
    assert dialog.selected_path() == str(broken) and not dialog.skipped_table.selectionModel().selectedRows()


def test_only_files_not_read(qtbot, tmp_path: Path):
    from memex.desktop.failures_dialog import FailuresDialog

    skipped = [FileError(str(tmp_path / f"part{i}.xyz"), "unsupported", "This type of file is not supported (.xyz)")
               for i in range(2)]
    dialog = FailuresDialog([], skipped=skipped)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.skipped_heading.text() == "2 files not read (types Memex does not read)"
    assert not dialog.table.isVisible() and not dialog.intro.isVisible()
    assert dialog.windowTitle() == "2 files Memex did not read"
    assert dialog.selected_path() == str(tmp_path / "part0.xyz")
    assert not dialog.retry_all_button.isEnabled()


def test_nothing_skipped_shows_no_second_list(qtbot):
    from memex.desktop.failures_dialog import FailuresDialog

    dialog = FailuresDialog([FileError("/gone/a.pdf", "corrupt", "damaged")], skipped=[])
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.skipped_heading.isVisible() and not dialog.skipped_table.isVisible()


def test_the_window_shows_the_files_it_did_not_read(qtbot, make_window, corpus: Path):
    make_broken_pdf(corpus / "broken.pdf")
    (corpus / "scan.raw").write_bytes(b"\x00\x01" * 100)
    (corpus / "kitchen" / "oven.dat").write_bytes(b"\x00\xff" * 100)
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    window.show_failures()
    qtbot.waitUntil(lambda: getattr(window, "failures_dialog", None) is not None)
    dialog = window.failures_dialog
    qtbot.waitUntil(lambda: dialog.skipped_table.rowCount() == 2)
    assert dialog.skipped_heading.text() == "2 files not read (types Memex does not read)"
    assert sorted(r[0] for r in rows(dialog.skipped_table)) == ["oven.dat", "scan.raw"]
    assert [r[0] for r in rows(dialog.table)] == ["broken.pdf"]
    dialog.reject()


def test_a_message_that_failed_inside_a_mailbox_can_be_tried_again(qtbot, tmp_path):
    """A message's path goes on below its mailbox's, so it is not on disk itself; it can still
    be tried again (and opened) while the mailbox is there, unlike a file that is gone."""
    from memex.desktop.failures_dialog import FailuresDialog

    box = tmp_path / "Inbox.mbox"
    box.write_bytes(b"From a@b Tue Mar  3 09:30:00 2026\nSubject: x\n\nbody\n")
    message = f"{box}/0"
    gone = str(tmp_path / "gone.pdf")
    dialog = FailuresDialog([FileError(message, "timeout", "Reading this message stopped Memex's reader"),
                             FileError(gone, "corrupt", "damaged")], skipped=[])
    qtbot.addWidget(dialog)
    asked: list[list[str]] = []
    dialog.retry_requested.connect(asked.append)
    dialog.table.selectRow(0)
    assert dialog.retry_button.isEnabled() and dialog.open_button.isEnabled()
    dialog.table.selectRow(1)
    assert not dialog.retry_button.isEnabled()
    dialog.retry_all_button.click()
    assert asked == [[message]]
