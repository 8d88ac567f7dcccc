"""What a person would see as broken in a laid-out window: a label cut off (its text wider or
taller than the room it has, unless shortened with "…" and a tooltip saying it in full), a
combo box or button narrower than its text, two labels drawn over each other, something
sticking out of its parent, a placeholder cut off, a window wider or taller than its screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QAbstractButton, QComboBox, QLabel, QLineEdit, QWidget

SLACK = 2  # pixels of rounding


def _name(w: QWidget) -> str:
    text = w.text() if isinstance(w, (QLabel, QAbstractButton)) else (
        w.currentText() if isinstance(w, QComboBox) else "")
    return f"{type(w).__name__}({w.objectName() or ''}:{text[:40]!r})"


def _shown(w: QWidget) -> bool:
    return w.isVisible() and w.width() > 0 and w.height() > 0


def _rect_in(w: QWidget, top: QWidget) -> QRect:
    return QRect(w.mapTo(top, w.rect().topLeft()), w.size())


def _elided_with_tip(label: QLabel) -> bool:
    return "…" in label.text() and bool(label.toolTip())


def label_problem(label: QLabel) -> str | None:
    """Why ``label`` shows less than its text (None when it shows all of it, or says "…" and
    has a tooltip)."""
    if not label.text() or _elided_with_tip(label):
        return None
    if label.pixmap() is not None and not label.pixmap().isNull():
        return None
    if label.wordWrap():
        needed = label.heightForWidth(label.width())
        if needed > label.height() + SLACK:
            return f"{_name(label)} needs {needed}px of height, has {label.height()}"
        return None
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and "<" in label.text() and ">" in label.text())
    if not rich:
        metrics = label.fontMetrics()
        margins = label.contentsMargins()
        needed = max(metrics.horizontalAdvance(line) for line in label.text().split("\n"))
        needed += margins.left() + margins.right() + 2 * max(0, label.margin())
    else:
        needed = label.sizeHint().width()
    if needed > label.width() + SLACK:
        return f"{_name(label)} needs {needed}px, has {label.width()}"
    if label.minimumSizeHint().height() > label.height() + SLACK:
        return f"{_name(label)} needs {label.minimumSizeHint().height()}px of height, has {label.height()}"
    return None


def layout_problems(window: QWidget, check_screen: bool = True) -> list[str]:
    """Every cut-off or overlapping text in ``window`` as laid out now (and, with
    ``check_screen``, a window larger than its screen)."""
    problems: list[str] = []
    screen = window.screen().availableGeometry() if window.screen() and check_screen else None
    frame = window.frameGeometry()
    if screen is not None and (frame.width() > screen.width() + SLACK or frame.height() > screen.height() + SLACK):
        problems.append(f"window {frame.width()}×{frame.height()} is larger than the screen "
                        f"{screen.width()}×{screen.height()}")
    labels = [w for w in window.findChildren(QLabel) if _shown(w)]
    for label in labels:
        problem = label_problem(label)
        if problem:
            problems.append(problem)
    for w in window.findChildren(QWidget):
        if not _shown(w):
            continue
        if (isinstance(w, (QComboBox, QAbstractButton)) and w.minimumSizeHint().width() > w.width() + SLACK
                and not (isinstance(w, QAbstractButton) and not w.text())):
            problems.append(f"{_name(w)} needs {w.minimumSizeHint().width()}px, has {w.width()}")
        if isinstance(w, QLineEdit) and w.placeholderText() and not w.text():
            room = w.width() - 2 * 14 - 2 * 22  # padding, the search and clear icons
            if w.fontMetrics().horizontalAdvance(w.placeholderText()) > room:
                problems.append(f"placeholder {w.placeholderText()!r} does not fit {w.width()}px")
        parent = w.parentWidget()
        if (parent is not None and w.isWindow() is False and isinstance(w, (QLabel, QAbstractButton, QComboBox))
                and not parent.rect().adjusted(-SLACK, -SLACK, SLACK, SLACK).contains(w.geometry())
                and not _scrolled(w)):
            problems.append(f"{_name(w)} sticks out of its parent {type(parent).__name__}")
    by_parent: dict[int, list[QLabel]] = {}
    for label in labels:
        by_parent.setdefault(id(label.parentWidget()), []).append(label)
    for group in by_parent.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if a.text() and b.text() and a.geometry().intersects(b.geometry()):
                    problems.append(f"{_name(a)} overlaps {_name(b)}")
    return problems


def _scrolled(w: QWidget) -> bool:
    """Inside a scroll area's contents or an item view (scrolled out of sight is not cut off)."""
    p = w.parentWidget()
    while p is not None:
        if p.objectName() == "qt_scrollarea_viewport":
            return True
        p = p.parentWidget()
    return False
