"""Human and JSON renderings of core results for the terminal."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence

from ..search.snippets import mark
from ..types import Hit, IndexProgress, IndexReport, LibraryStatus

BOLD, RESET = "\033[1m", "\033[0m"


def use_color(stream=sys.stdout) -> bool:
    return stream.isatty() and os.environ.get("NO_COLOR") is None


def to_json(value: object) -> str:
    def default(obj: object) -> object:
        if dataclasses.is_dataclass(obj):
            return dataclasses.asdict(obj)  # type: ignore[arg-type]
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    return json.dumps(value, default=default, ensure_ascii=False, indent=2)


def hit_dict(rank: int, hit: Hit) -> dict:
    return {
        "rank": rank, "path": hit.path, "title": hit.title, "kind": hit.kind,
        "page": hit.page, "score": hit.score, "reranked": hit.reranked,
        "modified": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(hit.mtime)),
        "snippet": hit.snippet,
        "highlights": [[h.start, h.end] for h in hit.best.highlights],
        "chunks": [{"page": c.page, "char_start": c.char_start, "char_end": c.char_end,
                    "score": c.score, "snippet": c.snippet} for c in hit.chunks],
    }


def format_hits(hits: Sequence[Hit], color: bool) -> str:
    if not hits:
        return "No matches. Try other words, or index more folders with: memex index FOLDER"
    lines = []
    for rank, hit in enumerate(hits, start=1):
        where = f"page {hit.page}" if hit.kind in {"pdf", "epub", "xps", "pptx", "xlsx"} else ""
        head = f"{rank:>2}. {hit.path}" + (f"  ({where})" if where else "")
        snippet = mark(hit.snippet, hit.best.highlights, *(BOLD, RESET) if color else ("«", "»"))
        lines += [head, f"    {snippet}", ""]
    return "\n".join(lines).rstrip()


def format_report(report: IndexReport) -> str:
    parts = [f"{report.added} added", f"{report.updated} updated", f"{report.moved} moved",
             f"{report.removed} removed", f"{report.unchanged} unchanged",
             f"{report.failed} failed"]
    text = (f"Indexed in {report.seconds:.1f} s: " + ", ".join(parts)
            + f"; {report.chunks} chunks written, {report.embedded} embedded.")
    if report.cancelled:
        text += " Cancelled: run the same command again to continue."
    for err in report.errors:
        text += f"\n  skipped {err.path}: {err.message} [{err.reason}]"
    return text


def format_progress(p: IndexProgress) -> str:
    if p.phase == "scanning":
        return "Scanning…"
    current = os.path.basename(p.current) if p.current else ""
    return (f"[{p.files_done}/{p.files_total}] {p.chunks_written} chunks, "
            f"{p.chunks_embedded} embedded, {len(p.errors)} errors  {current}")[:120]


def format_status(status: LibraryStatus) -> str:
    mb = status.size_bytes / 1e6
    return "\n".join([
        f"Library:   {status.path} ({mb:.1f} MB, schema {status.schema_version})",
        f"Sources:   {status.sources}",
        f"Documents: {status.documents} indexed, {status.failed} failed",
        f"Chunks:    {status.chunks} ({status.chunks_pending} waiting for vectors)",
        f"Embedder:  {status.embedder or 'none yet'}",
        f"Reranker:  {status.reranker or 'none'}",
    ])
