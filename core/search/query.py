"""User text → a safe FTS5 MATCH expression and the terms to highlight.

Every term is wrapped in double quotes, so FTS5 operators (AND, NEAR, ``*``, ``:``, ``^``,
parentheses, stray quotes) in what people type are just text. A search reads its text once,
with :func:`parse_query`, and hands the :class:`ParsedQuery` to every path that needs it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TERMS = 64
_WORD = re.compile(r"\w+", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves
    """.split()
)


def fold(text: str) -> str:
    """Lower-case and strip accents, as the FTS5 tokenizer does (remove_diacritics 2)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def query_terms(text: str) -> list[str]:
    """Distinct folded words of the query, stopwords dropped unless nothing else is left."""
    words = [fold(w) for w in _WORD.findall(text)]
    seen: dict[str, None] = {}
    for w in words:
        if w and w not in seen:
            seen[w] = None
    terms = list(seen)
    content = [t for t in terms if t not in STOPWORDS]
    return (content or terms)[:MAX_TERMS]


@dataclass(frozen=True)
class ParsedQuery:
    """What a search reads from its text, once: the words (for highlighting), and the FTS5
    MATCH expressions for chunks (``match_any``: an OR) and for file names and titles
    (``match_all``: an AND); both None when the text has no searchable word. ``prefix_last``
    is what was asked; the last term of the expressions is a prefix only when the text also
    ends in a word character (search-as-you-type)."""

    text: str
    terms: tuple[str, ...]
    prefix_last: bool
    match_any: str | None
    match_all: str | None


def parse_query(text: str, prefix_last: bool = False) -> ParsedQuery:
    """Read ``text`` for searching: its terms and both MATCH expressions."""
    terms = tuple(query_terms(text))
    quoted = [f'"{t}"' for t in terms]
    if quoted and prefix_last and text and not text[-1].isspace() and _WORD.search(text[-1]):
        quoted[-1] += "*"
    return ParsedQuery(
        text=text, terms=terms, prefix_last=prefix_last,
        match_any=" OR ".join(quoted) if quoted else None,
        match_all=" AND ".join(quoted) if quoted else None)


def fts_match_expression(text: str, prefix_last: bool = False, all_terms: bool = False) -> str | None:
    """An OR of quoted terms (BM25 ranks documents with more and rarer terms first), or None
    when the text has no searchable word. ``prefix_last`` makes the last word a prefix, for
    search-as-you-type; ``all_terms`` asks for every term instead (an AND)."""
    parsed = parse_query(text, prefix_last)
    return parsed.match_all if all_terms else parsed.match_any
