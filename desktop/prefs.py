"""Window-only preferences (tray, geometry, splitter sizes, the last query and order) in ``window.ini`` beside
``settings.json`` — the engine's settings stay in ``core.config.Settings``."""

from __future__ import annotations

from memex.core.config import config_dir
from PySide6.QtCore import QByteArray, QSettings


class Prefs:
    def __init__(self) -> None:
        self._s = QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)

    @property
    def minimise_to_tray(self) -> bool:
        return self._bool("tray/minimise_to_tray", False)

    @minimise_to_tray.setter
    def minimise_to_tray(self, value: bool) -> None:
        self._s.setValue("tray/minimise_to_tray", bool(value))

    def geometry(self, name: str) -> QByteArray | None:
        value = self._s.value(f"window/{name}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, name: str, value: QByteArray) -> None:
        self._s.setValue(f"window/{name}", value)

    @property
    def last_query(self) -> str:
        value = self._s.value("search/last_query", "")
        return value if isinstance(value, str) else ""

    @last_query.setter
    def last_query(self, value: str) -> None:
        self._s.setValue("search/last_query", value)

    @property
    def sort_order(self) -> str:
        value = self._s.value("search/order", "relevance")
        return value if value in ("relevance", "date") else "relevance"

    @sort_order.setter
    def sort_order(self, value: str) -> None:
        self._s.setValue("search/order", value)

    def sync(self) -> None:
        self._s.sync()

    def _bool(self, key: str, default: bool) -> bool:
        value = self._s.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)
