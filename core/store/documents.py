"""Sources (folders/files the user added) and documents (one row per file on disk)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import apsw

from ..errors import LibraryError
from ..types import Document, FileError, Source
from . import members
from .in_flight import done_reading
from .sql import Row, one_int, one_row, rows


def under(root: str) -> tuple[str, str]:
    """Bounds for ``path >= lo AND path < hi``: every path strictly inside folder ``root``.
    Uses the path index and needs no LIKE escaping."""
    prefix = root.rstrip(os.sep) + os.sep
    return prefix, prefix[:-1] + chr(ord(os.sep) + 1)


# Failures tried again on every scan even when the file's size and mtime are unchanged. Making
# a file readable (chmod, chown, an ACL, or the mode of a folder above it) never changes its
# mtime, and only some of those change its ctime, so remembering st_ctime would miss cases.
# A retry that still fails costs one refused open(), so these are simply retried each time.
RETRIED_FAILURES = frozenset({"unreadable"})


@dataclass(frozen=True)
class KnownFile:
    """What the store remembers about a file, enough to tell whether it changed."""

    id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    status: str
    error_reason: str | None = None

    @property
    def retry(self) -> bool:
        """Whether to read the file again although its stat is unchanged."""
        return self.status == "error" and self.error_reason in RETRIED_FAILURES


def add_source(conn: apsw.Connection, path: str, kind: str) -> int:
    conn.execute(
        "INSERT INTO sources(path, kind, added_at) VALUES (?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET kind = excluded.kind",
        (path, kind, time.time()),
    )
    return one_int(conn, "SELECT id FROM sources WHERE path = ?", (path,))


def source_for(conn: apsw.Connection, path: str) -> int | None:
    """The id of the source that covers ``path`` (the file itself or the closest folder)."""
    best: tuple[int, int] | None = None
    for sid, spath, kind in rows(conn, "SELECT id, path, kind FROM sources"):
        covers = spath == path or (kind == "folder" and path.startswith(spath.rstrip(os.sep) + os.sep))
        if covers and (best is None or len(spath) > best[1]):
            best = (sid, len(spath))
    return best[0] if best else None


def source_root(conn: apsw.Connection, path: str) -> str | None:
    """The path of the source that covers ``path`` (see :func:`source_for`), or None."""
    source_id = source_for(conn, path)
    if source_id is None:
        return None
    return next(s.path for s in list_sources(conn) if s.id == source_id)


def list_sources(conn: apsw.Connection) -> list[Source]:
    found = rows(
        conn,
        """
        SELECT s.id, s.path, s.kind, s.added_at, s.last_indexed_at,
               (SELECT count(*) FROM documents d WHERE d.source_id = s.id AND d.status = 'ok'),
               (SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
                 WHERE d.source_id = s.id),
               (SELECT count(*) FROM documents d WHERE d.source_id = s.id AND d.status = 'error')
        FROM sources s ORDER BY s.path
        """,
    )
    return [
        Source(id=int(r[0]), path=str(r[1]), kind=str(r[2]), added_at=float(r[3]), last_indexed_at=r[4],
               documents=int(r[5]), chunks=int(r[6]), errors=int(r[7]))
        for r in found
    ]


def source_paths(conn: apsw.Connection) -> list[tuple[str, str]]:
    """(path, kind) of every source."""
    return [(str(p), str(k)) for p, k in rows(conn, "SELECT path, kind FROM sources")]


def delete_source(conn: apsw.Connection, path: str) -> None:
    conn.execute("DELETE FROM sources WHERE path = ?", (path,))


def mark_sources_indexed(conn: apsw.Connection, source_ids: Sequence[int]) -> None:
    """These sources were scanned completely just now (inside the caller's transaction)."""
    now = time.time()
    conn.executemany("UPDATE sources SET last_indexed_at = ? WHERE id = ?", [(now, int(s)) for s in source_ids])


def remove_path(conn: apsw.Connection, target: str) -> int:
    """Forget the source at ``target`` and every document only it covered (documents inside a
    source nested in it move to that one), or a single document left outside every source;
    returns how many documents went. Call inside the caller's write transaction. A path
    inside a source, or not in the library, is refused with a LibraryError."""
    row = one_row(conn, "SELECT id FROM sources WHERE path = ?", (target,))
    if row is None:
        covering = source_for(conn, target)
        if covering is not None:
            src = one_row(conn, "SELECT path FROM sources WHERE id = ?", (covering,))
            raise LibraryError(
                f"{target} is inside {src[0] if src else 'a folder'}, which Memex keeps in sync; remove that "
                "folder, or add an ignore pattern for this one.")
        orphan = find_by_path(conn, target)
        if orphan is None:
            raise LibraryError(f"{target} is not in the library.")
        delete_documents(conn, [orphan.id])
        return 1
    source_id = int(row[0])
    delete_source(conn, target)
    doomed: list[int] = []
    for doc_id, doc_path in list(rows(conn, "SELECT id, path FROM documents WHERE source_id IS NULL OR source_id = ?",
                                      (source_id,))):
        new_source = source_for(conn, doc_path)
        if new_source is None:
            doomed.append(int(doc_id))
        else:
            conn.execute("UPDATE documents SET source_id = ? WHERE id = ?", (new_source, doc_id))
    delete_documents(conn, doomed)
    return len(doomed)


def known_files(conn: apsw.Connection, root: str, is_folder: bool) -> dict[str, KnownFile]:
    """Every file's document at ``root`` (a file) or inside it (a folder). Documents inside
    files (members: messages, attachments) are not files: they follow their container."""
    cols = "id, path, size, mtime_ns, content_hash, status, error_reason"
    if is_folder:
        lo, hi = under(root)
        found = rows(conn, f"SELECT {cols} FROM documents WHERE path >= ? AND path < ? AND parent_id IS NULL",
                     (lo, hi))
    else:
        found = rows(conn, f"SELECT {cols} FROM documents WHERE path = ? AND parent_id IS NULL", (root,))
    return {str(r[1]): KnownFile(*r) for r in found}


def find_by_path(conn: apsw.Connection, path: str) -> KnownFile | None:
    row = one_row(conn, "SELECT id, path, size, mtime_ns, content_hash, status, error_reason FROM documents "
                        "WHERE path = ?", (path,))
    return KnownFile(*row) if row else None


@dataclass(frozen=True)
class DocumentRecord:
    """Everything written for one file, successful or not."""

    path: str
    kind: str
    size: int
    mtime_ns: int
    content_hash: str
    source_id: int | None
    status: str = "ok"
    title: str | None = None
    pages: int = 0
    truncated: bool = False
    error_reason: str | None = None
    error: str | None = None


def write_document(conn: apsw.Connection, rec: DocumentRecord) -> int:
    """Insert or replace the document at ``rec.path``; its old chunks (and their FTS rows and
    vectors, through triggers) go. Call inside a write transaction."""
    folder, name = os.path.split(rec.path)
    values = (rec.source_id, folder, name, rec.kind, rec.size, rec.mtime_ns, rec.content_hash,
              rec.status, rec.error_reason, rec.error, rec.title, rec.pages, int(rec.truncated),
              time.time())
    existing = one_row(conn, "SELECT id FROM documents WHERE path = ?", (rec.path,))
    if existing:
        doc_id = int(existing[0])
        conn.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        if rec.status == "error":  # what its last good read found inside it goes too
            members.clear_contents(conn, doc_id)
        conn.execute(
            """UPDATE documents SET source_id=?, folder=?, name=?, kind=?, size=?, mtime_ns=?,
               content_hash=?, status=?, error_reason=?, error=?, title=?, pages=?, truncated=?,
               indexed_at=? WHERE id=?""",
            (*values, doc_id),
        )
        return doc_id
    conn.execute(
        """INSERT INTO documents(source_id, folder, name, kind, size, mtime_ns, content_hash,
           status, error_reason, error, title, pages, truncated, indexed_at, path)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (*values, rec.path),
    )
    return int(conn.last_insert_rowid())


def touch_document(conn: apsw.Connection, doc_id: int, size: int, mtime_ns: int) -> None:
    """The file's bytes are unchanged (same hash) but its stat changed: remember the new stat."""
    conn.execute("UPDATE documents SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, doc_id))


def move_document(
    conn: apsw.Connection, doc_id: int, new_path: str, size: int, mtime_ns: int, source_id: int | None
) -> None:
    """The file with this content now lives at ``new_path``: keep its chunks and vectors, and
    take the new path's stat, so the next scan sees it unchanged instead of hashing it again.
    The documents inside it (messages, attachments) move with it."""
    old = one_row(conn, "SELECT path FROM documents WHERE id = ?", (doc_id,))
    folder, name = os.path.split(new_path)
    if old is not None:
        members.repath_members(conn, doc_id, str(old[0]), new_path, source_id, move_source=True)
    conn.execute(
        "UPDATE documents SET path=?, folder=?, name=?, size=?, mtime_ns=?, source_id=? WHERE id=?",
        (new_path, folder, name, size, mtime_ns, source_id, doc_id),
    )


def delete_documents(conn: apsw.Connection, doc_ids: list[int]) -> None:
    for doc_id in doc_ids:
        conn.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


_DOC_COLS = """d.id, d.path, d.kind, d.size, d.mtime_ns, d.content_hash, d.status, d.error,
    d.title, d.pages, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id), d.indexed_at"""


def _document(row: Row) -> Document:
    return Document(id=row[0], path=row[1], kind=row[2], size=row[3], mtime=row[4] / 1e9,
                    content_hash=row[5], status=row[6], error=row[7], title=row[8], pages=row[9],
                    chunks=row[10], indexed_at=row[11])


def get_document(conn: apsw.Connection, path: str) -> Document | None:
    row = one_row(conn, f"SELECT {_DOC_COLS} FROM documents d WHERE d.path = ?", (path,))
    return _document(row) if row else None


def get_document_by_id(conn: apsw.Connection, document_id: int) -> Document | None:
    row = one_row(conn, f"SELECT {_DOC_COLS} FROM documents d WHERE d.id = ?", (document_id,))
    return _document(row) if row else None


def list_documents(conn: apsw.Connection, limit: int = 1000) -> list[Document]:
    return [_document(r) for r in rows(conn, f"SELECT {_DOC_COLS} FROM documents d ORDER BY d.path LIMIT ?",
                                       (limit,))]


def failed_files(conn: apsw.Connection, limit: int = 1000) -> list[FileError]:
    found = rows(conn, "SELECT path, error_reason, error FROM documents WHERE status = 'error' "
                       "ORDER BY indexed_at DESC LIMIT ?", (limit,))
    return [FileError(path=str(r[0]), reason=r[1] or "failed", message=r[2] or "") for r in found]


def mark_for_retry(conn: apsw.Connection, paths: Iterable[str]) -> list[str]:
    """Make the next sync read these failed files again although they did not change (their
    stored size, date and hash no longer match the disk), and forget how many runs stopped
    while reading them. Returns the paths that were failed files (inside a write transaction)."""
    marked: list[str] = []
    for path in dict.fromkeys(paths):
        row = one_row(conn, "SELECT id FROM documents WHERE path = ? AND status = 'error'", (path,))
        if row is None:
            continue
        conn.execute("UPDATE documents SET size = -1, mtime_ns = -1, content_hash = '' WHERE id = ?", (row[0],))
        done_reading(conn, path)
        marked.append(path)
    return marked
