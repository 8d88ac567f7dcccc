"""What opening the library had to do, told once when the window gets it: a damaged library
set aside and replaced (its folders to be indexed again, or lost), or a library Memex may
only read."""

from __future__ import annotations

from memex.core.library import Library
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from .plain import plain_message_box


def readonly_message(library: Library) -> str:
    return (f"The library {library.path} is read-only: you can search it, but Memex cannot add, "
            "index or remove folders there.")


def show_library_notices(parent: QWidget, status, library: Library) -> QMessageBox | None:
    """Show the open's notices: a message box (not blocking: the window keeps working) for a
    recovered library, a lasting line in ``status`` for both kinds. Returns the box shown."""
    if library.readonly:
        status.show_message(readonly_message(library), sticky=True)
    notice = library.recovered
    if notice is None:
        return None
    status.show_message(notice.message, error=True, sticky=True)
    box = plain_message_box(QMessageBox.Icon.Warning, "Memex set a damaged library aside", notice.message,
                            f"The damaged file was kept as {notice.moved_to}.", QMessageBox.StandardButton.Ok,
                            parent)  # both name files: shown as they are, never as markup
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
