"""Which files Memex may write: only those it can prove it made.

A library Memex makes carries Memex's SQLite application id in its header (see
``MEMEX_APPLICATION_ID``); libraries made before the id existed are recognised by Memex's own
tables and migration rows, and get the id stamped by ``migrate``. Anything else offered as a
library (a document, another program's database, an empty file) is refused with a one-line
reason and left byte for byte as it was: the checks here only read, with plain file reads and
``immutable`` SQLite reads that take no locks and leave no -wal/-shm behind.

Memex's own data folder is the exception: the default library there is Memex's whatever it now
holds, so a damaged one (even one that no longer looks like SQLite) is set aside and replaced,
and an empty one is filled.

A new library is built beside its path under a temporary name and linked into place only if
nothing is there yet, so it never exists half-made and any number of processes may create the
same library at once (the first link wins; the others use it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from dataclasses import replace
from enum import Enum
from pathlib import Path

import apsw

from ..errors import LibraryError
from .connection import (
    MEMEX_APPLICATION_ID,
    SQLITE_MAGIC,
    LibraryRecovered,
    file_uri,
    library_damage,
    open_connection,
    recover_damaged,
    writable,
)
from .migrations import migrate
from .open_marks import running
from .source_record import recall_sources

# Tables every Memex library has had since its first migration.
_MEMEX_TABLES = frozenset({"migrations", "meta", "sources", "documents", "chunks", "vector_spaces"})
_HEADER_SIZE = 100
_NEW_INFIX = ".new-"


class Claim(Enum):
    ABSENT = "absent"  # nothing there: Memex may create the library
    EMPTY = "empty"  # the default library, 0 bytes: Memex fills it
    OURS = "ours"  # made by Memex (perhaps damaged): Memex may open, migrate, set aside


def claim(path: Path, *, default: bool) -> Claim:
    """Whether the file at ``path`` is Memex's to use; raises LibraryError (saying why) for
    anything Memex cannot prove it made. ``default``: the path is the library in Memex's own
    data folder. Reads only."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Claim.ABSENT
    except OSError as exc:
        raise LibraryError(f"Cannot read the library {path}: {exc.strerror or exc}.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise LibraryError(f"{path} is a folder; give the path of a library file.")
    if not stat.S_ISREG(info.st_mode):
        raise LibraryError(f"{path} is not a regular file, so it is not a Memex library.")
    if info.st_size == 0:
        if default:
            return Claim.EMPTY
        raise LibraryError(f"{path} is an empty file that Memex did not make, so Memex leaves it alone; "
                           "delete it (or choose another path) to start a new library there.")
    try:
        with open(path, "rb") as fh:
            header = fh.read(_HEADER_SIZE)
    except OSError as exc:
        raise LibraryError(f"Cannot read the library {path}: {exc.strerror or exc}.") from exc
    damaged_here = default  # in Memex's own folder, a file that is not sound SQLite is a damaged library
    if not header.startswith(SQLITE_MAGIC) or len(header) < _HEADER_SIZE:
        if damaged_here:
            return Claim.OURS  # the open finds the damage, sets the file aside and says so
        what = "not an SQLite database" if not header.startswith(SQLITE_MAGIC) else "a truncated SQLite file"
        raise LibraryError(f"{path} is not a Memex library ({what}); Memex leaves it as it is.")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id == MEMEX_APPLICATION_ID:
        return Claim.OURS
    if app_id != 0:
        raise LibraryError(f"{path} is another program's database (SQLite application id {app_id:#010x}), "
                           "not a Memex library; Memex leaves it as it is.")
    problem = _not_an_early_library(path)
    if problem is None or (damaged_here and problem in (_EMPTY_DB, _UNREADABLE)):
        return Claim.OURS
    raise LibraryError(f"{path} is not a Memex library ({problem}); Memex leaves it as it is.")


_EMPTY_DB = "an empty SQLite database that Memex did not make"
_UNREADABLE = "it cannot be read as a database"


def _not_an_early_library(path: Path) -> str | None:
    """None when ``path`` holds the tables and first migration of a library made before Memex
    stamped its application id; else what it holds instead. An ``immutable`` read: no lock,
    no sidecar, nothing written."""
    uri = f"{file_uri(path)}?immutable=1"
    try:
        conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    except apsw.Error:
        return _UNREADABLE
    try:
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if not tables:
            return _EMPTY_DB
        if not tables >= _MEMEX_TABLES:
            return "an SQLite database without Memex's tables"
        row = conn.execute("SELECT 1 FROM migrations WHERE name = '0001_initial'").fetchone()
        return None if row is not None else "an SQLite database without Memex's migrations"
    except apsw.Error:
        return _UNREADABLE
    finally:
        conn.close()


def create_library(path: Path) -> None:
    """Make a new, empty library at ``path`` unless one appears there first (then that one is
    used). Built beside ``path`` under a temporary name and linked into place in one step."""
    folder = path.parent
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # folders to remove on failure
    draft = path.with_name(f"{path.name}{_NEW_INFIX}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise LibraryError(f"Cannot create the library {path}: the folder {folder} is read-only.")
        _clear_stale_drafts(path)
        conn = open_connection(draft)
        try:
            migrate(conn)
        finally:
            conn.close()  # the last connection folds its WAL in and removes the -wal/-shm
        _publish(draft, path)
    except BaseException as exc:
        _remove_with_sidecars(draft)
        if not path.exists():
            for empty in made:  # deepest first
                with contextlib.suppress(OSError):
                    empty.rmdir()
        if isinstance(exc, OSError):
            raise LibraryError(f"Cannot create the library {path}: {exc.strerror or exc}.") from exc
        if isinstance(exc, LibraryError) and str(draft) in str(exc):  # say it of the library, not the draft
            reason = str(exc.__cause__ or exc).replace(str(draft), "its draft")
            raise LibraryError(f"Cannot create the library {path}: {reason}.") from exc
        raise
    _remove_with_sidecars(draft)


def _publish(draft: Path, path: Path) -> None:
    """Put the finished ``draft`` at ``path`` unless something is there already."""
    try:
        os.link(draft, path)
        return
    except FileExistsError:
        return  # another process made the library first: it is used as it is
    except OSError:
        pass  # no hard links on this disk (FAT, some network shares): copy into a new file
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out, open(draft, "rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())


def _remove_with_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal", ""):
        with contextlib.suppress(OSError):
            os.unlink(f"{path}{suffix}")


def _clear_stale_drafts(path: Path) -> None:
    """Drafts left by processes that died while making a library at ``path``."""
    prefix = f"{path.name}{_NEW_INFIX}"
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for e in entries if e.name.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid, _, token = name[len(prefix):].partition("-")
        token = token.split("-")[0]
        if pid.isdigit() and len(token) == 8 and not running(int(pid)):
            _remove_with_sidecars(path.with_name(f"{prefix}{pid}-{token}"))


def library_path(raw: object, default: Path) -> Path:
    """The absolute path of the library named by ``raw`` (a command-line or settings value;
    None: ``default``). A path the library cannot be opened at (not valid UTF-8 text, a NUL
    character, not text at all) is refused with one line, before anything is written."""
    if raw is None or raw == "":
        raw = default
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not isinstance(raw, str | os.PathLike):
        raise LibraryError(f"The library path {raw!r} is not a path; give the path of a library file.")
    text = os.fspath(raw)
    shown = os.fsencode(text).decode("utf-8", "replace") if isinstance(text, str) else repr(text)
    try:
        text.encode("utf-8")
    except (UnicodeEncodeError, AttributeError) as exc:
        raise LibraryError(f"The library path {shown} is not valid UTF-8 text; rename it or choose "
                           "another path.") from exc
    if "\0" in text:
        raise LibraryError(f"The library path {shown!r} holds a NUL character; choose another path.")
    try:
        return Path(text).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise LibraryError(f"The library path {shown} cannot be used: {exc}.") from exc


def prepare_library_file(path: Path, *, default: bool, thorough: bool) -> tuple[bool, LibraryRecovered | None]:
    """Make ``path`` ready to open, or refuse it: a file Memex cannot prove it made is left as
    it is (LibraryError); a missing one is created; a damaged one of Memex's is set aside and
    replaced (the notice comes back). Returns (read-only, notice). A library Memex may not
    write is opened read-only: checked, never repaired."""
    state = claim(path, default=default)
    if state is Claim.ABSENT:
        create_library(path)
    if not writable(path):
        damage = library_damage(path, thorough=thorough)
        if damage is not None:
            raise LibraryError(f"The library {path} is damaged ({damage}) and read-only, so Memex cannot "
                               "set it aside; copy it somewhere writable or make its folder writable.")
        return True, None
    recovered = recover_damaged(path, ours=True, thorough=thorough)
    if recovered is not None:
        kept = recall_sources(path) if recovered.lost_sources else None
        if kept is not None:
            recovered = replace(recovered, sources=tuple(kept), lost_sources=False, from_record=True)
        create_library(path)
    return False, recovered
