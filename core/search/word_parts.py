"""Words found inside longer words: a part of a compound ("versicherung" inside
"krankenversicherung") and a CJK word inside a run of characters written without spaces
(保险 inside 医疗保险制度). The main index holds whole words only (FTS5's unicode61 keeps a run
of CJK characters as one token and never splits compounds), so a query word is looked up
among the library's own words (``store.vocabulary``) and the words that hold it are searched
too, as alternatives of that word.

Which words are looked up, so English words do not drift to unrelated longer ones ("port" to
"support"): a CJK word always; a word of ``MIN_PART`` or more letters that the library does
not hold at all, wherever it sits in the longer word; one held by fewer than ``FEW`` chunks,
only at the start or end of the longer word (where compound parts sit: "Kranken|versicherung",
"Versicherungs|schutz"). Parts shorter than five letters ("Haus" in "Krankenhaus") are left
out: among English words they match too much that is unrelated."""

from __future__ import annotations

import bisect
import re
import threading
import weakref
from dataclasses import dataclass

from ..store import Connection
from ..store.fts import bm25_search, cjk_search, gram_quorum, has_cjk_grams, term_count, word_grams
from ..store.vocabulary import Vocabulary, library_vocabulary
from ..types import SearchFilters
from .query import ParsedQuery

MIN_PART = 5
FEW = 5
MAX_ALTERNATIVES = 32  # words searched for one query word, at most: those most chunks hold
# A CJK word sits inside runs of characters that are as long as a clause and mostly unique, so
# it needs many more to reach the chunks that hold it (in a library without the CJK index).
MAX_CJK_ALTERNATIVES = 512
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def is_cjk(word: str) -> bool:
    """Whether ``word`` holds Chinese, Japanese or Korean characters."""
    return _CJK.search(word) is not None


@dataclass(eq=False)
class _Joined:
    """The vocabulary as one string, each word after a line break, and where each word starts:
    finding a part in every word is then one C-speed search instead of a loop over words."""

    text: str
    starts: list[int]


_JOINED_LOCK = threading.Lock()
_JOINED: weakref.WeakKeyDictionary[Vocabulary, _Joined] = weakref.WeakKeyDictionary()


def _joined(vocabulary: Vocabulary) -> _Joined:
    with _JOINED_LOCK:
        found = _JOINED.get(vocabulary)
        if found is None:
            starts, at = [], 1
            for word in vocabulary.words:
                starts.append(at)
                at += len(word) + 1
            found = _JOINED[vocabulary] = _Joined("\n" + "\n".join(vocabulary.words) + "\n", starts)
        return found


def _holding(part: str, vocabulary: Vocabulary) -> list[int]:
    """Indexes of the vocabulary's words that hold ``part``."""
    joined = _joined(vocabulary)
    found: list[int] = []
    at = joined.text.find(part)
    while at >= 0:
        index = bisect.bisect_right(joined.starts, at) - 1
        if not found or found[-1] != index:
            found.append(index)
        at = joined.text.find(part, at + 1)
    return found


def longer_words(part: str, vocabulary: Vocabulary, *, anywhere: bool,
                 limit: int = MAX_ALTERNATIVES) -> list[str]:
    """Library words holding ``part`` (anywhere, or only at their start or end), the ones
    most chunks hold first, at most ``limit``."""
    if not part or "\n" in part:
        return []
    found: list[tuple[int, str]] = []
    for index in _holding(part, vocabulary):
        word = vocabulary.words[index]
        if len(word) > len(part) and (anywhere or word.startswith(part) or word.endswith(part)):
            found.append((vocabulary.chunks[index], word))
    found.sort(key=lambda item: (-item[0], item[1]))
    return [word for _, word in found[:limit]]


def gram_words(word: str, vocabulary: Vocabulary, limit: int = MAX_CJK_ALTERNATIVES) -> list[str]:
    """Library words holding a quorum (``store.fts.gram_quorum``) of the three-character pieces
    of the long CJK ``word`` that library words hold, those holding most pieces first, then
    those most chunks hold."""
    holding: dict[int, int] = {}
    held = 0
    for gram in word_grams(word):
        found = _holding(gram, vocabulary)
        held += bool(found)
        for index in found:
            holding[index] = holding.get(index, 0) + 1
    quorum = gram_quorum(held)
    ranked = sorted((-count, -vocabulary.chunks[index], vocabulary.words[index])
                    for index, count in holding.items() if count >= quorum)
    return [w for _, _, w in ranked[:limit]]


def part_of_longer_words(word: str, vocabulary: Vocabulary) -> bool:
    """Whether ``word`` is searched inside library words (so it is no misspelling): a CJK word
    or one of ``MIN_PART`` letters or more that some library word holds."""
    if len(word) < MIN_PART and not is_cjk(word):
        return False
    return bool(longer_words(word, vocabulary, anywhere=True, limit=1))


def lexical_search(conn: Connection, query: ParsedQuery, depth: int, filters: SearchFilters | None
                   ) -> list[tuple[int, float]]:
    """BM25 over the chunks for the query's words and the library words holding a query word as
    a part; a CJK word is searched in the CJK index (any three characters of the text), where
    the library has one, and its chunks' scores are added to those of the other words."""
    if query.match_any is None:
        return []
    cjk = [t for t in query.terms if is_cjk(t)] if has_cjk_grams(conn) else []
    found = alternatives(conn, query, cjk=not cjk)
    lexical = bm25_search(conn, with_parts(query, found) or query.match_any, depth, filters)
    if not cjk:
        return lexical
    scores = dict(lexical)
    for chunk, score in cjk_search(conn, cjk, depth, filters):
        scores[chunk] = scores.get(chunk, 0.0) + score
    return sorted(scores.items(), key=lambda item: -item[1])[:depth]


def alternatives(conn: Connection, query: ParsedQuery, *, cjk: bool = True) -> dict[str, list[str]]:
    """For each query word searched by its parts, the library words that hold it (CJK words
    too unless ``cjk`` is False)."""
    found: dict[str, list[str]] = {}
    vocabulary: Vocabulary | None = None
    last = len(query.terms) - 1
    typing = query.match_any is not None and query.match_any.endswith("*")
    for i, term in enumerate(query.terms):
        is_word_cjk = is_cjk(term)
        if is_word_cjk and not cjk:
            continue
        if not is_word_cjk and len(term) < MIN_PART:
            continue
        # a word being typed (a prefix) is held when words starting with it are
        held = 0 if is_word_cjk else term_count(conn, term, prefix=typing and i == last)
        if not is_word_cjk and held >= FEW:
            continue
        if vocabulary is None:
            vocabulary = library_vocabulary(conn)
        words = longer_words(term, vocabulary, anywhere=is_word_cjk or held == 0,
                             limit=MAX_CJK_ALTERNATIVES if is_word_cjk else MAX_ALTERNATIVES)
        if is_word_cjk and len(term) > 3:  # a run searched by its pieces (see ``store.fts.cjk_search``)
            words = list(dict.fromkeys([*words, *gram_words(term, vocabulary)]))[:MAX_CJK_ALTERNATIVES]
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
