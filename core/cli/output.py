"""Human and JSON renderings of core results for the terminal.

Every human line goes out through :func:`say` (or :func:`progress_line`), which shows any
control character, bidi override or invisible format character as a visible escape
(``\\x1b``, ``\\n``, ``\\u202e``): file names and document text cannot move the cursor, set
the clipboard (OSC 52), retitle the terminal, hide text or forge result lines. The only
control bytes Memex writes are its own bold/reset around highlights (when colour is on) and
``\\r\\033[K`` before a progress line. ``--json`` output is exact: JSON escapes C0 itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TextIO

from ..display_text import UNSAFE_CLASS, escape_char, safe
from ..errors import reason_words
from ..humanize import duration
from ..types import FileError, Hit, IndexProgress, IndexReport, LibraryStatus, SearchResults

BOLD, RESET = "\033[1m", "\033[0m"
ALSO_AT_SHOWN = 3  # copies of a result named under it; more are counted
CLEAR_LINE = "\r\033[K"  # back to the start of the line, erase it: the progress line's own bytes

_UNSAFE_OR_STYLE = re.compile(f"({re.escape(BOLD)}|{re.escape(RESET)})|[{UNSAFE_CLASS}]")


def _clean(line: str, styled: bool) -> str:
    if not styled:
        return safe(line)
    return _UNSAFE_OR_STYLE.sub(lambda m: m.group(1) or escape_char(m.group()), line)


def say(line: object = "", *, err: bool = False, styled: bool = False) -> None:
    """Print one human line, made safe (a line break inside it is shown, never obeyed).
    ``styled``: Memex's own bold/reset sequences are kept (the rest of the line must have
    been passed through :func:`safe` so that a document's copy of them is escaped)."""
    print(_clean(str(line), styled), file=sys.stderr if err else sys.stdout)


def say_lines(lines: Iterable[str], *, err: bool = False, styled: bool = False) -> None:
    for line in lines:
        say(line, err=err, styled=styled)


def progress_line(text: str, stream: TextIO | None = None) -> None:
    """Redraw the one updating line on ``stream`` (stderr by default)."""
    stream = stream or sys.stderr
    stream.write(CLEAR_LINE + safe(text))
    stream.flush()


def clear_progress(stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    stream.write(CLEAR_LINE)
    stream.flush()


def use_color(stream: TextIO | None = None) -> bool:
    """Whether to bold highlights: ``stream`` (stdout as it is now) is a terminal and
    NO_COLOR is unset."""
    return (stream or sys.stdout).isatty() and os.environ.get("NO_COLOR") is None


def to_json(value: object) -> str:
    def default(obj: object) -> object:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):  # an instance, not the class
            return dataclasses.asdict(obj)
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    return json.dumps(value, default=default, ensure_ascii=False, indent=2)


def hit_dict(rank: int, hit: Hit, showing_results_for: str | None = None) -> dict:
    """One result for ``--json``; ``showing_results_for``: the corrected query it was found
    for, when the typed one was corrected (else null)."""
    return {
        "rank": rank, "path": hit.path, "title": hit.title, "kind": hit.kind,
        "showing_results_for": showing_results_for,
        "page": hit.page, "ocr": hit.best.ocr, "score": hit.score, "reranked": hit.reranked,
        "related": hit.related, "also_at": list(hit.also_at),
        "fields": dict(hit.fields), "container": hit.container,
        "modified": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(hit.mtime)),
        "snippet": hit.snippet,
        "highlights": [[h.start, h.end] for h in hit.best.highlights],
        "chunks": [{"page": c.page, "char_start": c.char_start, "char_end": c.char_end,
                    "score": c.score, "snippet": c.snippet, "ocr": c.ocr} for c in hit.chunks],
    }


def marked_snippet(hit: Hit, before: str, after: str) -> str:
    """The hit's snippet made safe piece by piece, its highlights wrapped in before/after."""
    text, out, pos = hit.snippet, [], 0
    for h in hit.best.highlights:
        if h.start < pos or h.end <= h.start:
            continue
        out += [safe(text[pos:h.start], fold_space=True), before,
                safe(text[h.start:h.end], fold_space=True), after]
        pos = h.end
    out.append(safe(text[pos:], fold_space=True))
    return "".join(out)


def format_hits(hits: Sequence[Hit], color: bool) -> list[str]:
    """Result lines; with ``color`` they hold Memex's bold/reset (print with ``styled``)."""
    if not hits:
        return ["No matches. Try other words, or index more folders with: memex index FOLDER"]
    lines: list[str] = []
    for rank, hit in enumerate(hits, start=1):
        if hit.related and (rank == 1 or not hits[rank - 2].related):
            lines += ["Related (found by meaning, without your words):", ""]
        where = f"page {hit.page}" if hit.kind in {"pdf", "epub", "xps", "pptx", "xlsx"} else ""
        if hit.best.ocr:
            where = f"{where}, read by OCR" if where else "read by OCR"
        head = f"{rank:>2}. {safe(hit.path)}" + (f"  ({where})" if where else "")
        snippet = marked_snippet(hit, *(BOLD, RESET) if color else ("«", "»"))
        sender = mail_line(hit)
        lines += [head, *([f"    {sender}"] if sender else []), f"    {snippet}"]
        lines += [f"    also at {safe(path)}" for path in hit.also_at[:ALSO_AT_SHOWN]]
        if len(hit.also_at) > ALSO_AT_SHOWN:
            more = len(hit.also_at) - ALSO_AT_SHOWN
            lines.append(f"    also at {more} more place{'' if more == 1 else 's'}")
        lines.append("")
    return lines[:-1]


def mail_line(hit: Hit) -> str | None:
    """``From: Ann <ann@example.org> — Subject`` for a message, made safe; None for other hits."""
    sender = dict(hit.fields).get("from")
    if sender is None:
        return None
    subject = safe(hit.title or "(no subject)", fold_space=True)
    return f"From: {safe(sender, fold_space=True)} — {subject}"


def format_results(results: SearchResults, color: bool) -> list[str]:
    """:func:`format_hits`, after a "Showing results for …" line when the query was corrected."""
    lines = format_hits(results.hits, color)
    if results.showing_results_for:
        shown = safe(results.showing_results_for, fold_space=True)
        lines = [f"Showing results for {BOLD}{shown}{RESET}" if color else f"Showing results for: {shown}",
                 "", *lines]
    return lines


def format_report(report: IndexReport) -> list[str]:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.moved} moved",
             f"{report.removed} removed", f"{report.unchanged} unchanged",
             f"{report.failed} failed"]
    text = (f"Indexed in {report.seconds:.1f} s: " + ", ".join(parts)
            + f"; {report.chunks} chunks written, {report.embedded} embedded.")
    if report.cancelled:
        text += " Cancelled: run the same command again to continue."
    return [text] + [f"  skipped {safe(err.path)}: {safe(err.message)} [{safe(err.reason)}]"
                     for err in report.errors]


def format_pace(p: IndexProgress) -> str:
    """Speeds and time left, words and meaning apart, e.g. ``words 41 files/s, 12 s left;
    meaning 38 chunks/s, 4 min 10 s left`` ("" while nothing is known yet)."""
    parts = []
    if p.files_per_s is not None and p.words_left_s != 0.0:
        left = f", {duration(p.words_left_s)} left" if p.words_left_s is not None else ""
        parts.append(f"words {p.files_per_s:,.1f} files/s{left}")
    if p.chunks_per_s is not None and p.meaning_left_s != 0.0:
        left = f", {duration(p.meaning_left_s)} left" if p.meaning_left_s is not None else ""
        parts.append(f"meaning {p.chunks_per_s:,.1f} chunks/s{left}")
    return "; ".join(parts)


def ocr_progress(p: IndexProgress) -> str:
    """``reading scanned pages, 12 of 80`` ("" when no page waits for OCR in this run)."""
    if p.ocr_pages_total <= 0:
        return ""
    return f"reading scanned pages, {p.ocr_pages_done:,} of {p.ocr_pages_total:,}"


def format_progress(p: IndexProgress) -> str:
    if p.phase == "scanning":
        return "Scanning…"
    if p.phase == "ocr":
        pace = format_pace(p)
        return (f"[{p.files_done}/{p.files_total}] {ocr_progress(p)}, {p.chunks_embedded} embedded, "
                f"{len(p.errors)} errors{'  ' + pace if pace else ''}")[:160]
    current = safe(os.path.basename(p.current)) if p.current else ""
    pace = format_pace(p)
    return (f"[{p.files_done}/{p.files_total}] {p.chunks_written} chunks, "
            f"{p.chunks_embedded} embedded, {len(p.errors)} errors  {pace + '  ' if pace else ''}{current}")[:160]


PLAIN_PROGRESS_EVERY_S = 10.0  # between two progress lines in a log, unless the phase changes


def format_progress_summary(p: IndexProgress) -> str:
    """Progress as a plain sentence for logs, e.g. ``Indexing: 120 of 324 files, 2,400
    passages, 2,000 embedded, 1 failed`` (no file name: a log keeps every line)."""
    if p.phase == "scanning":
        return "Scanning: looking for files to index"
    if p.phase == "ocr":
        return (f"OCR: {ocr_progress(p)}; {p.chunks_written:,} passages, {p.chunks_embedded:,} embedded, "
                f"{len(p.errors):,} failed")
    pace = format_pace(p)
    return (f"{p.phase.capitalize()}: {p.files_done:,} of {p.files_total:,} files, "
            f"{p.chunks_written:,} passages, {p.chunks_embedded:,} embedded, {len(p.errors):,} failed"
            + (f" ({pace})" if pace else ""))


class PlainProgress:
    """Indexing progress as whole lines, for a stderr that is not a terminal (``nohup``, a pipe,
    a log file): one when a phase first starts, and at most one every ``every`` seconds
    between, so a long run is seen to move without filling the log. (While files are read,
    "indexing" and "embedding" take turns file by file: only their first turn is a line.)"""

    def __init__(self, stream: TextIO | None = None, every: float = PLAIN_PROGRESS_EVERY_S) -> None:
        self.stream = stream
        self.every = every
        self._seen: set[str] = set()
        self._last = 0.0

    def __call__(self, p: IndexProgress) -> None:
        now = time.monotonic()
        if p.phase in self._seen and now - self._last < self.every:
            return
        self._seen.add(p.phase)
        self._last = now
        print(safe(format_progress_summary(p)), file=self.stream or sys.stderr, flush=True)


def format_status(status: LibraryStatus) -> list[str]:
    mb = status.size_bytes / 1e6
    return [
        f"Library:   {safe(status.path)} ({mb:.1f} MB, schema {status.schema_version})",
        f"Sources:   {status.sources}",
        f"Documents: {status.documents} indexed, {status.failed} failed",
        f"Chunks:    {status.chunks} ({status.chunks_pending} waiting for vectors)",
        f"Embedder:  {safe(status.embedder or 'none yet')}",
        f"Reranker:  {safe(status.reranker or 'none')}",
        *([f"Hint:      {safe(status.language_hint)}"] if status.language_hint else []),
    ]


FAILED_SHOWN = 20  # failed files listed before "… and N more"

def failure_line(err: FileError) -> str:
    """``  path: damaged (message)``, every part made safe."""
    detail = f" ({safe(err.message)})" if err.message else ""
    return f"  {safe(err.path)}: {safe(reason_words(err.reason))}{detail}"


def files(n: int) -> str:
    return f"{n:,} file" if n == 1 else f"{n:,} files"


def format_failures(failures: Sequence[FileError], total: int) -> list[str]:
    """The failed files given, and a line for the ``total - len(failures)`` not shown."""
    lines = [failure_line(err) for err in failures]
    hidden = total - len(failures)
    if hidden > 0:
        lines.append(f"  … and {hidden:,} more (memex status --failed for all)")
    return lines


def failed_in_library_line(total: int) -> str:
    """The closing line of an index run: failed files in the whole library, not only this run."""
    return f"{files(total)} in the library could not be read (see memex status)."
