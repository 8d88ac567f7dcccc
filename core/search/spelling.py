"""Spelling correction against the library's own words.

A query word is corrected only when the library does not hold it at all: not as a word (the
main index, stemmed, so "checkers" is held when "checker" is) and not inside a longer word (a
compound part or a CJK word, which ``word_parts`` finds). It is then replaced by the library
word closest to it in edits (a letter added, dropped, changed, or two swapped), the commoner
one first among equally close words; a word with no close enough library word stays as typed.
Words shorter than ``MIN_LENGTH``, with digits, or in CJK script are never corrected.

Candidates are found without comparing the typed word with every library word: a word within
``d`` edits has a length within ``d``, a set of letters that differs in ``2d`` letters at most
and a letter histogram within ``2d`` (each edit moves at most two counts), which vectorised
passes over the vocabulary check; only the few words that pass get a real edit distance."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from ..lazy_module import lazy
from ..store import Connection
from ..store.fts import holds_together, term_count
from ..store.vocabulary import Vocabulary, library_vocabulary
from .query import MAX_TERMS, STOPWORDS, fold, parse_query
from .word_parts import is_cjk, part_of_longer_words

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported on first use: a bm25 search or a status never needs it

MIN_LENGTH = 4
MAX_LENGTH = 32
_BINS = 32  # letters by code point modulo 32: a-z in bins of their own, other letters shared
_WORD = re.compile(r"\w+", re.UNICODE)


def max_edits(word: str) -> int:
    """How far a correction may be: one edit for words up to 5 letters, two beyond."""
    return 1 if len(word) <= 5 else 2


def edit_distance(a: str, b: str, most: int) -> int:
    """Optimal string alignment distance (insert, delete, substitute, swap two neighbours),
    or ``most + 1`` as soon as it is sure to exceed ``most``."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > most:
            return most + 1
        before, previous = previous, current
    return previous[-1]


@dataclass(eq=False)
class _Index:
    """The vocabulary's correctable words with their lengths, letter sets (one bit per bin)
    and letter histograms."""

    words: list[str]
    chunks: np.ndarray
    lengths: np.ndarray
    letter_sets: np.ndarray
    histograms: np.ndarray


_INDEX_LOCK = threading.Lock()
_INDEXES: weakref.WeakKeyDictionary[Vocabulary, _Index] = weakref.WeakKeyDictionary()


@cache
def _bits_in_byte() -> np.ndarray:
    return np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _bits_set(values: np.ndarray) -> np.ndarray:
    """How many bits each uint32 of ``values`` has set (numpy's own needs numpy 2)."""
    return _bits_in_byte()[values.view(np.uint8)].reshape(-1, 4).sum(axis=1)


def _histogram(word: str) -> np.ndarray:
    counts = np.zeros(_BINS, np.int16)
    for ch in word:
        counts[ord(ch) % _BINS] += 1
    return counts


def _index(vocabulary: Vocabulary) -> _Index:
    with _INDEX_LOCK:
        found = _INDEXES.get(vocabulary)
    if found is not None:
        return found
    pairs = [(w, c) for w, c in zip(vocabulary.words, vocabulary.chunks, strict=True)
             if MIN_LENGTH - 2 <= len(w) <= MAX_LENGTH and w.isalpha() and not is_cjk(w)]
    words = [w for w, _ in pairs]
    histograms = np.zeros((len(words), _BINS), np.int16)
    for row, word in enumerate(words):
        for ch in word:
            histograms[row, ord(ch) % _BINS] += 1
    letter_sets = ((histograms > 0).astype(np.uint32) << np.arange(_BINS, dtype=np.uint32)).sum(
        axis=1, dtype=np.uint32)
    index = _Index(words, np.array([c for _, c in pairs], np.int64),
                   np.array([len(w) for w in words], np.int16), letter_sets, histograms)
    with _INDEX_LOCK:
        _INDEXES[vocabulary] = index
    return index


def closest_word(word: str, vocabulary: Vocabulary) -> str | None:
    """The library word closest to ``word`` within :func:`max_edits` (fewest edits; then one
    with the same first letter; then the one most chunks hold), or None. A word two edits
    away must keep the first letter: people seldom mistype it, and "remember" is not a typo
    of "december"."""
    most = max_edits(word)
    index = _index(vocabulary)
    if not index.words:
        return None
    histogram = _histogram(word)
    letters = np.uint32(sum(1 << i for i in range(_BINS) if histogram[i]))
    # Each edit changes the set of letters by two at most, and the histogram by two at most.
    rows = np.flatnonzero((np.abs(index.lengths - len(word)) <= most)
                          & (_bits_set(index.letter_sets ^ letters) <= 2 * most))
    letter_gap = np.abs(index.histograms[rows] - histogram).sum(axis=1)
    length_gap = np.abs(index.lengths[rows] - len(word))
    for edits in range(1, most + 1):  # words one edit away first: only if none, two
        best: tuple[int, int] | None = None
        choice = None
        for row in rows[(length_gap <= edits) & (letter_gap <= 2 * edits)]:
            candidate = index.words[int(row)]
            if candidate == word or (edits > 1 and candidate[0] != word[0]):
                continue  # two edits that include the first letter: another word, not a typo
            if edit_distance(word, candidate, edits) > edits:
                continue
            key = (int(candidate[0] != word[0]), -int(index.chunks[row]))
            if best is None or key < best:
                best, choice = key, candidate
        if choice is not None:
            return choice
    return None


def correctable(word: str) -> bool:
    return MIN_LENGTH <= len(word) <= MAX_LENGTH and word.isalpha() and word not in STOPWORDS and not is_cjk(word)


def corrected_text(text: str, correct: Callable[[str], str | None], prefix_last: bool = False) -> str | None:
    """``text`` with each word ``correct`` replaces (folded words; punctuation, spacing and the
    other words kept), or None when no word changes. With ``prefix_last`` a last word still
    being typed (no space after it) is left alone."""
    spans = list(_WORD.finditer(text))
    if prefix_last and spans and spans[-1].end() == len(text):
        spans = spans[:-1]
    pieces: list[str] = []
    last = 0
    changed = False
    decided: dict[str, str | None] = {}
    for match in spans:
        word = fold(match.group())
        if word not in decided:  # as many words as a query searches for, at most
            decided[word] = correct(word) if correctable(word) and len(decided) < MAX_TERMS else None
        replacement = decided[word]
        if replacement is not None and replacement != word:
            pieces += [text[last:match.start()], replacement]
            last, changed = match.end(), True
    return "".join(pieces) + text[last:] if changed else None


def suggest(conn: Connection, text: str, prefix_last: bool = False) -> str | None:
    """The query ``text`` with its misspelled words corrected against the library's words, or
    None when every word is held by the library, when a word has no close library word, or
    when no chunk holds the corrected words together: a correction is shown only when it
    turns a query that cannot match into one that does ("borow chekcer" → "borrow checker"),
    never a query about something the library lacks into one about something else
    ("Tre Cime via ferrata" stays as typed rather than become "Tre come via ferrata")."""
    vocabulary: list[Vocabulary] = []  # read once, and only when a word is missing

    def words() -> Vocabulary:
        if not vocabulary:
            vocabulary.append(library_vocabulary(conn))
        return vocabulary[0]

    def correct(word: str) -> str | None:
        if term_count(conn, word) > 0 or part_of_longer_words(word, words()):
            return None
        return closest_word(word, words())

    corrected = corrected_text(text, correct, prefix_last)
    if corrected is None:
        return None
    terms = parse_query(corrected, prefix_last).terms
    typing = prefix_last and bool(_WORD.search(corrected[-1:]))
    together: list[str] = []  # the words held as words, which one chunk must hold together
    for i, term in enumerate(terms):
        if term.isdigit() or (typing and i == len(terms) - 1):
            continue  # a number, or a word still being typed, is not asked to match
        if term_count(conn, term) > 0:
            together.append(term)
        elif not part_of_longer_words(term, words()):
            return None  # a word the library lacks is left: the query cannot match anyway
    return corrected if not together or holds_together(conn, together) else None
