"""Files the scan passed over without reading them, and why (table ``skipped_files``, migration
0009): a type Memex does not read, a named pipe or device, a folder it may not open, a name the
library cannot hold, a broken link; and, skipped on purpose, hidden entries and names matching
an ignore pattern. What a scan of a folder finds replaces what was kept for that folder, so a
file that went away or became readable leaves the list; rows of a removed source go with it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

import apsw

from ..types import FileError
from .documents import under
from .sql import rows

#: Reasons for entries skipped because the settings say so: counted, but listed only on request.
ON_PURPOSE = frozenset({"hidden", "ignored"})


def replace_found(conn: apsw.Connection, path: str, whole_folder: bool, source_id: int | None,
                  found: Iterable[FileError]) -> None:
    """What a scan of ``path`` found skipped: the rows kept for ``path`` (and, when
    ``whole_folder``, everything inside it) become ``found``. Only the differences are written
    (a scan mostly finds what the last one found). Call inside a write transaction."""
    if whole_folder:
        lo, hi = under(path)
        kept_rows = rows(conn, "SELECT path, source_id, reason, message FROM skipped_files "
                               "WHERE path = ? OR (path >= ? AND path < ?)", (path, lo, hi))
    else:
        kept_rows = rows(conn, "SELECT path, source_id, reason, message FROM skipped_files WHERE path = ?", (path,))
    kept = {str(p): (sid, str(reason), str(message)) for p, sid, reason, message in kept_rows}
    wanted = {f.path: (source_id, f.reason, f.message) for f in found}
    conn.executemany("DELETE FROM skipped_files WHERE path = ?", [(p,) for p in kept if p not in wanted])
    now = time.time()
    conn.executemany(
        "INSERT INTO skipped_files(path, source_id, reason, message, seen_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET source_id = excluded.source_id, reason = excluded.reason, "
        "message = excluded.message, seen_at = excluded.seen_at",
        [(p, *values, now) for p, values in wanted.items() if kept.get(p) != values])


def forget_sources_themselves(conn: apsw.Connection) -> None:
    """A folder or file the user added as a source is indexed, even when the scan of a folder
    around it passed it over (a hidden folder added by name): it is not a skipped entry."""
    conn.execute(f"DELETE FROM skipped_files WHERE reason IN ({_ON_PURPOSE_SQL}) "
                 "AND path IN (SELECT path FROM sources)")


def skipped_files(conn: apsw.Connection, limit: int, on_purpose: bool = False) -> list[FileError]:
    """Up to ``limit`` skipped entries by path; hidden and ignored ones only with ``on_purpose``."""
    purpose = "" if on_purpose else f"WHERE reason NOT IN ({_ON_PURPOSE_SQL})"
    found = rows(conn, f"SELECT path, reason, message FROM skipped_files {purpose} ORDER BY path LIMIT ?",
                 (max(0, limit),))
    return [FileError(path=str(p), reason=str(r), message=str(m)) for p, r, m in found]


def skipped_counts(conn: apsw.Connection, roots: Sequence[str] = ()) -> dict[str, int]:
    """How many entries are kept for each reason: in the whole library, or at and under
    ``roots`` (folders or files) when given."""
    if not roots:
        found = rows(conn, "SELECT reason, count(*) FROM skipped_files GROUP BY reason")
        return {str(r): int(n) for r, n in found}
    counts: dict[str, int] = {}
    for root in _outermost(roots):
        lo, hi = under(root)
        for reason, n in rows(conn, "SELECT reason, count(*) FROM skipped_files "
                                    "WHERE path = ? OR (path >= ? AND path < ?) GROUP BY reason",
                              (root, lo, hi)):
            counts[str(reason)] = counts.get(str(reason), 0) + int(n)
    return counts


def _outermost(roots: Sequence[str]) -> list[str]:
    """``roots`` without those inside another of them (each entry is then counted once)."""
    kept: list[str] = []
    for root in sorted(set(roots)):
        if not any(root.startswith(k.rstrip(os.sep) + os.sep) for k in kept):
            kept.append(root)
    return kept


_ON_PURPOSE_SQL = ", ".join(f"'{reason}'" for reason in sorted(ON_PURPOSE))
