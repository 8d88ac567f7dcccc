"""Snippets: the part of a chunk that best matches the query, with the matches marked."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from ..types import Highlight
from .junk import readable

MAX_SUFFIX = 3  # "flow" ~ "flows", "boundary" ~ "boundaries", as the porter stemmer would
MIN_STEM = 4


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    lowered = ch.lower()[:1] or ch
    base = unicodedata.normalize("NFKD", lowered)[:1]
    return base if base and not unicodedata.combining(base) else lowered


def fold_text(text: str) -> str:
    """Lower-case, accent-free text with the same length as ``text`` (offsets stay valid)."""
    if text.isascii():
        return text.lower()
    return "".join(map(_fold_char, text))


class TermMatcher:
    """Finds words that match query terms up to a short suffix, in one regex pass."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.terms = tuple(terms)
        stems = {t if len(t) < MIN_STEM else t[:max(MIN_STEM, len(t) - MAX_SUFFIX)] for t in self.terms}
        alternatives = "|".join(re.escape(s) for s in sorted(stems, key=len, reverse=True))
        self._regex = re.compile(rf"(?<!\w)(?:{alternatives})\w*") if stems else None
        self._verdicts: dict[str, bool] = {}

    def _accepts(self, word: str) -> bool:
        verdict = self._verdicts.get(word)
        if verdict is None:
            verdict = self._verdicts[word] = self._judge(word)
        return verdict

    def _judge(self, word: str) -> bool:
        for t in self.terms:
            if word == t:
                return True
            common = len(os.path.commonprefix([word, t]))
            if common >= MIN_STEM and common >= max(len(word), len(t)) - MAX_SUFFIX:
                return True
        return False

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, folded word) of every matching word in ``text``."""
        if self._regex is None:
            return []
        folded = fold_text(text)
        return [(m.start(), m.end(), m.group()) for m in self._regex.finditer(folded)
                if self._accepts(m.group())]


def make_snippet(
    text: str, terms: Sequence[str] | TermMatcher, max_chars: int = 240
) -> tuple[str, tuple[Highlight, ...]]:
    """The ``max_chars`` window with the most distinct matched terms, cut at word boundaries,
    with ``…`` where text was left out, and the matched spans (offsets into the snippet)."""
    matcher = terms if isinstance(terms, TermMatcher) else TermMatcher(terms)
    hits = matcher.spans(text)[:200]
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
    body = " ".join(readable(text[start:end]).split())  # leaders shortened, letter-spacing undone
    snippet = ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")
    return snippet, tuple(Highlight(s, e) for s, e, _ in matcher.spans(snippet))


def mark(snippet: str, highlights: Sequence[Highlight], before: str, after: str) -> str:
    """Wrap each highlighted span (e.g. with ANSI bold, or ``<b>``…``</b>``)."""
    out, pos = [], 0
    for h in highlights:
        out += [snippet[pos:h.start], before, snippet[h.start:h.end], after]
        pos = h.end
    out.append(snippet[pos:])
    return "".join(out)
