"""The filters above the results: folder, type and date, the order, and "Clear filters"
(wrapping onto a second line in a narrow pane). The search panel wires them."""

from __future__ import annotations

import time

from memex.core.types import SearchFilters, Source
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from . import fmt
from .fitting import CompactCombo, FlowLayout
from .plain import tooltip_text

SORTS = (("Best match", "relevance"), ("Newest first", "date"))


class FilterBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("FilterBar")
        self.folder_filter = CompactCombo()
        self.type_filter = CompactCombo()
        self.date_filter = CompactCombo()
        self.sort_order = CompactCombo()
        for label, kinds in fmt.TYPE_FILTERS:
            self.type_filter.addItem(label, kinds)
        for label, seconds in fmt.DATE_FILTERS:
            self.date_filter.addItem(label, seconds)
        for label, order in SORTS:
            self.sort_order.addItem(label, order)
        self.sort_order.setToolTip("Order of the results")
        self.folder_filter.addItem("All folders", None)
        self.clear_filters_link = QLabel('<a href="clear">Clear filters</a>')
        self.clear_filters_link.hide()

        flow = FlowLayout(self)
        for w in (self.folder_filter, self.type_filter, self.date_filter, self.clear_filters_link):
            flow.add_widget(w)
        flow.add_widget(self.sort_order, right=True)

    def filters(self) -> SearchFilters:
        seconds = self.date_filter.currentData()
        return SearchFilters(
            folder=self.folder_filter.currentData() or None,
            kinds=tuple(self.type_filter.currentData() or ()),
            modified_after=(time.time() - seconds) if seconds else None)

    def reset(self) -> None:
        """Every filter back to "all", without signals (the caller searches again)."""
        for combo in (self.folder_filter, self.type_filter, self.date_filter):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)

    def set_folders(self, sources: list[Source]) -> bool:
        """List ``sources`` in the folder filter, keeping the folder chosen; True when the
        folder chosen is no longer a source (the filter is then back to "All folders")."""
        current = self.folder_filter.currentData()
        self.folder_filter.blockSignals(True)
        self.folder_filter.clear()
        self.folder_filter.addItem("All folders", None)
        for s in sources:
            name = fmt.file_name(s.path)
            self.folder_filter.addItem(name if len(name) <= 28 else name[:27] + "…", s.path)
            self.folder_filter.setItemData(self.folder_filter.count() - 1, tooltip_text(s.path),
                                           Qt.ItemDataRole.ToolTipRole)
        found = self.folder_filter.findData(current) if current else 0
        self.folder_filter.setCurrentIndex(max(0, found))
        self.folder_filter.blockSignals(False)
        return bool(current) and found < 0
