"""Widgets that fit the room they get instead of asking for more: a layout that wraps its
widgets onto the next line, a label that shortens its text with "…" (saying it in full in
its tooltip), and a combo box as wide as the choice it shows. None of them makes the window
wider when its text changes."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLayout,
    QLayoutItem,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QWidget,
)

from .plain import set_tooltip


class FlowLayout(QLayout):
    """Widgets side by side, wrapping onto the next line where the row is full (taller, never
    wider). Items added with ``add_widget(w, right=True)`` are pushed to the right of their line."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 8) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._right: set[int] = set()
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def add_widget(self, widget: QWidget, right: bool = False) -> None:
        self.addWidget(widget)
        if right:
            self._right.add(id(widget))

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        width = sum(i.sizeHint().width() + self._spacing for i in self._visible())
        return QSize(width, self.heightForWidth(max(1, width)))

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if i.widget() is None or not i.widget().isHidden()]

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in lines within ``rect``; returns the height they take."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        lines: list[list[QLayoutItem]] = [[]]
        used = 0
        for item in self._visible():
            width = min(_hint(item).width(), area.width())
            if lines[-1] and used + self._spacing + width > area.width():
                lines.append([])
                used = 0
            used += (self._spacing if lines[-1] else 0) + width
            lines[-1].append(item)
        y = area.y()
        for line in lines:
            height = max((i.sizeHint().height() for i in line), default=0)
            if move:
                self._place_line(line, area, y, height)
            y += height + self._spacing
        return y - self._spacing - rect.y() + margins.bottom() if lines[0] else margins.top() + margins.bottom()

    def _place_line(self, line: list[QLayoutItem], area: QRect, y: int, height: int) -> None:
        left = [i for i in line if i.widget() is None or id(i.widget()) not in self._right]
        right = [i for i in line if i not in left]
        x = area.x()
        for item in left:
            width = min(_hint(item).width(), area.right() - x + 1)
            item.setGeometry(QRect(QPoint(x, y + (height - _hint(item).height()) // 2),
                                   QSize(width, _hint(item).height())))
            x += width + self._spacing
        x_right = area.right() + 1
        for item in reversed(right):
            width = min(_hint(item).width(), max(0, x_right - x))
            x_right -= width
            item.setGeometry(QRect(QPoint(x_right, y + (height - _hint(item).height()) // 2),
                                   QSize(width, _hint(item).height())))
            x_right -= self._spacing


class ElidedLabel(QLabel):
    """A one-line plain-text label that shows as much of its text as fits, ending in "…" and
    saying it all in its tooltip when shortened. It asks for its whole text's width but
    accepts any width (it never widens the window)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
                 parent: QWidget | None = None, **kwargs) -> None:
        super().__init__(parent, **kwargs)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._mode = mode
        self._full = ""
        self._tip = ""
        self.set_full_text(text)

    def set_full_text(self, text: str, tooltip: str = "") -> None:
        """Show ``text`` (shortened to fit); ``tooltip`` is shown on hover, or the full text
        when it had to be shortened."""
        if text == self._full and tooltip == self._tip:
            return
        self._full, self._tip = text, tooltip
        self.updateGeometry()
        parent = self.parentWidget()
        if parent is not None and parent.layout() is not None and self.isVisibleTo(parent):
            parent.layout().activate()  # the row takes the new width now, not at the next paint
        self._elide()

    def full_text(self) -> str:
        return self._full

    def sizeHint(self) -> QSize:  # noqa: N802
        self.ensurePolished()
        margins = self.contentsMargins()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 2 + margins.left() + margins.right(),
                     self.fontMetrics().height() + margins.top() + margins.bottom())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self.sizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        margins = self.contentsMargins()
        room = self.width() - margins.left() - margins.right()
        shown = self.fontMetrics().elidedText(self._full, self._mode, room) if self._full else ""
        if shown != self.text():
            super().setText(shown)
        shortened = shown != self._full
        set_tooltip(self, self._full if shortened and not self._tip else self._tip)


class CompactCombo(QComboBox):
    """A combo box as wide as the choice it shows (its list still shows every choice in full),
    so a row of them fits a narrow pane."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContentsOnFirstShow)
        self.currentIndexChanged.connect(lambda _i: self.updateGeometry())

    def sizeHint(self) -> QSize:  # noqa: N802
        self.ensurePolished()
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        text = QSize(self.fontMetrics().horizontalAdvance(self.currentText()) + 4, self.fontMetrics().height())
        size = self.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, option, text, self)
        return size.expandedTo(QSize(0, super().sizeHint().height()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def showPopup(self) -> None:  # noqa: N802
        widest = max((self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())),
                     default=0)
        self.view().setMinimumWidth(widest + 40)
        super().showPopup()


def _hint(item: QLayoutItem) -> QSize:
    """The item's size hint asked of its widget now (a layout item keeps an old one until the
    widget itself says its geometry changed, which a box whose label grew does not)."""
    widget = item.widget()
    return widget.sizeHint().expandedTo(widget.minimumSizeHint()) if widget is not None else item.sizeHint()
