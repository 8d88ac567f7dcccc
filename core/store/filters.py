"""Search filters (folder, file type, date) as SQL over the ``documents`` alias ``d``."""

from __future__ import annotations

import apsw

from ..types import SearchFilters
from .documents import under


def filter_sql(filters: SearchFilters | None) -> tuple[str, list[apsw.SQLiteValue]]:
    """A ``WHERE`` fragment (starting with `` AND``, or empty) and its parameters."""
    if filters is None or not filters.active:
        return "", []
    parts: list[str] = []
    params: list[apsw.SQLiteValue] = []
    if filters.folder:
        lo, hi = under(filters.folder)
        parts.append("(d.path >= ? AND d.path < ?)")
        params += [lo, hi]
    if filters.kinds:
        parts.append(f"d.kind IN ({','.join('?' * len(filters.kinds))})")
        params += list(filters.kinds)
    # A document's own date (a message's) when it has one, else the file's modification time.
    if filters.modified_after is not None:
        parts.append("coalesce(d.date * 1e9, d.mtime_ns) >= ?")
        params.append(int(filters.modified_after * 1e9))
    if filters.modified_before is not None:
        parts.append("coalesce(d.date * 1e9, d.mtime_ns) < ?")
        params.append(int(filters.modified_before * 1e9))
    return "".join(" AND " + p for p in parts), params
