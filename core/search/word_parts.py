"""Words found inside longer words: a part of a compound ("versicherung" inside
"krankenversicherung") and a CJK word inside a run of characters written without spaces
(保险 inside 医疗保险制度). The main index holds whole words only (FTS5's unicode61 keeps a run
of CJK characters as one token and never splits compounds), so a query word is looked up
among the library's own words (``store.vocabulary``) and the words that hold it are searched
too, as alternatives of that word.

Which words are looked up, so English words do not drift to unrelated longer ones ("port" to
"support"): a CJK word always; a word of ``MIN_PART`` or more letters that the library does
not hold at all, wherever it sits in the longer word; a word of ``MIN_EDGE_PART`` or more
letters held by fewer than ``FEW`` chunks, only at the start or end of the longer word (where
compound parts sit: "Kranken|versicherung", "Versicherungs|schutz")."""

from __future__ import annotations

import re

from ..store import Connection
from ..store.fts import term_count
from ..store.vocabulary import Vocabulary, library_vocabulary
from .query import ParsedQuery

MIN_PART = 4
MIN_EDGE_PART = 6
MIN_EXTRA = 3  # letters the longer word has beyond the part, at least (else it is an inflection)
FEW = 5
MAX_ALTERNATIVES = 32  # words searched for one query word, at most: those most chunks hold
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def is_cjk(word: str) -> bool:
    """Whether ``word`` holds Chinese, Japanese or Korean characters."""
    return _CJK.search(word) is not None


def longer_words(part: str, vocabulary: Vocabulary, *, anywhere: bool,
                 limit: int = MAX_ALTERNATIVES) -> list[str]:
    """Library words holding ``part`` (anywhere, or only at their start or end), the ones
    most chunks hold first, at most ``limit``."""
    extra = 1 if is_cjk(part) else MIN_EXTRA
    found: list[tuple[int, str]] = []
    for word, chunks in zip(vocabulary.words, vocabulary.chunks, strict=True):
        if len(word) < len(part) + extra or part not in word:
            continue
        if anywhere or word.startswith(part) or word.endswith(part):
            found.append((chunks, word))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [word for _, word in found[:limit]]


def part_of_longer_words(word: str, vocabulary: Vocabulary) -> bool:
    """Whether ``word`` is found inside library words (so it is no misspelling)."""
    return bool(longer_words(word, vocabulary, anywhere=True, limit=1))


def alternatives(conn: Connection, query: ParsedQuery) -> dict[str, list[str]]:
    """For each query word searched by its parts, the library words that hold it."""
    found: dict[str, list[str]] = {}
    vocabulary: Vocabulary | None = None
    last = len(query.terms) - 1
    for i, term in enumerate(query.terms):
        if i == last and query.match_any is not None and query.match_any.endswith("*"):
            continue  # a prefix being typed already finds longer words
        cjk = is_cjk(term)
        if not cjk and len(term) < MIN_PART:
            continue
        held = 0 if cjk else term_count(conn, term)
        if not cjk and (held >= FEW or (held > 0 and len(term) < MIN_EDGE_PART)):
            continue
        if vocabulary is None:
            vocabulary = library_vocabulary(conn)
        words = longer_words(term, vocabulary, anywhere=cjk or held == 0)
        if words:
            found[term] = words
    return found


def with_parts(query: ParsedQuery, found: dict[str, list[str]]) -> str | None:
    """The query's MATCH expression (an OR of quoted words) with the words holding its parts
    added as further alternatives."""
    if query.match_any is None or not found:
        return query.match_any
    extra = [f'"{word}"' for words in found.values() for word in words]
    return " OR ".join([query.match_any, *extra])
