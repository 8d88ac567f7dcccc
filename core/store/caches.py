"""What a Store keeps in memory between queries, and how it knows when that is out of date.

Every connection a Store opens carries the Store's one ``StoreCaches`` (``LibraryConnection``),
so the search functions that take a connection find them without a global keyed by file name.

* Full-text term counts (they steer the BM25 plan and give ``ideal_score`` its IDF) are kept
  per *chunk version*: a counter in ``library_counts`` that every insert, delete or text change
  of a chunk advances, by trigger, in the same transaction (migration 0004). A count is reused
  only for the version it was made at, read from the reader's own snapshot, so a write by this
  Store, another Library or another process is seen by the very next query, never later.
* A vector space's sign-bit codes (``vector_index``) check the space's own state row on every
  use and catch up or reload themselves; this only holds them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import apsw

if TYPE_CHECKING:
    from .vector_index import Codes

MAX_TERM_COUNTS = 4096


class TermCounts:
    """Row counts of FTS phrases, valid for one chunk version (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = -1
        self._counts: dict[tuple[str, int], int] = {}

    def get(self, version: int, phrase: str, most: int) -> int | None:
        with self._lock:
            return self._counts.get((phrase, most)) if version == self._version else None

    def put(self, version: int, phrase: str, most: int, count: int) -> None:
        with self._lock:
            if version != self._version or len(self._counts) >= MAX_TERM_COUNTS:
                self._counts.clear()
                self._version = version
            self._counts[(phrase, most)] = count

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._version = -1


class StoreCaches:
    """The caches of one Store (one open library), shared by its connections."""

    def __init__(self) -> None:
        self.term_counts = TermCounts()
        self.codes_lock = threading.Lock()
        self.codes: dict[int, Codes] = {}  # vector space id -> its sign-bit codes

    def clear(self) -> None:
        self.term_counts.clear()
        with self.codes_lock:
            self.codes.clear()


class LibraryConnection(apsw.Connection):
    """An apsw connection that carries the caches of the Store that opened it."""

    caches: StoreCaches


def caches_of(conn: apsw.Connection) -> StoreCaches:
    """The caches ``conn`` shares with its Store; a connection opened some other way gets a
    fresh, empty set each time (correct, merely uncached)."""
    caches = getattr(conn, "caches", None)
    return caches if isinstance(caches, StoreCaches) else StoreCaches()
