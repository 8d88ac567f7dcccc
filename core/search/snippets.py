"""Snippets: the part of a chunk that best matches the query, with the matches marked."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..types import Highlight
from .query import fold

_WORD = re.compile(r"\w+", re.UNICODE)


def _matches(word: str, terms: Sequence[str]) -> bool:
    """A word matches a term if they agree up to a short suffix ("flows" ~ "flow",
    "boundaries" ~ "boundary"), like the porter stemmer the index uses."""
    w = fold(word)
    for t in terms:
        if w == t:
            return True
        common = 0
        for a, b in zip(w, t, strict=False):
            if a != b:
                break
            common += 1
        if common >= 4 and common >= max(len(w), len(t)) - 3:
            return True
    return False


def make_snippet(
    text: str, terms: Sequence[str], max_chars: int = 240
) -> tuple[str, tuple[Highlight, ...]]:
    """The ``max_chars`` window with the most distinct matched terms, cut at word boundaries,
    with ``…`` where text was left out, and the matched spans (offsets into the snippet)."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    hits = [(s, e, fold(w)) for s, e, w in words if terms and _matches(w, terms)]
    start = 0
    if hits and len(text) > max_chars:
        best_count = -1
        for i, (s, _, _) in enumerate(hits):
            window = {h[2] for h in hits[i:] if h[1] <= s + max_chars}
            if len(window) > best_count:
                best_count, start = len(window), s
        start = max(0, start - max_chars // 4)
    end = min(len(text), start + max_chars)
    if start > 0:
        space = text.find(" ", start, start + 30)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", end - 30, end)
        end = space if space > start else end
    body = " ".join(text[start:end].split())
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    snippet = prefix + body + suffix
    spans = tuple(
        Highlight(m.start(), m.end())
        for m in _WORD.finditer(snippet)
        if terms and _matches(m.group(), terms)
    )
    return snippet, spans


def mark(snippet: str, highlights: Sequence[Highlight], before: str, after: str) -> str:
    """Wrap each highlighted span (e.g. with ANSI bold, or ``<b>``…``</b>``)."""
    out, pos = [], 0
    for h in highlights:
        out += [snippet[pos:h.start], before, snippet[h.start:h.end], after]
        pos = h.end
    out.append(snippet[pos:])
    return "".join(out)
