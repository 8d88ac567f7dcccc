"""Showing text that comes from outside — file and folder names, document text, error messages
that quote paths, model names — exactly as it is.

Qt guesses whether a string is HTML: a QLabel (AutoText by default), a QMessageBox's texts and
every tooltip (``Qt::mightBeRichText``) take a file named ``<b>x</b>.pdf`` or
``a<img src=...>.txt`` as markup, so the name shows as something else, images load, links open.
Everything the window shows that it did not write itself goes through one of these helpers:
labels and message boxes are made plain text, tooltips are escaped and marked as rich text so
the escaped form is what gets rendered, and rich text the program composes escapes what it quotes.
"""

from __future__ import annotations

import html

from memex.core.display_text import safe
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget


def plain_label(text: str = "", parent: QWidget | None = None, **kwargs) -> QLabel:
    """A QLabel that shows its text literally, whatever it looks like."""
    label = QLabel(parent, **kwargs)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def make_plain(*labels: QLabel) -> None:
    """Make existing labels show their text literally."""
    for label in labels:
        label.setTextFormat(Qt.TextFormat.PlainText)


def escaped(text: str) -> str:
    """``text`` to be quoted inside rich text the program composes: markup escaped, control and
    bidi characters shown as escapes (see ``memex.core.display_text``), line breaks kept."""
    lines = "\n".join(safe(line) for line in text.split("\n"))
    return html.escape(lines, quote=False).replace("\n", "<br>")


def tooltip_text(text: str) -> str:
    """A tooltip showing ``text`` literally: Qt renders any tooltip that looks like HTML as
    HTML, so this one is HTML — escaped, spaces and line breaks kept, long lines wrapped."""
    if not text:
        return ""
    return f"<p style='white-space:pre-wrap'>{escaped(text)}</p>"


def set_tooltip(widget, text: str) -> None:
    """``widget.setToolTip`` for outside text (widgets, actions and item-view items alike)."""
    widget.setToolTip(tooltip_text(text))


def plain_message_box(icon: QMessageBox.Icon, title: str, text: str, informative: str = "",
                      buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
                      parent: QWidget | None = None) -> QMessageBox:
    """A QMessageBox whose text and informative text are shown literally."""
    box = QMessageBox(icon, title, "", buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    for label in box.findChildren(QLabel):  # older Qt leaves the informative label on AutoText
        if label.objectName() in ("qt_msgbox_label", "qt_msgbox_informativelabel"):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setOpenExternalLinks(False)
    return box
