"""The library's own words and how many chunks hold each, read from the word index of
migration 0005 (``chunks_words``: words as written, folded but not stemmed; its vocabulary
table ``chunks_words_vocab``). Spelling correction picks its corrections from these words, and
a word found inside longer ones (a part of a German compound, a Chinese word inside a run of
characters that has no spaces) is looked up among them.

Reading the whole vocabulary walks the word index (about 50 ms at 20,000 chunks), so it is
read only when a query needs it and kept per Store until chunks change; a large library that
changes all the time (while indexing) reads it again at most every ``RELOAD_AFTER`` seconds,
which only delays new words as corrections (whether a typed word is in the library is always
asked of the live index)."""

from __future__ import annotations

import re
import threading
import time
import weakref
from dataclasses import dataclass

import apsw

from .caches import StoreCaches, caches_of
from .counts import library_counts
from .sql import one_int, one_row, rows

RELOAD_AFTER = 10.0  # seconds: the least time between two reads of a vocabulary that changed
QUICK_LOAD = 0.05  # seconds: a vocabulary this quick to read is read again at every change
MAX_WORD = 64  # longer "words" are runs of characters with no spaces (ids, encoded data, CJK prose)
_DIGIT = re.compile(r"[0-9]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(eq=False)
class Vocabulary:
    """The words of a library, sorted, and how many chunks hold each (aligned lists). Words
    with digits are left out (numbers, ids, hashes: nothing to correct towards), except in runs
    of CJK characters, where a number is part of the text."""

    words: list[str]
    chunks: list[int]

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class _Held:
    version: tuple[int, int] = (-1, -1)  # (chunk version, schema version): a migration adds words
    loaded_at: float = 0.0
    load_seconds: float = 0.0
    vocabulary: Vocabulary | None = None


_LOCK = threading.Lock()
_HELD: weakref.WeakKeyDictionary[StoreCaches, _Held] = weakref.WeakKeyDictionary()


def has_word_index(conn: apsw.Connection) -> bool:
    """Whether the library has the word index (a read-only library may predate it)."""
    return one_row(conn, "SELECT 1 FROM sqlite_schema WHERE name = 'chunks_words_vocab'") is not None


def library_vocabulary(conn: apsw.Connection) -> Vocabulary:
    """The library's words (see the module docstring for how long a read is reused); empty
    when the library has no word index."""
    caches = caches_of(conn)
    version = (library_counts(conn).chunk_version, one_int(conn, "PRAGMA user_version"))
    with _LOCK:
        held = _HELD.setdefault(caches, _Held())
        fresh = held.vocabulary is not None and (
            held.version == version
            or (held.load_seconds > QUICK_LOAD and time.monotonic() - held.loaded_at < RELOAD_AFTER))
        if fresh and held.vocabulary is not None:
            return held.vocabulary
    started = time.monotonic()
    vocabulary = _read(conn)
    with _LOCK:
        _HELD[caches] = _Held(version, time.monotonic(), time.monotonic() - started, vocabulary)
    return vocabulary


def forget_vocabulary(caches: StoreCaches) -> None:
    """Drop the words a Store keeps (to give the memory back while the app is idle)."""
    with _LOCK:
        _HELD.pop(caches, None)


def _read(conn: apsw.Connection) -> Vocabulary:
    if not has_word_index(conn):
        return Vocabulary([], [])
    words: list[str] = []
    chunks: list[int] = []
    for word, count in rows(conn, "SELECT term, doc FROM chunks_words_vocab"):
        text = str(word)
        if len(text) > MAX_WORD or (_DIGIT.search(text) and not _CJK.search(text)):
            continue
        words.append(text)
        chunks.append(int(count))
    return Vocabulary(words, chunks)  # the vocabulary table answers in term order


def sample_chunk_texts(conn: apsw.Connection, count: int) -> list[str]:
    """The texts of up to ``count`` chunks spread evenly over the library (one indexed read
    each, whatever the library's size)."""
    row = one_row(conn, "SELECT min(id), max(id) FROM chunks")
    if row is None or row[0] is None:
        return []
    low, high = int(row[0]), int(row[1])
    step = max(1, (high - low + 1) // max(1, count))
    texts: list[str] = []
    seen: set[int] = set()
    for start in range(low, high + 1, step):
        found = one_row(conn, "SELECT id, text FROM chunks WHERE id >= ? ORDER BY id LIMIT 1", (start,))
        if found is not None and int(found[0]) not in seen:
            seen.add(int(found[0]))
            texts.append(str(found[1]))
        if len(texts) >= count:
            break
    return texts
