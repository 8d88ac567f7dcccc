"""How fast a run goes and how long it has left, for words and for meaning separately.

Words: reading files into the word index. Their time left is measured in bytes, not files
(one 8 MB page takes as long as hundreds of notes). Meaning: computing vectors, measured in
chunks per second of embedding time, so the rate the first batches show while files are still
being read already predicts the rest. The chunks still to come are estimated from the chunks
the bytes read so far gave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_WORDS_S = 0.5  # below this much reading, no words rate is given (too noisy)
MIN_FILES = 3


@dataclass
class Pace:
    """Counters a run updates as it goes; :meth:`figures` turns them into speeds and times left.
    ``paused_s`` gives the time the run spent paused (left out of every speed)."""

    paused_s: Callable[[], float] = lambda: 0.0
    clock: Callable[[], float] = time.monotonic
    files_total: int = 0
    bytes_total: int = 0
    files_read: int = 0
    bytes_read: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    embed_s: float = 0.0
    _words_started: float | None = None
    _words_ended: float | None = None

    def start_words(self, files_total: int, bytes_total: int) -> None:
        self.files_total, self.bytes_total = files_total, bytes_total
        self._words_started = self.clock() - self.paused_s()

    def read(self, files: int, size: int, chunks: int) -> None:
        self.files_read += files
        self.bytes_read += size
        self.chunks_written += chunks

    def end_words(self) -> None:
        self._words_ended = self.clock() - self.paused_s()

    def embedded(self, chunks: int, seconds: float) -> None:
        self.chunks_embedded += chunks
        self.embed_s += seconds

    def words_elapsed(self) -> float:
        if self._words_started is None:
            return 0.0
        end = self._words_ended if self._words_ended is not None else self.clock() - self.paused_s()
        return max(0.0, end - self._words_started)

    def files_per_s(self) -> float | None:
        elapsed = self.words_elapsed()
        if self.files_read < MIN_FILES or elapsed < MIN_WORDS_S:
            return None
        return self.files_read / elapsed

    def chunks_per_s(self) -> float | None:
        if self.chunks_embedded == 0 or self.embed_s <= 0:
            return None
        return self.chunks_embedded / self.embed_s

    def words_left_s(self) -> float | None:
        if self._words_ended is not None or self.files_total == 0:
            return 0.0
        elapsed = self.words_elapsed()
        if self.bytes_read <= 0 or elapsed < MIN_WORDS_S or self.files_read < MIN_FILES:
            return None
        left = max(0, self.bytes_total - self.bytes_read)
        return left * elapsed / self.bytes_read

    def meaning_left_s(self, chunks_pending: int) -> float | None:
        """Time until every chunk has its vector: the words still to read, then the chunks
        waiting now and those the unread bytes will give, at the embedding rate."""
        rate = self.chunks_per_s()
        words_left = self.words_left_s()
        if chunks_pending <= 0 and words_left == 0.0:
            return 0.0
        if rate is None or words_left is None:
            return None
        coming = 0.0
        if self._words_ended is None and self.bytes_read > 0:
            coming = self.chunks_written / self.bytes_read * max(0, self.bytes_total - self.bytes_read)
        return words_left + (chunks_pending + coming) / rate
