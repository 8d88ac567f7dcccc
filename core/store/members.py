"""Documents inside files (migration 0008): the messages of a mailbox, the attachments of a
message. A member is a document row like any other (chunks, vectors, counts) whose
``parent_id`` is the document holding it and whose path is the parent's path + "/" + its
``member_key``; deleting the parent deletes its members (ON DELETE CASCADE). Also here: a
document's own date and named fields, and how far an mbox was read (``mailbox_state``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import apsw

from .sql import in_batches, one_row, rows

Fields = tuple[tuple[str, str], ...]

# Every document below ``?`` (its members, their members...), by id.
_BELOW = """WITH RECURSIVE below(id) AS (
    SELECT id FROM documents WHERE parent_id = ?
    UNION ALL SELECT d.id FROM documents d JOIN below b ON d.parent_id = b.id)"""


@dataclass(frozen=True)
class StoredMember:
    """A member row as its container's re-read compares it: ``content_hash`` is the hash of
    its extraction, so an unchanged member is kept with its vectors."""

    id: int
    key: str
    content_hash: str


@dataclass(frozen=True)
class ChainLink:
    """One document on the way from the file on disk down to a member (see :func:`chain`)."""

    id: int
    path: str
    kind: str
    key: str | None  # None for the file on disk
    content_hash: str
    title: str | None
    status: str


def list_members(conn: apsw.Connection, parent_id: int) -> list[StoredMember]:
    found = rows(conn, "SELECT id, member_key, content_hash FROM documents WHERE parent_id = ?", (parent_id,))
    return [StoredMember(int(r[0]), str(r[1]), str(r[2])) for r in found]


def link_member(conn: apsw.Connection, doc_id: int, parent_id: int, key: str, name: str) -> None:
    """Make the document just written at ``parent path/key`` a member of ``parent_id``. Its
    ``name`` (what the name search matches, a file's name for a file) is what a person calls
    it, an attachment's file name or a message's subject, not its key."""
    conn.execute("UPDATE documents SET parent_id = ?, member_key = ?, name = ? WHERE id = ?",
                 (parent_id, key, name, doc_id))


def set_own_values(conn: apsw.Connection, doc_id: int, date: float | None, fields: Fields) -> None:
    """The document's own date (None: its mtime stands) and its named fields, replaced."""
    conn.execute("UPDATE documents SET date = ? WHERE id = ?", (date, doc_id))
    conn.execute("DELETE FROM document_fields WHERE document_id = ?", (doc_id,))
    conn.executemany("INSERT INTO document_fields(document_id, ord, name, value) VALUES (?, ?, ?, ?)",
                     [(doc_id, i, name, value) for i, (name, value) in enumerate(fields)])


def rename_member(conn: apsw.Connection, member_id: int, key: str, old_path: str, new_path: str) -> None:
    """A member found again under another key (a message that moved inside its mailbox):
    its row, chunks and vectors are kept; its path and its own members' paths follow."""
    folder = new_path.rpartition("/")[0]
    conn.execute("UPDATE documents SET path = ?, folder = ?, member_key = ? WHERE id = ?",
                 (new_path, folder, key, member_id))
    repath_members(conn, member_id, old_path, new_path, None)


def repath_members(conn: apsw.Connection, doc_id: int, old_path: str, new_path: str,
                   source_id: int | None, *, move_source: bool = False) -> None:
    """The document ``doc_id`` moved from ``old_path`` to ``new_path``: every document below it
    takes the new path prefix (and, with ``move_source``, its source)."""
    cut = len(old_path) + 1
    if move_source:
        conn.execute(f"""{_BELOW} UPDATE documents SET path = ? || substr(path, ?),
                         folder = ? || substr(folder, ?), source_id = ? WHERE id IN (SELECT id FROM below)""",
                     (doc_id, new_path, cut, new_path, cut, source_id))
    else:
        conn.execute(f"""{_BELOW} UPDATE documents SET path = ? || substr(path, ?),
                         folder = ? || substr(folder, ?) WHERE id IN (SELECT id FROM below)""",
                     (doc_id, new_path, cut, new_path, cut))


def delete_members(conn: apsw.Connection, member_ids: Iterable[int]) -> None:
    """Delete these members; theirs go with them (cascade), chunks and vectors by trigger."""
    conn.executemany("DELETE FROM documents WHERE id = ?", [(int(i),) for i in member_ids])


def clear_contents(conn: apsw.Connection, doc_id: int) -> None:
    """A document that now fails to read loses what its last good read found inside it: its
    members, its own date and fields, and how far its mailbox was read."""
    conn.execute("DELETE FROM documents WHERE parent_id = ?", (doc_id,))
    set_own_values(conn, doc_id, None, ())
    forget_mailbox(conn, doc_id)


def holds_contents(conn: apsw.Connection, doc_id: int) -> bool:
    """Whether the document has members, fields or a date of its own (one cheap look)."""
    row = one_row(conn, """SELECT EXISTS(SELECT 1 FROM documents WHERE parent_id = ?1)
                               OR EXISTS(SELECT 1 FROM document_fields WHERE document_id = ?1)
                               OR (SELECT date FROM documents WHERE id = ?1) IS NOT NULL""", (doc_id,))
    return bool(row and row[0])


# -- mailboxes -----------------------------------------------------------------------------
def mailbox_state(conn: apsw.Connection, doc_id: int) -> tuple[int, str] | None:
    """(read_to, SHA-256 of the mailbox's first ``read_to`` bytes), or None."""
    row = one_row(conn, "SELECT read_to, head_sha256 FROM mailbox_state WHERE document_id = ?", (doc_id,))
    return (int(row[0]), str(row[1])) if row else None


def set_mailbox_state(conn: apsw.Connection, doc_id: int, read_to: int, head_sha256: str) -> None:
    conn.execute("INSERT OR REPLACE INTO mailbox_state(document_id, read_to, head_sha256) VALUES (?, ?, ?)",
                 (doc_id, read_to, head_sha256))


def forget_mailbox(conn: apsw.Connection, doc_id: int) -> None:
    conn.execute("DELETE FROM mailbox_state WHERE document_id = ?", (doc_id,))


def rewind_mailbox(conn: apsw.Connection, doc_id: int, was: tuple[int, str] | None,
                   to: tuple[int, str] | None) -> None:
    """Make the next scan read the mailbox again from ``to`` (read_to, head hash; None: from
    its start), for a message skipped there to be tried again; the messages before it, and
    the unchanged ones after it, keep their rows. ``was`` is the state ``to`` was worked out
    from: when another run changed it since, the mailbox is read from its start."""
    if to is not None and mailbox_state(conn, doc_id) == was:
        set_mailbox_state(conn, doc_id, *to)
    else:
        forget_mailbox(conn, doc_id)
    mark_unfinished(conn, doc_id)


def mark_unfinished(conn: apsw.Connection, doc_id: int) -> None:
    """A mailbox read in part: the next scan finds it changed and reads on (its stored stat
    and hash match no file)."""
    conn.execute("UPDATE documents SET size = -1, mtime_ns = -1, content_hash = '' WHERE id = ?", (doc_id,))


def mark_finished(conn: apsw.Connection, doc_id: int, size: int, mtime_ns: int, content_hash: str) -> None:
    conn.execute("UPDATE documents SET size = ?, mtime_ns = ?, content_hash = ? WHERE id = ?",
                 (size, mtime_ns, content_hash, doc_id))


def mark_failed_after(conn: apsw.Connection, doc_id: int, reason: str, message: str) -> None:
    """A mailbox that failed part-way: listed as failed, the messages read so far kept."""
    conn.execute("UPDATE documents SET status = 'error', error_reason = ?, error = ? WHERE id = ?",
                 (reason, message, doc_id))


# -- reading -------------------------------------------------------------------------------
def member_details(conn: apsw.Connection, doc_ids: Sequence[int]) -> dict[int, tuple[Fields, str | None]]:
    """For each of ``doc_ids`` that has fields or is a member: (its fields in order, the path
    of the file on disk that holds it, or None for a file of its own)."""
    fields: dict[int, list[tuple[str, str]]] = {}
    for doc, name, value in in_batches(conn, "SELECT document_id, name, value FROM document_fields "
                                             "WHERE document_id IN ({ids}) ORDER BY document_id, ord", doc_ids):
        fields.setdefault(int(doc), []).append((str(name), str(value)))
    holders: dict[int, str] = {}
    sql = """WITH RECURSIVE up(start, id, parent) AS (
                 SELECT id, id, parent_id FROM documents WHERE id IN ({ids}) AND parent_id IS NOT NULL
                 UNION ALL SELECT up.start, d.id, d.parent_id FROM documents d JOIN up ON d.id = up.parent)
             SELECT up.start, d.path FROM up JOIN documents d ON d.id = up.id WHERE up.parent IS NULL"""
    for start, path in in_batches(conn, sql, doc_ids):
        holders[int(start)] = str(path)
    return {doc: (tuple(fields.get(doc, ())), holders.get(doc)) for doc in {*fields, *holders}}


def chain(conn: apsw.Connection, path: str) -> list[ChainLink]:
    """The documents from the file on disk down to the document at ``path`` (itself last);
    [] when the library holds no document there."""
    sql = """WITH RECURSIVE up(id, depth) AS (
                 SELECT id, 0 FROM documents WHERE path = ?
                 UNION ALL SELECT d.parent_id, up.depth + 1 FROM documents d JOIN up ON d.id = up.id
                 WHERE d.parent_id IS NOT NULL)
             SELECT d.id, d.path, d.kind, d.member_key, d.content_hash, d.title, d.status
             FROM up JOIN documents d ON d.id = up.id ORDER BY up.depth DESC"""
    return [ChainLink(int(r[0]), str(r[1]), str(r[2]), r[3], str(r[4]), r[5], str(r[6]))
            for r in rows(conn, sql, (path,))]


def containers(conn: apsw.Connection, paths: Iterable[str]) -> dict[str, str]:
    """member path → the path of the file on disk that holds it, for the paths that are members."""
    found: dict[str, str] = {}
    for path in dict.fromkeys(paths):
        links = chain(conn, path)
        if len(links) > 1:
            found[path] = links[0].path
    return found
