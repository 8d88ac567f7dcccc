"""Pages read by OCR: which wait, what was read on each (text, words with their boxes), which
failed; and the chunks of a page read, written like any other chunk (the full-text, word and
CJK indexes follow by trigger, vectors from the ``embedded = 0`` backlog)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from ..types import ChunkSpan, FileError, OcrPage, OcrWord
from .sql import in_batches, one_row, rows

STATES = ("waiting", "done", "failed")


@dataclass(frozen=True)
class WaitingPage:
    """A page waiting for OCR, with what its document's row says about the file."""

    document_id: int
    page: int
    path: str
    kind: str
    size: int
    mtime_ns: int
    content_hash: str
    attempts: int


@dataclass(frozen=True)
class OcrCounts:
    waiting: int = 0
    done: int = 0
    failed: int = 0


def record_waiting(conn: apsw.Connection, document_id: int, pages: Sequence[int]) -> None:
    """The pages of a document just written that wait for OCR; whatever was recorded for an
    earlier version goes (inside the caller's write transaction)."""
    conn.execute("DELETE FROM ocr_pages WHERE document_id = ?", (document_id,))
    conn.executemany("INSERT OR IGNORE INTO ocr_pages(document_id, page) VALUES (?, ?)",
                     [(document_id, int(p)) for p in pages if int(p) >= 1])


def next_waiting(conn: apsw.Connection, limit: int, skip: Sequence[tuple[int, int]] = ()) -> list[WaitingPage]:
    """Up to ``limit`` waiting pages, the newest files first (what the user most likely looks
    for), each file's pages in order; pages in ``skip`` ((document id, page)) are left out."""
    skipped = set(skip)
    found = rows(conn, """
        SELECT o.document_id, o.page, d.path, d.kind, d.size, d.mtime_ns, d.content_hash, o.attempts
        FROM ocr_pages o JOIN documents d ON d.id = o.document_id
        WHERE o.state = 'waiting' AND d.status = 'ok'
        ORDER BY d.mtime_ns DESC, o.document_id, o.page LIMIT ?""", (limit + len(skipped),))
    pages = [WaitingPage(int(r[0]), int(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), str(r[6]), int(r[7]))
             for r in found]
    return [p for p in pages if (p.document_id, p.page) not in skipped][:limit]


def note_attempt(conn: apsw.Connection, page: WaitingPage) -> int:
    """Count one more try at reading ``page`` (before it is read, so a run that dies while
    reading it is remembered); returns the tries so far, this one included."""
    conn.execute("UPDATE ocr_pages SET attempts = attempts + 1 WHERE document_id = ? AND page = ? "
                 "AND state = 'waiting'", (page.document_id, page.page))
    row = one_row(conn, "SELECT attempts FROM ocr_pages WHERE document_id = ? AND page = ?",
                  (page.document_id, page.page))
    return int(row[0]) if row else 0


def forget_attempt(conn: apsw.Connection, page: WaitingPage) -> None:
    """The try was stopped by the user, not by the page: it does not count."""
    conn.execute("UPDATE ocr_pages SET attempts = max(0, attempts - 1) WHERE document_id = ? AND page = ? "
                 "AND state = 'waiting'", (page.document_id, page.page))


def still_waiting(conn: apsw.Connection, page: WaitingPage) -> bool:
    """Whether ``page`` still waits on the same version of its document."""
    row = one_row(conn, """
        SELECT 1 FROM ocr_pages o JOIN documents d ON d.id = o.document_id
        WHERE o.document_id = ? AND o.page = ? AND o.state = 'waiting'
          AND d.content_hash = ? AND d.status = 'ok'""",
                  (page.document_id, page.page, page.content_hash))
    return row is not None


def page_has_text(conn: apsw.Connection, document_id: int, page: int) -> bool:
    """Whether the page already has chunks (text from its text layer): such a page is never OCR'd."""
    return one_row(conn, "SELECT 1 FROM chunks WHERE document_id = ? AND page = ? LIMIT 1",
                   (document_id, page)) is not None


def save_page(conn: apsw.Connection, page: WaitingPage, read: OcrPage, spans: Sequence[ChunkSpan]) -> bool:
    """Write what OCR read on ``page``: its chunks (numbered after the document's others) and
    its words. False, writing nothing, when the page no longer waits (its document was written
    again meanwhile). Inside the caller's write transaction."""
    if not still_waiting(conn, page) or page_has_text(conn, page.document_id, page.page):
        return False
    row = one_row(conn, "SELECT coalesce(max(ord), -1) FROM chunks WHERE document_id = ?", (page.document_id,))
    first = int(row[0]) + 1 if row else 0
    conn.executemany(
        "INSERT INTO chunks(document_id, ord, page, char_start, char_end, token_count, text) "
        "VALUES (?,?,?,?,?,?,?)",
        [(page.document_id, first + i, page.page, s.char_start, s.char_end, s.token_count, s.text)
         for i, s in enumerate(spans)])
    conn.execute("""UPDATE ocr_pages SET state = 'done', engine = ?, text = ?, words = ?, width = ?, height = ?,
                    error = NULL WHERE document_id = ? AND page = ?""",
                 (read.engine, read.text, pack_words(read.words), read.width, read.height,
                  page.document_id, page.page))
    return True


def mark_failed(conn: apsw.Connection, page: WaitingPage, message: str) -> None:
    """OCR could not read ``page`` (``message``: one line why); it is not tried again until
    its file changes."""
    conn.execute("UPDATE ocr_pages SET state = 'failed', error = ? WHERE document_id = ? AND page = ? "
                 "AND state = 'waiting'", (" ".join(message.split()), page.document_id, page.page))


def drop_page(conn: apsw.Connection, page: WaitingPage) -> None:
    """Forget a waiting page whose file changed or vanished (reading the file again records
    its pages anew)."""
    conn.execute("DELETE FROM ocr_pages WHERE document_id = ? AND page = ? AND state = 'waiting'",
                 (page.document_id, page.page))


def ocr_counts(conn: apsw.Connection) -> OcrCounts:
    """Pages waiting, read and failed (of documents that were read)."""
    sql = ("SELECT o.state, count(*) FROM ocr_pages o JOIN documents d ON d.id = o.document_id "
           "WHERE d.status = 'ok' GROUP BY o.state")
    found: dict[str, int] = dict(rows(conn, sql))
    return OcrCounts(**{state: int(found.get(state, 0)) for state in STATES})


def failed_pages(conn: apsw.Connection, limit: int = 1000) -> list[FileError]:
    """Pages OCR could not read, one line each (reason "ocr-failed": "Page 3: why")."""
    found = rows(conn, "SELECT d.path, o.page, o.error FROM ocr_pages o JOIN documents d ON d.id = o.document_id "
                       "WHERE o.state = 'failed' ORDER BY d.path, o.page LIMIT ?", (limit,))
    return [page_failure(str(r[0]), int(r[1]), str(r[2] or "")) for r in found]


def failed_files(conn: apsw.Connection, limit: int = 1000) -> list[FileError]:
    """The files with pages OCR could not read, one entry each (reason "ocr-failed"): the
    pages that failed for each reason ("Page 3: why", "Pages 2 and 5: why; page 7: why")."""
    if limit <= 0:
        return []
    found = rows(conn, """SELECT d.path, o.page, o.error FROM ocr_pages o JOIN documents d ON d.id = o.document_id
                          WHERE o.state = 'failed' AND d.status = 'ok' AND d.id IN (
                              SELECT DISTINCT f.document_id FROM ocr_pages f JOIN documents fd ON fd.id = f.document_id
                              WHERE f.state = 'failed' AND fd.status = 'ok' ORDER BY fd.path LIMIT ?)
                          ORDER BY d.path, o.page""", (limit,))
    by_file: dict[str, dict[str, list[int]]] = {}
    for path, page, error in found:
        detail = " ".join(str(error or "").split()) or "no reason given"
        by_file.setdefault(str(path), {}).setdefault(detail, []).append(int(page))
    return [FileError(path=path, reason="ocr-failed", message=_pages_failed(reasons))
            for path, reasons in by_file.items()]


def failed_file_count(conn: apsw.Connection) -> int:
    """How many files have pages OCR could not read."""
    row = one_row(conn, "SELECT count(DISTINCT o.document_id) FROM ocr_pages o "
                        "JOIN documents d ON d.id = o.document_id WHERE o.state = 'failed' AND d.status = 'ok'")
    return int(row[0]) if row else 0


def retry_failed(conn: apsw.Connection, paths: Sequence[str]) -> list[str]:
    """The pages OCR could not read in the documents at ``paths`` wait again (the next run
    reads them); returns the paths that had such pages. Inside a write transaction."""
    retried: list[str] = []
    for path in dict.fromkeys(paths):
        conn.execute("""UPDATE ocr_pages SET state = 'waiting', error = NULL, attempts = 0 WHERE state = 'failed'
                        AND document_id IN (SELECT id FROM documents WHERE path = ? AND status = 'ok')""", (path,))
        if conn.changes():
            retried.append(path)
    return retried


_PAGES_LISTED = 12  # the most page numbers one reason lists


def _pages_failed(reasons: dict[str, list[int]]) -> str:
    """"Page 3: why" for one page; "Pages 2, 4 and 5: why; page 7: other why" for more."""
    parts = []
    for detail, pages in reasons.items():
        shown = [str(p) for p in pages[:_PAGES_LISTED]]
        if len(pages) > len(shown):
            shown.append(f"{len(pages) - len(shown)} more")
        numbers = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
        parts.append(f"{'page' if len(pages) == 1 else 'pages'} {numbers}: {detail}")
    line = "; ".join(parts)
    return line[:1].upper() + line[1:]


def page_failure(path: str, page: int, message: str) -> FileError:
    detail = " ".join(message.split()) or "no reason given"
    return FileError(path=path, reason="ocr-failed", message=f"Page {page}: {detail}")


def ocr_words(conn: apsw.Connection, path: str, page: int) -> OcrPage | None:
    """What OCR read on page ``page`` of the document at ``path``, or None when it was not read."""
    row = one_row(conn, """
        SELECT o.text, o.words, o.width, o.height, o.engine FROM ocr_pages o
        JOIN documents d ON d.id = o.document_id
        WHERE d.path = ? AND o.page = ? AND o.state = 'done'""", (path, int(page)))
    if row is None:
        return None
    return OcrPage(number=int(page), text=str(row[0] or ""), words=unpack_words(row[1]),
                   width=float(row[2] or 0.0), height=float(row[3] or 0.0), engine=str(row[4] or ""))


def ocr_chunk_ids(conn: apsw.Connection, chunk_ids: Sequence[int]) -> set[int]:
    """Which of ``chunk_ids`` hold text read by OCR (they lie on a page OCR read)."""
    sql = ("SELECT c.id FROM chunks c JOIN ocr_pages o ON o.document_id = c.document_id AND o.page = c.page "
           "WHERE o.state = 'done' AND c.id IN ({ids})")
    return {int(r[0]) for r in in_batches(conn, sql, chunk_ids)}


def pack_words(words: Sequence[OcrWord]) -> str:
    """Words as compact JSON: [[text, x0, y0, x1, y1], ...], boxes to a tenth of a unit."""
    return json.dumps([[str(w.text), *(round(float(v), 1) for v in (w.x0, w.y0, w.x1, w.y1))] for w in words],
                      ensure_ascii=False, separators=(",", ":"))


def unpack_words(packed: str | None) -> tuple[OcrWord, ...]:
    if not packed:
        return ()
    try:
        items = json.loads(packed)
        return tuple(OcrWord(str(t), float(a), float(b), float(c), float(d)) for t, a, b, c, d in items)
    except (ValueError, TypeError):
        return ()
