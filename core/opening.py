"""What to hand the operating system to open a search result (``Library.open_target``).

A file on disk is opened where it is. A document inside a file has no file of its own: a
message is cut out of its mailbox and written as an .eml file, an attachment is taken out
of its message, into Memex's own cache folder (private, one folder per document, written
nowhere else), and that file is what opens. When the file holding it changed since Memex
read it (in a way that moves its messages) or is gone, the answer is a one-line error.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import ExtractionError, LibraryError
from .extract.member_bytes import attachment, mbox_message, message_name
from .store import Connection
from .store import members as store
from .store.members import ChainLink

OPENED_FOLDER = "opened"  # under Memex's cache folder
_MAX_FILE_BYTES = 100 * 2**20  # a message file copied to be opened as .eml


def open_target(conn: Connection, path: str, cache: Path) -> str:
    """See :meth:`Library.open_target`; ``cache`` is the folder Memex writes exports into."""
    if not path or "\x00" in path or not os.path.isabs(path):
        raise LibraryError(f"{path[:200]!r} is not a document's path.")
    links = store.chain(conn, path)
    if not links:
        if os.path.isfile(path):
            return path
        raise LibraryError(f"{_name(path)} is not in the library and not on disk.")
    root = links[0]
    if not os.path.isfile(root.path):
        raise LibraryError(f"{_name(root.path)} is no longer there; Memex forgets it at the next sync.")
    target = links[-1]
    if len(links) == 1:
        if target.kind == "email" and not target.path.lower().endswith(".eml"):  # a Maildir file
            return str(_export(cache, target, message_name(target.title), _read_capped(root.path)))
        return root.path
    _check_unchanged(conn, root, links[1])
    try:
        name, data = _member_bytes(root, links[1:])
    except ExtractionError as exc:
        raise LibraryError(f"{_name(target.path)} cannot be opened: {exc}.") from None
    except (OSError, ValueError, LookupError) as exc:
        raise LibraryError(f"{_name(target.path)} cannot be opened: {exc}") from None
    return str(_export(cache, target, name, data))


def _member_bytes(root: ChainLink, members: list[ChainLink]) -> tuple[str, bytes]:
    """(file name, bytes) of the last of ``members``, read out of ``root``."""
    keys = [m.key or "" for m in members]
    if root.kind == "mbox":
        if not keys[0].isdigit():
            raise ExtractionError("the message is not where the mailbox keeps it", "moved")
        message = mbox_message(Path(root.path), int(keys[0]))
        keys = keys[1:]
        if not keys:
            return message_name(members[-1].title), message
    else:
        message = _read_capped(root.path)
    return attachment(message, keys)


def _check_unchanged(conn: Connection, root: ChainLink, first: ChainLink) -> None:
    """Refuse when the file holding the member changed since it was read, unless it is a
    mailbox that only grew past the message, or whose status Thunderbird keeps changed (its
    old messages are where they were)."""
    from .indexing.mailboxes import MailboxHead
    from .indexing.scan import file_hash

    changed = LibraryError(f"{_name(root.path)} changed since Memex read it; open the result again "
                           "once Memex has read it anew.")
    try:
        if file_hash(root.path) == root.content_hash:
            return
    except OSError as exc:
        raise LibraryError(f"{_name(root.path)} cannot be read: {exc.strerror or exc}") from None
    state = store.mailbox_state(conn, root.id) if root.kind == "mbox" else None
    if state is None or not (first.key or "").isdigit() or int(first.key or 0) >= state[0]:
        raise changed
    read_to, expected = state
    with open(root.path, "rb") as fh:
        head = MailboxHead(fh.fileno())
        if not (head.advance(read_to) and head.matches(expected)):
            raise changed


def _read_capped(path: str) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise LibraryError(f"{_name(path)} is too large to open as a message.")
    return data


def _export(cache: Path, target: ChainLink, name: str, data: bytes) -> Path:
    """Write ``data`` as ``name`` into the document's own folder under ``cache`` (both made
    private), unless it is there already with these bytes; other files there go."""
    folder = _private_folder(_private_folder(cache) / str(target.id))
    try:
        return _write_once(folder, name, data)
    except OSError as exc:
        raise LibraryError(f"Memex cannot write into its folder {folder}: {exc.strerror or exc}") from None


def _write_once(folder: Path, name: str, data: bytes) -> Path:
    final = folder / name
    for entry in os.scandir(folder):
        if entry.name != name and not entry.is_dir(follow_symlinks=False):
            os.unlink(entry.path)  # an earlier export (another name); a link goes, never its target
    try:
        st = os.lstat(final)
        if stat.S_ISREG(st.st_mode) and st.st_size == len(data) and final.read_bytes() == data:
            return final
    except FileNotFoundError:
        pass
    part = folder / f".{secrets.token_hex(8)}.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with open(fd, "wb") as fh:
            fh.write(data)
        os.replace(part, final)  # replaces a link at ``final`` itself, never what it points at
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return final


def _private_folder(folder: Path) -> Path:
    """``folder`` made (0700) or found: a real folder of this user's, never a link."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError as exc:
        raise LibraryError(f"Memex cannot make its folder {folder}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise LibraryError(f"{folder} is not a folder of Memex's own; it is left alone.")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    return folder


def _name(path: str) -> str:
    return repr(os.path.basename(path) or path)
