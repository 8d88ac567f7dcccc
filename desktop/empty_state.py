"""A centred message with an icon, a title, a line or two of help and an optional button —
what the window shows instead of an empty list.

The title is plain text (it may quote the query); the body is rich text the program writes
(links, bold keys); outside text for the body — an error naming a file — goes in ``detail``,
which is escaped."""

from __future__ import annotations

import re
from html import unescape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from .plain import escaped, make_plain

MAX_TEXT_WIDTH = 470


class EmptyState(QWidget):
    button_clicked = Signal()
    link_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAutoFillBackground(False)
        # Explicit, small: a long message wrapped in a narrow pane must not make the window
        # taller or wider than the screen (it is cut instead; the window can be made larger).
        self.setMinimumSize(120, 120)
        self._icon_wanted = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 40, 40, 40)
        layout.setSpacing(10)
        layout.addStretch(2)
        self.icon = QLabel(objectName="EmptyIcon", alignment=Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel(objectName="EmptyTitle", alignment=Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        make_plain(self.title)
        self.body = QLabel(objectName="EmptyBody", alignment=Qt.AlignmentFlag.AlignCenter)
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Minimum)
        self.body.linkActivated.connect(self.link_clicked)
        self.button = QPushButton(objectName="Primary")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self.button_clicked)
        layout.addWidget(self.icon)
        layout.addWidget(self.title, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.body, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(6)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """The texts as wide as there is room for and as tall as their wrapped lines (a layout
        that centres them would not ask); the icon left out where the pane is too short."""
        width = max(160, min(MAX_TEXT_WIDTH, self.width() - 80))
        for label in (self.title, self.body):
            label.setFixedWidth(width)
            label.ensurePolished()
            label.setFixedHeight(label.heightForWidth(width) if label.text() else 0)
        spacing = self.layout().spacing()
        needed = self.title.height() + self.body.height() + 80 + 3 * spacing
        if not self.button.isHidden():
            needed += self.button.sizeHint().height() + 6
        icon = self.icon.pixmap()
        wanted_icon = self._icon_wanted and icon is not None and not icon.isNull()
        self.icon.setVisible(wanted_icon and needed + self.icon.sizeHint().height() + spacing <= self.height())

    def show_message(self, title: str, body: str = "", *, detail: str = "", button: str | None = None,
                     icon: QPixmap | None = None) -> None:
        """``title`` and ``detail`` are shown literally; ``body`` is the program's own rich text."""
        if detail:
            body = f"{body}<br>{escaped(detail)}" if body else escaped(detail)
        self.title.setText(title)
        self.body.setText(body)
        self.body.setVisible(bool(body))
        self.button.setText(button or "")
        self.button.setVisible(bool(button))
        self._icon_wanted = icon is not None and not icon.isNull()
        if icon is not None and self._icon_wanted:
            self.icon.setPixmap(icon)
        self.icon.setVisible(self._icon_wanted)
        self._fit()

    def text(self) -> str:
        """Title and body as plain text (for tests and accessibility)."""
        body = self.body.text()
        return f"{self.title.text()}\n{unescape(re.sub(r'<[^>]+>', '', body))}".strip()
