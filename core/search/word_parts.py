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
from ..store.fts import term_count
from ..store.vocabulary import Vocabulary, library_vocabulary
from .query import ParsedQuery

MIN_PART = 5
FEW = 5
MAX_ALTERNATIVES = 32  # words searched for one query word, at most: those most chunks hold
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


def part_of_longer_words(word: str, vocabulary: Vocabulary) -> bool:
    """Whether ``word`` is searched inside library words (so it is no misspelling): a CJK word
    or one of ``MIN_PART`` letters or more that some library word holds."""
    if len(word) < MIN_PART and not is_cjk(word):
        return False
    return bool(longer_words(word, vocabulary, anywhere=True, limit=1))


def alternatives(conn: Connection, query: ParsedQuery) -> dict[str, list[str]]:
    """For each query word searched by its parts, the library words that hold it."""
    found: dict[str, list[str]] = {}
    vocabulary: Vocabulary | None = None
    last = len(query.terms) - 1
    typing = query.match_any is not None and query.match_any.endswith("*")
    for i, term in enumerate(query.terms):
        cjk = is_cjk(term)
        if not cjk and len(term) < MIN_PART:
            continue
        # a word being typed (a prefix) is held when words starting with it are
        held = 0 if cjk else term_count(conn, term, prefix=typing and i == last)
        if not cjk and held >= FEW:
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
