"""A small copy of each library's list of sources, kept in Memex's own data folder.

When a library is so damaged that its sources cannot be read from it (a truncated file, a
header written over), the new library takes them from here instead, so the folders the user
kept in sync are indexed again rather than forgotten. The copy is refreshed when a library is
opened and closed; it holds only the paths and kinds of the sources, never any document text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import apsw

from ..config import user_dir
from .documents import source_paths

_FOLDER = "library-sources"
_KINDS = ("folder", "file")


def _record_path(library: Path) -> Path:
    key = hashlib.sha256(os.fsencode(str(library))).hexdigest()[:32]
    return user_dir() / _FOLDER / f"{key}.json"


def remember_sources(library: Path, sources: list[tuple[str, str]]) -> None:
    """Keep ``sources`` ((path, kind) pairs) for ``library``; written only when they changed.
    Best effort: a folder that cannot be written is no reason to fail an open or a close."""
    record = _record_path(library)
    wanted = {"library": str(library), "sources": [[p, k] for p, k in sorted(sources)]}
    with contextlib.suppress(OSError, ValueError):
        if json.loads(record.read_text(encoding="utf-8")) == wanted:
            return
    with contextlib.suppress(OSError, ValueError):
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_name(f"{record.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(wanted), encoding="utf-8")
        os.replace(tmp, record)


def recall_sources(library: Path) -> list[tuple[str, str]] | None:
    """The sources last kept for ``library``, or None when there is no usable record."""
    try:
        data = json.loads(_record_path(library).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("library") != str(library) or not isinstance(data.get("sources"), list):
        return None
    pairs = [(p, k) for p, k in (s for s in data["sources"] if isinstance(s, list) and len(s) == 2)
             if isinstance(p, str) and k in _KINDS]
    return pairs


def current_sources(conn: apsw.Connection) -> list[tuple[str, str]]:
    """(path, kind) of every source of the open library ``conn``."""
    return source_paths(conn)
