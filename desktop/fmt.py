"""Turning values into the words and rich text the window shows (no widgets here)."""

from __future__ import annotations

import html
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from memex.core.display_text import safe
from memex.core.humanize import duration
from memex.core.types import Hit

# The type filter's choices: label → kinds.
TYPE_FILTERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Any type", ()),
    ("PDF", ("pdf",)),
    ("Documents", ("docx", "odt")),
    ("Slides", ("pptx", "odp")),
    ("Spreadsheets", ("xlsx", "ods", "csv")),
    ("Text & Markdown", ("text", "markdown")),
    ("Code & data", ("code", "json", "xml", "yaml")),
    ("Web pages", ("html",)),
    ("E-books", ("epub", "mobi", "fb2", "xps", "cbz")),
    ("Mail", ("email", "mbox")),
    ("Pictures", ("image",)),
)

DATE_FILTERS: tuple[tuple[str, float | None], ...] = (
    ("Any time", None),
    ("Past week", 7 * 86400.0),
    ("Past month", 31 * 86400.0),
    ("Past year", 366 * 86400.0),
)


def marked_html(text: str, spans: Iterable[tuple[int, int]], mark_style: str) -> str:
    """``text`` as escaped HTML with each ``[start, end)`` span wrapped in a styled <span>."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos or end <= start:
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f'<span style="{mark_style}">{html.escape(text[start:end])}</span>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def snippet_html(snippet: str, highlights: Sequence, mark_style: str) -> str:
    """A hit's snippet with its highlight spans (``Highlight`` objects) marked."""
    return marked_html(snippet, [(h.start, h.end) for h in highlights], mark_style)


def relative_time(ts: float | None, now: float | None = None) -> str:
    """"just now", "5 min ago", "yesterday", "3 days ago", or a date."""
    if not ts:
        return "never"
    now = time.time() if now is None else now
    delta = now - ts
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        hours = int(delta // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    if delta < 2 * 86400:
        return "yesterday"
    if delta < 7 * 86400:
        return f"{int(delta // 86400)} days ago"
    return short_date(ts, now)


def short_date(ts: float, now: float | None = None) -> str:
    d = datetime.fromtimestamp(ts)
    current = datetime.fromtimestamp(time.time() if now is None else now)
    return d.strftime("%d %b") if d.year == current.year else d.strftime("%d %b %Y")


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def folder_label(path: str, home: str | None = None) -> str:
    """A folder path with the home folder shown as ``~`` (control and bidi characters shown
    as escapes, see :func:`file_name`)."""
    home = home if home is not None else os.path.expanduser("~")
    if home and home != os.sep and (path == home or path.startswith(home.rstrip(os.sep) + os.sep)):
        return safe("~" + path[len(home.rstrip(os.sep)):])
    return safe(path)


def file_name(path: str) -> str:
    """The last part of ``path`` as the window shows it: a control character, bidi override or
    invisible character in it is shown as an escape (``\\u202e``), so ``invoice\\u202efdp.exe``
    cannot pass for ``invoiceexe.pdf`` — the same rule as the command line's."""
    return safe(os.path.basename(path.rstrip(os.sep)) or path)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


PAGED_KINDS = frozenset({"pdf", "xps", "epub", "mobi", "fb2", "cbz"})


def page_label(kind: str, page: int) -> str | None:
    """"page 3", "slide 3", "sheet 3" — or None for formats without pages (and for a
    picture's only page: a TIFF's second frame is "page 2")."""
    if kind in PAGED_KINDS or (kind == "image" and page > 1):
        return f"page {page}"
    if kind in ("pptx", "odp"):
        return f"slide {page}"
    if kind in ("xlsx", "ods"):
        return f"sheet {page}"
    return None


def report_sentence(r) -> str:
    """What an indexing run did (an ``IndexReport``), as one sentence."""
    if r.cancelled:
        return "Indexing stopped. What was indexed so far stays searchable."
    changed = r.added + r.updated
    bits = []
    if changed:
        bits.append(f"indexed {count(changed, 'file')}")
    if r.moved:
        bits.append(f"{count(r.moved, 'file')} moved")
    if r.removed:
        bits.append(f"{count(r.removed, 'file')} removed")
    if r.failed:
        bits.append(f"{count(r.failed, 'file')} could not be read")
    if not bits:
        return "Everything is up to date"
    sentence = ", ".join(bits)
    return f"{sentence[0].upper()}{sentence[1:]} in {duration(r.seconds)}"


OCR_MARK = "OCR"
OCR_TIP = "Text read from the page image"


@dataclass(frozen=True)
class HitLabels:
    """How a result names itself: ``title`` (the file name, a message's subject), ``place``
    (its folder; "From: …" for a message; the file holding an attachment), ``date`` (a
    message's own date; "" otherwise) and ``message`` (it is a mail message)."""

    title: str
    place: str
    date: str
    message: bool


def field(hit: Hit, name: str) -> str:
    """The value of the hit's field ``name`` ("from", "to", "date"), "" when it has none."""
    return next((value for key, value in hit.fields if key == name), "")


def sender(value: str) -> str:
    """"Ada Lovelace" for "Ada Lovelace <ada@example.org>", the address when there is no name."""
    name, address = parseaddr(value)
    return safe(name or address or value.strip())


def field_time(value: str) -> float | None:
    """An ISO 8601 date (a message's "date" field) as a POSIX time; None when it is not one."""
    try:
        return datetime.fromisoformat(value.strip()).timestamp() if value.strip() else None
    except (ValueError, OverflowError, OSError):
        return None


def is_message(hit: Hit) -> bool:
    """Whether the hit is a mail message (a .eml file, a message in a mailbox)."""
    return hit.kind == "email" or bool(field(hit, "from"))


def hit_labels(hit: Hit) -> HitLabels:
    """The title and place line of a result and of its preview (see :class:`HitLabels`)."""
    sent_by = field(hit, "from")
    if is_message(hit):
        when = field_time(field(hit, "date"))
        subject = safe(" ".join((hit.title or "").split())) or "(no subject)"
        return HitLabels(subject, f"From: {sender(sent_by)}" if sent_by else "From: unknown sender",
                         short_date(when) if when is not None else "", True)
    if hit.container:
        title = safe(hit.title) if hit.title and hit.title.strip() else file_name(hit.path)
        return HitLabels(title, f"in {file_name(hit.container)}", "", False)
    return HitLabels(file_name(hit.path), folder_label(os.path.dirname(hit.path)), "", False)


def hit_tooltip(hit: Hit) -> str:
    """What hovering a result says: its path (and other copies); for a message, who wrote it
    to whom and when, above the file that holds it."""
    also = "".join(f"\nalso at {p}" for p in hit.also_at)
    labels = hit_labels(hit)
    if not labels.message:
        return hit.path + also
    lines = [labels.title, f"From: {field(hit, 'from') or 'unknown sender'}"]
    if field(hit, "to"):
        lines.append(f"To: {field(hit, 'to')}")
    if labels.date:
        lines.append(f"Date: {labels.date}")
    lines.append(f"In {hit.container or hit.path}")
    return "\n".join(lines) + also
