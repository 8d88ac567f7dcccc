"""The file ``Library.open`` opens: which one, checked and made ready (or set aside when
damaged, see ``store.ownership``), and marked open while a process holds it (a mark left
behind tells the next open that a process ended without closing it)."""

from __future__ import annotations

import os
from pathlib import Path

from .config import Settings, default_library_path
from .store.connection import LibraryRecovered
from .store.open_marks import clear_stale_marks, mark_open, stale_marks
from .store.ownership import library_path, prepare_library_file


def prepare_library(path: str | os.PathLike[str] | None,
                    settings: Settings) -> tuple[Path, bool, LibraryRecovered | None]:
    """(the library file, whether it opens read-only, the notice when a damaged file was set
    aside) for ``path`` (None: the settings' library, else the per-user one).

    The file is checked first (SQLite's quick_check: every table after an unclean end, else
    the header, schema and small tables; see ``library_damage``). A damaged one is moved aside
    as ``<name>.corrupt-<timestamp>`` with its -wal/-shm, never deleted; a new library takes its
    place with the old one's sources (indexed again by the next full ``Library.index``), and
    the notice says so.

    Memex writes, migrates or sets aside only files it can prove it made (see
    ``store.ownership``): anything else (a document, another program's database, an empty
    file) is refused with a LibraryError and left exactly as it was. A library on a read-only
    disk, or in a read-only file or folder, opens read-only: search and status work, writes
    are refused."""
    default = default_library_path()
    target = library_path(path if path is not None else settings.library, default)
    unclean = bool(stale_marks(target))  # a process had it open and never closed it
    # Memex's own file: the default path itself, not a link placed there to some other file.
    own = target == default.resolve() and not default.is_symlink()
    readonly, recovered = prepare_library_file(target, default=own, thorough=unclean)
    return target, readonly, recovered


def mark_in_use(target: Path) -> Path | None:
    """Mark ``target`` open by this process (marks of processes gone are removed first); the
    mark to remove on closing (None when none could be made)."""
    clear_stale_marks(target)
    return mark_open(target)
