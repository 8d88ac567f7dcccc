"""Mail: one message (.eml, a Maildir file) or a mailbox (mbox) into an ``Extraction``.

A message becomes a document whose text is a short header block and its body (an HTML-only
body is converted with Memex's own HTML reader); its attachments become ``members``, each
written into a private temporary folder under a cleaned-up name and read by ``extract_file``.
Headers, charsets and file names in mail are hostile: nothing here may raise on them, and no
attachment is ever written outside that folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import tempfile
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

from memex.core.errors import EmptyFile, ExtractionError
from memex.core.types import Extraction, Member, Page

MAX_MESSAGE_BYTES = 100 * 2**20  # a larger message is read for its headers only
MAX_ATTACHMENT_BYTES = 50 * 2**20  # a larger attachment is listed by name only
MAX_ATTACHMENTS = 50  # attachments read per message; the rest are listed by name
MAX_DEPTH = 3  # messages inside messages inside ...: deeper attachments are listed by name
MAX_LISTED_NAMES = 200  # attachment names listed in a message's text
MAX_HEADER_CHARS = 2000  # a From/To/Cc value longer than this is cut
MAX_NAME_CHARS = 120  # an attachment's name on disk (and in its member key)
_HEADERS_ONLY_BYTES = 256 * 1024  # what a message over the cap is read from

_TOO_LARGE_NOTE = "(The message is too large to read; only its headers are indexed.)"
_ASCII_NAMES = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968"})
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME_JUNK_RE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"|?*\\/]+')
_SPACE_RE = re.compile(r"\s+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")


def extract_mail(path: Path, kind: str, max_chars: int, start: int = 0) -> Extraction:
    """A message file (kind "email") or a mailbox read from byte ``start`` (kind "mbox")."""
    if kind == "mbox":
        from .mailbox import read_mbox

        return read_mbox(Path(path), max_chars, start)
    with open(path, "rb") as fh:
        data = fh.read(MAX_MESSAGE_BYTES + 1)
    if not data.strip():
        raise EmptyFile("the message is empty")
    too_large = len(data) > MAX_MESSAGE_BYTES
    if too_large:
        data = headers_only(data)
    with tempfile.TemporaryDirectory(prefix="memex-mail-") as scratch:
        reader = MessageReader(Path(scratch))
        return reader.read(data, max_chars, too_large=too_large)


def headers_only(data: bytes) -> bytes:
    """The header block of a message whose body is too large to read."""
    head = data[:_HEADERS_ONLY_BYTES]
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = head.find(sep)
        if end >= 0:
            return head[: end + len(sep)]
    return head + b"\n\n"


def parse_message(data: bytes) -> Message:
    """The MIME structure, parsed with the fast compat32 policy: the headers shown are parsed
    one by one with the modern policy (``parsed_header``); parsing every header of every part
    with it would double the time a mailbox takes."""
    return BytesParser(policy=policy.compat32).parsebytes(data)


def total_chars(extraction: Extraction) -> int:
    """Characters of an extraction and of everything inside it."""
    return extraction.char_count + sum(total_chars(m.extraction) for m in extraction.members)


@dataclass
class _Parts:
    """A message's leaf parts sorted by role."""

    plain: list[Message] = field(default_factory=list)
    html: list[Message] = field(default_factory=list)
    attachments: list[Message] = field(default_factory=list)


class MessageReader:
    """Reads messages into extractions, writing attachments under ``scratch`` (a private
    folder the caller owns and removes)."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._written = 0

    def read(self, data: bytes, max_chars: int, depth: int = 0, too_large: bool = False) -> Extraction:
        try:
            message = parse_message(data)
        except Exception as exc:  # the parser is lenient; this is a last line of defence
            raise ExtractionError(f"the message could not be read: {exc}", "corrupt") from None
        return self.message(message, max_chars, depth, too_large)

    def message(self, message: Message, max_chars: int, depth: int = 0,
                too_large: bool = False) -> Extraction:
        """The extraction of a parsed message, its attachments as members."""
        subject = clean_line(header(message, "subject"))
        fields = [(name, value) for name in ("from", "to", "cc")
                  if (value := clean_line(header(message, name))[:MAX_HEADER_CHARS])]
        when = message_date(message)
        if when is not None:
            fields.append(("date", when.isoformat()))
        parts = _Parts()
        if not too_large:
            _sort_parts(message, parts, in_alternative=False)
        body = _TOO_LARGE_NOTE if too_large else _body_text(parts)
        members, names = self._attachments(parts.attachments, max_chars - len(body), depth)
        head, tail = _header_block(fields, subject), _attachment_line(names)
        body = body.strip().replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
        room = max(max_chars - len(head) - len(tail), 0)  # the body is cut, never the names
        text = (head + body[:room] + tail)[:max(max_chars, 0)]
        return Extraction(
            pages=(Page(1, text),), kind="email", title=subject or "(no subject)",
            truncated=too_large or len(body) > room, members=tuple(members), fields=tuple(fields),
            date=when.timestamp() if when is not None else None)

    def _attachments(self, parts: list[Message], budget: int,
                     depth: int) -> tuple[list[Member], list[str]]:
        """Members for the attachments that could be read, and every attachment's name."""
        members: list[Member] = []
        names: list[str] = []
        for index, part in enumerate(parts, start=1):
            name = attachment_name(part, index)
            names.append(name)
            if depth >= MAX_DEPTH or len(members) >= MAX_ATTACHMENTS or budget <= 0:
                continue
            extraction = self._attachment(part, name, budget, depth)
            if extraction is None or not (total_chars(extraction) or extraction.ocr_pages):
                continue  # nothing to read, not even by OCR (a picture too small to hold text)
            budget -= total_chars(extraction)
            key = attachment_key(index, name)
            members.append(Member(key=key, name=name, extraction=extraction))
        return members, names

    def _attachment(self, part: Message, name: str, budget: int, depth: int) -> Extraction | None:
        """The extraction of one attachment, or None when it cannot be read."""
        try:
            if part.get_content_type() == "message/rfc822":
                inner = part.get_payload()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                    return self.message(inner[0], budget, depth + 1)
            encoded = part.get_payload()
            if not isinstance(encoded, str) or len(encoded) * 3 // 4 > MAX_ATTACHMENT_BYTES:
                return None  # too large even after base64 decoding: not decoded at all
            payload = part.get_payload(decode=True)
        except Exception:
            return None
        if not isinstance(payload, bytes) or not payload or len(payload) > MAX_ATTACHMENT_BYTES:
            return None
        return self._extract_bytes(payload, name, budget, depth)

    def _extract_bytes(self, payload: bytes, name: str, budget: int, depth: int) -> Extraction | None:
        from . import detect_kind, extract_file

        self._written += 1
        folder = self.scratch / str(self._written)
        folder.mkdir(mode=0o700)
        target = folder / safe_file_name(name)
        with open(target, "xb") as fh:
            fh.write(payload)
        try:
            kind = detect_kind(target)
            if kind == "email" or name.lower().endswith(".eml"):
                return self.read(payload, budget, depth + 1)
            if kind is None or kind == "mbox":
                return None
            return extract_file(target, budget, kind)
        except ExtractionError:
            return None
        finally:
            target.unlink(missing_ok=True)


def _sort_parts(part: Message, parts: _Parts, in_alternative: bool) -> None:
    """Walk the MIME tree (without recursion into attached messages) sorting leaf parts."""
    stack: list[tuple[Message, bool]] = [(part, in_alternative)]
    while stack:
        current, alt = stack.pop()
        try:
            ctype = current.get_content_type()
            payload = current.get_payload()
            named = bool(current.get_filename()) or current.get_content_disposition() == "attachment"
        except Exception:
            continue
        if ctype.startswith("multipart/") and isinstance(payload, list):
            alt = alt or ctype == "multipart/alternative"
            stack.extend((sub, alt) for sub in reversed(payload) if isinstance(sub, Message))
        elif ctype == "message/rfc822" or named:
            parts.attachments.append(current)
        elif ctype == "text/plain":
            parts.plain.append(current)
        elif ctype == "text/html":
            parts.html.append(current)


def attachment_parts(message: Message) -> list[Message]:
    """A message's attachments in the order their keys number them (forwarded messages
    included, their own attachments not)."""
    parts = _Parts()
    _sort_parts(message, parts, in_alternative=False)
    return parts.attachments


def attachment_key(index: int, name: str) -> str:
    """The member key of the ``index``-th attachment (from 1), called ``name``
    (``attachment_name``); opening an attachment finds it again by this key."""
    return f"attachment-{index}-{safe_file_name(name)}"


def _body_text(parts: _Parts) -> str:
    """The plain-text parts; the HTML parts converted when no plain part holds text."""
    plain = [t for t in (part_text(p).strip() for p in parts.plain) if t]
    if plain:
        return "\n\n".join(plain)
    return "\n\n".join(t for t in (html_text(part_text(p)) for p in parts.html) if t)


def part_text(part: Message) -> str:
    """A text part's content: its declared charset, else UTF-8, else the detected one."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    try:
        charset = part.get_content_charset()
        # Not "us-ascii": mislabelled UTF-8 is common. Unknown names and codecs that are not
        # text encodings ("base64", "zlib") raise LookupError.
        if charset and charset not in _ASCII_NAMES:
            return payload.decode(charset, errors="replace")
    except (LookupError, ValueError, TypeError):
        pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        from .text import decode_bytes

        try:
            return decode_bytes(payload)
        except ExtractionError:
            return payload.decode("cp1252", errors="replace")


def html_text(source: str) -> str:
    """Visible text of an HTML body (no tags, scripts or styles)."""
    from .html import html_to_text

    source = _XML_DECL_RE.sub("", source, count=1)
    if not source.strip():
        return ""
    try:
        return html_to_text(source)[1]
    except Exception:  # lxml refuses some inputs outright (e.g. only a comment)
        return ""


def parsed_header(message: Message, name: str) -> object | None:
    """The first ``name`` header parsed by the standard library's modern header classes
    (decoded words, addresses, dates; defects recorded rather than raised), or None."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name), None)
    if raw is None:
        return None
    try:
        return policy.default.header_fetch_parse(name, str(raw))
    except Exception:  # a header the parser trips over is shown as it was written
        return str(raw)


def header(message: Message, name: str) -> str:
    """A header's decoded value ("" when absent); broken encodings never raise."""
    value = parsed_header(message, name)
    return "" if value is None else undo_raw_bytes(str(value))


def undo_raw_bytes(text: str) -> str:
    """Undeclared 8-bit bytes (kept by the parser as surrogates) read as UTF-8 or cp1252."""
    if not _SURROGATE_RE.search(text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def clean_line(text: str) -> str:
    """One line: control characters and undecodable bytes out, runs of space as one."""
    text = _SURROGATE_RE.sub("\ufffd", text)
    return _SPACE_RE.sub(" ", _CONTROL_RE.sub(" ", text)).strip()


def message_date(message: Message) -> dt.datetime | None:
    """The Date header as an aware datetime (UTC when it names no zone), or None."""
    try:
        when = getattr(parsed_header(message, "date"), "datetime", None)
        if not isinstance(when, dt.datetime):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        when.timestamp()  # out-of-range dates fail here, not later
        return when
    except (ValueError, OverflowError, OSError, TypeError, IndexError, AttributeError):
        return None


def _attachment_line(names: list[str]) -> str:
    """Every attachment named in the message's text, so each is found by its name."""
    if not names:
        return ""
    shown = ", ".join(names[:MAX_LISTED_NAMES])
    more = len(names) - MAX_LISTED_NAMES
    return f"\n\nAttachments: {shown}" + (f" and {more} more" if more > 0 else "")


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _readable_date(iso: str) -> str:
    """"5 March 2024, 09:30 +00:00" for the text a person reads and searches (the ISO form stays
    in the fields); English month names whatever the process's locale."""
    try:
        when = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    zone = when.strftime("%z")
    zone = f" {zone[:3]}:{zone[3:]}" if zone else ""
    return f"{when.day} {_MONTHS[when.month - 1]} {when.year}, {when.hour:02d}:{when.minute:02d}{zone}"


def _header_block(fields: list[tuple[str, str]], subject: str) -> str:
    labels = {"from": "From", "to": "To", "cc": "Cc", "date": "Date"}
    lines = [f"{labels[name]}: {_readable_date(value) if name == 'date' else value}" for name, value in fields]
    lines.append(f"Subject: {subject or '(no subject)'}")
    return "\n".join(lines) + "\n\n"


def attachment_name(part: Message, index: int) -> str:
    """What a person calls an attachment: its file name, a forwarded message's subject."""
    name = ""
    try:
        name = part.get_filename() or ""
        if "=?" in name:  # RFC 2047 words in a file name: not standard, but common
            with contextlib.suppress(Exception):
                name = str(make_header(decode_header(name)))
        if not name and part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                name = (clean_line(header(inner[0], "subject")) or "message") + ".eml"
    except Exception:
        name = ""
    name = clean_line(undo_raw_bytes(name).replace("\\", "/").rsplit("/", 1)[-1])[:300]  # no folders
    return name or f"attachment {index}"


def safe_file_name(name: str) -> str:
    """``name`` as one harmless path component: no separators, control characters, leading
    dots or reserved characters, at most ``MAX_NAME_CHARS`` long with its extension kept."""
    cleaned = _NAME_JUNK_RE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = _SURROGATE_RE.sub("_", cleaned).strip(" ._") or "attachment"
    stem, dot, ext = cleaned.rpartition(".")
    if not (dot and stem and 0 < len(ext) <= 10):
        stem, ext = cleaned, ""
    # Characters and bytes both capped: file systems allow 255 bytes per name.
    stem = stem[:MAX_NAME_CHARS]
    while len(stem) > 1 and (len(stem) + len(ext) >= MAX_NAME_CHARS
                             or len(f"{stem}.{ext}".encode()) > 2 * MAX_NAME_CHARS):
        stem = stem[:-1]
    return f"{stem}.{ext}" if ext else stem
