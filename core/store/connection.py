"""Opening the library file: apsw + sqlite-vec, verified, with the pragmas Memex relies on."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import apsw

from ..errors import LibraryError, StoreSetupError
from .caches import LibraryConnection, StoreCaches
from .sql import one_row, rows

BUSY_TIMEOUT_MS = 10_000
# After a checkpoint has copied everything back, the next writer truncates the WAL to this.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDECARS = ("-wal", "-shm", "-journal")
# Checked at every open: small tables that hold what a rebuild needs (the sources) and the
# bookkeeping. The large chunk, full-text and vector tables are walked only after an unclean
# end (see open_marks), because walking them costs seconds on a large library.
_SMALL_TABLES = frozenset({"migrations", "meta", "sources", "documents", "vector_spaces", "vector_index_state"})


# Stamped in the header (offset 68) of every library Memex makes: the proof that a file is
# Memex's to write, move aside or migrate ("MEMX"). See ownership.py.
MEMEX_APPLICATION_ID = 0x4D454D58


def open_connection(path: Path | str, *, readonly: bool = False, create: bool = True,
                    caches: StoreCaches | None = None) -> LibraryConnection:
    """Open the library at ``path`` with sqlite-vec loaded and checked (``create``: make the
    file when missing). ``readonly`` never writes anything: not the file, not a -wal/-shm
    beside it (see :func:`readonly_uri`), so it also reads libraries on read-only disks.
    ``caches``: those of the Store the connection serves (else a set of its own)."""
    if readonly:
        uri, flags = readonly_uri(Path(path)), apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI
    else:
        uri, flags = str(path), apsw.SQLITE_OPEN_READWRITE | (apsw.SQLITE_OPEN_CREATE if create else 0)
    try:
        conn = LibraryConnection(uri, flags=flags)
    except apsw.Error as exc:
        raise LibraryError(f"Cannot open the library {path}: {exc}") from exc
    conn.caches = caches if caches is not None else StoreCaches()
    try:
        conn.setbusytimeout(BUSY_TIMEOUT_MS)  # first: loading sqlite-vec already reads the file
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()  # reads the header (and -wal)
        load_vec(conn)
        if not readonly:
            _use_wal(conn)
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-32000")
    except apsw.NotADBError as exc:
        conn.close()
        raise LibraryError(f"{path} is not a Memex library (not an SQLite database).") from exc
    except apsw.CantOpenError as exc:
        conn.close()
        if readonly:
            raise LibraryError(
                f"The library {path} is read-only and its latest changes (in {Path(path).name}-wal) "
                f"cannot be read without {Path(path).name}-shm: open it once where it can be written.") from exc
        raise LibraryError(f"Cannot use the library {path}: {exc}") from exc
    except apsw.Error as exc:
        conn.close()
        raise LibraryError(f"Cannot use the library {path}: {exc}") from exc
    return conn


def readonly_uri(path: Path) -> str:
    """How to read ``path`` without writing a byte. With no WAL content beside it the file is
    opened ``immutable`` (no locks, no -shm: the only way SQLite reads a WAL-mode file in a
    folder it cannot write); otherwise ``mode=ro``, which reads the -wal through its -shm."""
    wal = Path(f"{path}-wal")
    try:
        has_wal = wal.stat().st_size > 0
    except OSError:
        has_wal = False
    return f"{file_uri(path)}?{'mode=ro' if has_wal else 'immutable=1'}"


def file_uri(path: Path) -> str:
    """An SQLite ``file:`` URI for ``path``, with an empty authority (which SQLite requires) even
    for a Windows share (``file:////server/share/…``); ``?``, ``#`` and ``%`` are escaped."""
    text = Path(path).absolute().as_posix()
    if not text.startswith("/"):
        text = "/" + text  # C:/… → /C:/…
    return "file://" + urllib.parse.quote(text, safe="/:")


def writable(path: Path) -> bool:
    """Whether Memex may write the library at ``path``: the file and its folder (for the -wal,
    -shm and open marks). False on a read-only disk, or for a read-only file or folder."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _use_wal(conn: apsw.Connection) -> None:
    """Switch the file to WAL (once per library; later opens find it so). The switch needs the
    file to itself, and SQLite answers BUSY at once, without its busy handler, while another
    process is opening the same new library: so wait for that here, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            mode = one_row(conn, "PRAGMA journal_mode")
            if mode is None or str(mode[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except apsw.BusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


@cache
def sqlite_vec_path() -> str:
    """sqlite-vec's loadable extension, found without importing the package: its import loads
    numpy, which nothing else on a bm25 search or a status needs."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is not None and spec.origin:
        folder = os.path.dirname(spec.origin)
        with contextlib.suppress(OSError):
            if any(name.startswith("vec0.") for name in os.listdir(folder)):
                return os.path.normpath(os.path.join(folder, "vec0"))
    import sqlite_vec  # a packaging that keeps the extension elsewhere: ask it

    return str(sqlite_vec.loadable_path())


def load_vec(conn: apsw.Connection) -> str:
    """Load sqlite-vec into ``conn`` and prove it answers; returns its version."""
    try:
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec_path())
        conn.enable_load_extension(False)
        row = one_row(conn, "SELECT vec_version()")
        version = row[0] if row else None
    except (apsw.Error, AttributeError) as exc:
        raise StoreSetupError(f"The sqlite-vec extension could not be loaded: {exc}") from exc
    if not version:
        raise StoreSetupError("The sqlite-vec extension loaded but did not report a version.")
    return str(version)


def has_fts5(conn: apsw.Connection) -> bool:
    row = one_row(conn, "SELECT sqlite_compileoption_used('ENABLE_FTS5')")
    return bool(row and row[0])


@contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front so a reader never upgrades
    into a deadlock, and roll back on any error (or cancellation) inside the block."""
    if conn.readonly("main"):
        raise LibraryError(
            f"The library {conn.filename} is read-only: Memex can search it but cannot change it. "
            "Make the file and its folder writable to index or remove folders.")
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextmanager
def read_snapshot(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """A consistent read across several statements (one WAL snapshot)."""
    if not conn.getautocommit():
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def checkpoint(conn: apsw.Connection) -> tuple[int, int, int]:
    """A PASSIVE checkpoint: copy what it can from the WAL without waiting for readers.
    Returns SQLite's (busy, WAL frames, frames checkpointed); a busy library is not an error."""
    try:
        row = one_row(conn, "PRAGMA wal_checkpoint(PASSIVE)")
    except apsw.BusyError:
        return (1, -1, -1)
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)


# --- damaged libraries -----------------------------------------------------------------


@dataclass(frozen=True)
class LibraryRecovered:
    """Told to the user once, after a damaged library was moved aside and a new one made.

    ``sources`` ((path, kind) pairs) are re-added to the new library, whose next full index
    reads them from disk; ``lost_sources`` is True when neither the old file nor Memex's own
    copy of its list (``source_record``) could tell them; ``from_record`` when that copy did."""

    damaged: str  # what was wrong, in SQLite's words
    moved_to: Path
    sources: tuple[tuple[str, str], ...]
    lost_sources: bool
    from_record: bool = False

    @property
    def message(self) -> str:
        head = (f"The library was damaged ({self.damaged}), so Memex set it aside as "
                f"{self.moved_to.name} and started a new one.")
        if self.lost_sources:
            return head + " Its list of folders could not be read: add your folders again."
        if self.from_record:
            head += " Its list of folders was taken from Memex's own copy."
        if not self.sources:
            return head + " It held no folders."
        count = len(self.sources)
        if all(kind == "folder" for _, kind in self.sources):
            what = "folder" if count == 1 else "folders"
        else:
            what = "folders and files"
        return head + f" The {count} {what} it kept in sync will be indexed again."

    def __str__(self) -> str:
        return self.message


def library_damage(path: Path, *, thorough: bool = True) -> str | None:
    """What is wrong with the library file at ``path`` (``PRAGMA quick_check``), or None
    when it is sound, missing or empty. Locks and missing permissions are not damage: they
    raise (or are left to the normal open to report).

    ``thorough`` walks every table's b-tree; otherwise only the header, the schema and the
    small tables are checked (milliseconds instead of seconds)."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    try:  # read-only: closing it must not checkpoint the WAL into a damaged file
        conn = apsw.Connection(readonly_uri(path), flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    except apsw.CantOpenError:
        return None  # permissions and the like: the normal open says what is wrong
    try:
        conn.setbusytimeout(BUSY_TIMEOUT_MS)
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()  # reads the header first
        load_vec(conn)  # the schema names the virtual tables' modules
        problems = _check_tables(conn, thorough)
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        return _first_line(exc)
    except (apsw.BusyError, apsw.CantOpenError):
        return None  # in use by another process, or unreadable: the normal open says what is wrong
    finally:
        conn.close()
    return "; ".join(problems[:3]) if problems else None


def _check_tables(conn: apsw.Connection, thorough: bool) -> list[str]:
    """``PRAGMA quick_check(table)`` for each ordinary table (and its indexes). A plain
    ``quick_check`` also runs FTS5's own consistency check, which rebuilds the whole full-text
    index in memory (~10 s for 200,000 chunks); that is left to ``memex doctor``. The FTS5
    shadow tables, where its data lives, are ordinary tables and are walked here."""
    names = [str(r[0]) for r in conn.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' "
        "ORDER BY name")]
    problems: list[str] = []
    for name in names:
        if not thorough and name not in _SMALL_TABLES:
            continue
        quoted = name.replace("'", "''")
        problems += [str(r[0]) for r in conn.execute(f"PRAGMA quick_check('{quoted}')") if r and r[0] != "ok"]
        if len(problems) >= 3:
            break
    return problems


def looks_like_library(path: Path) -> bool:
    """Whether a damaged file may be moved aside: it starts like an SQLite file, or has WAL
    sidecars. Anything else (a document given as the library by mistake) is left alone."""
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        if fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC:
            return True
    return any(Path(f"{path}{s}").exists() for s in _SIDECARS)


def read_sources(path: Path) -> list[tuple[str, str]] | None:
    """(path, kind) of every source recorded in a (possibly damaged) library, or None when
    they cannot be read. Opens the file read-only, so it is left exactly as it is."""
    try:
        conn = apsw.Connection(readonly_uri(path), flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
    except apsw.Error:
        return None
    try:
        found = list(rows(conn, "SELECT path, kind FROM sources"))
        return [(str(p), str(k)) for p, k in found if k in ("folder", "file")]
    except apsw.Error:
        return None
    finally:
        conn.close()


def move_aside(path: Path) -> Path:
    """Rename the library and its -wal/-shm to ``<name>.corrupt-<timestamp>`` (never deleted).
    The sidecars keep their suffixes, so the set still opens as one database."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    for suffix in _SIDECARS:  # sidecars first: a crash in between leaves no orphaned WAL
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{target}{suffix}")
    os.replace(path, target)
    return target


def recover_damaged(path: Path, *, ours: bool = False, thorough: bool = True) -> LibraryRecovered | None:
    """If the library at ``path`` is damaged, read its sources, move it aside and say so;
    None when it is sound (or absent). ``ours``: the path is the configured library (not one
    typed on a command line), so even a file that no longer starts like SQLite is Memex's.
    Otherwise a damaged file that does not look like a library is refused, not moved (a
    document picked as the library by mistake stays put). ``thorough``: see
    :func:`library_damage`."""
    damage = library_damage(path, thorough=thorough)
    if damage is None:
        return None
    if not ours and not looks_like_library(path):
        raise LibraryError(f"{path} is not a Memex library ({damage}).")
    sources = read_sources(path)
    try:
        moved = move_aside(path)
    except OSError as exc:
        raise LibraryError(f"The library {path} is damaged ({damage}) and could not be moved "
                           f"aside: {exc.strerror or exc}") from exc
    return LibraryRecovered(damage, moved, tuple(sources or ()), sources is None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
