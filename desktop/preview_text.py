"""What the preview says in words: a page's text as HTML with the passage and the query's
words marked, and the header's name, place and details for a file or a message."""

from __future__ import annotations

from memex.core.api import RENDERABLE_KINDS, match_spans
from memex.core.types import ChunkHit, Hit

from . import fmt

MAX_PREVIEW_CHARS = 60_000


def page_html(text: str, chunk_text: str, query: str, mark: str, passage: str) -> str:
    """The page text as HTML: the passage (``chunk_text``, where it is found) on a tinted
    background behind an anchor named ``passage``, the query's words marked everywhere."""
    start = text.find(chunk_text) if chunk_text else -1
    if start < 0 and chunk_text:
        start = text.find(chunk_text[:80])
    if len(text) > MAX_PREVIEW_CHARS:  # a huge "page" (a long text file): show the part around the passage
        begin = max(0, (start if start >= 0 else 0) - MAX_PREVIEW_CHARS // 3)
        newline = text.rfind("\n", max(0, begin - 2000), begin)
        begin = newline + 1 if newline >= 0 else begin
        cut = text[begin:begin + MAX_PREVIEW_CHARS]
        text = ("…\n" if begin else "") + cut + ("\n…" if begin + MAX_PREVIEW_CHARS < len(text) else "")
        start = text.find(chunk_text) if chunk_text else -1
    spans = match_spans(text, query)
    if start < 0:
        body = fmt.marked_html(text, spans, mark)
    else:
        end = min(len(text), start + len(chunk_text))

        def part(a: int, b: int) -> str:
            return fmt.marked_html(text[a:b], [(s - a, e - a) for s, e in spans if s >= a and e <= b], mark)

        body = (part(0, start) + f'<a name="passage"></a><span style="{passage}">' + part(start, end)
                + "</span>" + part(end, len(text)))
    return f'<div style="white-space:pre-wrap; line-height:145%;">{body}</div>'


def renderable(hit: Hit) -> bool:
    """Whether the document is drawn as pages: a paged format or a picture on disk (a document
    inside another file, such as an attachment, shows its text)."""
    return hit.kind in RENDERABLE_KINDS and hit.container is None


def header_texts(hit: Hit, chunk: ChunkHit) -> tuple[str, str, str]:
    """The header's name, place and the rest: a file's name, folder, page and date; a
    message's subject, sender, date and the mailbox holding it."""
    labels = fmt.hit_labels(hit)
    bits = []
    if labels.message:
        bits += [labels.date] if labels.date else []
    else:
        page = fmt.page_label(hit.kind, chunk.page)
        bits += [page] if page else []
    if hit.container and labels.message:
        bits.append(f"in {fmt.file_name(hit.container)}")
    if hit.mtime and not labels.message:
        bits.append(f"modified {fmt.short_date(hit.mtime)}")
    if chunk.ocr:
        bits.append("read by OCR")
    return labels.title, labels.place, "".join(f"  ·  {bit}" for bit in bits)
