"""The bytes of a document inside a file, to open it: a message cut out of an mbox mailbox,
an attachment taken out of a message. Only the mail parser runs here (on one message, capped
in size); attachments are found by the keys ``mail`` gave them when it read the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import Message
from pathlib import Path

from memex.core.errors import ExtractionError

from .mail import (
    MAX_MESSAGE_BYTES,
    attachment_key,
    attachment_name,
    attachment_parts,
    parse_message,
    safe_file_name,
)
from .mailbox import MessageLines, is_from_line

_LINE_LIMIT = 2**20
_MOVED = "the mailbox changed since Memex read it"


def mbox_message(path: Path, offset: int, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """The message whose "From " line starts at byte ``offset`` of mailbox ``path``, as an
    .eml file holds it (no "From " line; ">From " lines lose the ">" the mailbox added)."""
    with open(path, "rb") as fh:
        if offset > 0:
            fh.seek(offset - 1)
            if fh.read(1) != b"\n":
                raise ExtractionError(_MOVED, "moved")
        fh.seek(offset)
        first = fh.readline(_LINE_LIMIT)
        if not is_from_line(first):
            raise ExtractionError(_MOVED, "moved")
        out: list[bytes] = []
        size = 0
        for line in MessageLines(fh, first):
            out.append(line)
            size += len(line)
            if size > limit:
                raise ExtractionError("the message is too large to open", "too-large")
    return b"".join(out)


def attachment(message_bytes: bytes, keys: Sequence[str]) -> tuple[str, bytes]:
    """(a file name, the bytes) of the attachment reached from a message by ``keys`` (an
    attachment's key, then, for a forwarded message, a key inside it, ...). A message comes
    back as an .eml file."""
    if not keys:
        raise ValueError("no attachment key given")
    message: Message = parse_message(message_bytes)
    for depth, key in enumerate(keys):
        part = _attachment_part(message, key)
        last = depth == len(keys) - 1
        inner = _forwarded(part)
        if inner is not None:
            if last:
                return _eml_name(key), inner.as_bytes()
            message = inner
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            raise ExtractionError("the attachment holds nothing to open", "corrupt")
        if last:
            return safe_file_name(key), payload
        message = parse_message(payload)  # an .eml file attached to the message
    raise AssertionError("unreachable")


def _attachment_part(message: Message, key: str) -> Message:
    for index, part in enumerate(attachment_parts(message), start=1):
        if attachment_key(index, attachment_name(part, index)) == key:
            return part
    raise ExtractionError("the attachment is no longer in the message", "moved")


def _forwarded(part: Message) -> Message | None:
    if part.get_content_type() != "message/rfc822":
        return None
    inner = part.get_payload()
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        return inner[0]
    return None


def _eml_name(key: str) -> str:
    name = safe_file_name(key)
    return name if name.lower().endswith(".eml") else f"{name}.eml"


def message_name(subject: str | None) -> str:
    """A file name for a message: its subject, as one harmless name, with .eml."""
    return _eml_name(subject or "message")
