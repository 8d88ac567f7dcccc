"""Coalescing file-system events into batches: what is remembered of a pending path, a
file's signature (to tell a file still being written), and dropping paths inside a folder that
is itself in the batch."""

from __future__ import annotations

import os
import stat as stat_mod
from dataclasses import dataclass

Signature = tuple[int, int]  # (size, mtime_ns)


def file_signature(path: str) -> Signature | None:
    """(size, mtime_ns) of a regular file, else None (a link too: nothing behind it is looked at)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat_mod.S_ISREG(st.st_mode) else None


def collapse_nested(entries: dict[str, bool]) -> list[str]:
    """Sorted paths, without those inside a folder that is itself in the batch."""
    dirs = {p for p, is_dir in entries.items() if is_dir}

    def inside_a_dir(path: str) -> bool:
        while (parent := os.path.dirname(path)) != path:
            if parent in dirs:
                return True
            path = parent
        return False

    return sorted(p for p in entries if not (dirs and inside_a_dir(p)))


@dataclass(frozen=True)
class PendingChange:
    """A path waiting in the quiet period."""

    sig: Signature | None  # at the latest event (or check) for this path
    since: float  # first event, for the max_delay bound
    is_dir: bool
