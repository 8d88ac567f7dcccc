"""Vectors for the chunks that wait for one: the "meaning" half of indexing.

Words come first: while a run reads files, only the first ``EARLY_CHUNKS`` chunks are embedded,
and only once the reading has taken ``EARLY_AFTER_S`` (so a search by meaning answers within
seconds of a long run's start, and a short run's words are not held up); the rest waits until
every file of the run is searchable by words. Then the backlog is embedded newest file first (what the user is most
likely to look for), ``FETCH_CHUNKS`` at a time, each lot written in one transaction. A text
that repeats across files (a licence header, a boilerplate footer) is embedded once per run
(:class:`VectorCache`). A restart simply continues the ``embedded = 0`` backlog.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from ..jobs import JobControl
from ..store import Connection
from ..store.chunks import count_pending, existing_ids, mark_embedded, pending_chunks, pending_chunks_in
from ..store.connection import write_transaction
from ..store.vectors import VectorSpace, insert_vectors, space_state
from .pace import Pace

Embed = Callable[..., np.ndarray]  # (texts, *, narrow=False): ``Embedder.embed_documents`` with its batch size
FETCH_CHUNKS = 256  # chunks read, embedded and written in one transaction
EARLY_CHUNKS = 32  # chunks embedded while files are still being read (time to first result)
EARLY_BATCH = 32  # … at most this many between two files
EARLY_AFTER_S = 2.0  # … once files have been read this long (a shorter reading is followed by every vector)
CACHE_ENTRIES = 4096  # vectors kept for repeated texts (1.5 KB each at 384 dimensions)


class VectorCache:
    """Vectors of recently embedded chunk texts, keyed by a digest of the text (LRU, bounded)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self.hits = 0
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def clear(self) -> None:
        self._vectors.clear()

    def embed(self, embed: Embed, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` in order; each distinct text not in the cache is embedded once."""
        keys = [self.key(t) for t in texts]
        todo: dict[bytes, int] = {}  # key -> index of its first text, for texts not cached
        for i, k in enumerate(keys):
            if k not in self._vectors and k not in todo:
                todo[k] = i
        fresh = embed([texts[i] for i in todo.values()]) if todo else None
        for row, k in enumerate(todo):
            assert fresh is not None
            self._vectors[k] = fresh[row]
        self.hits += len(texts) - len(todo)
        out = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)
        for k in keys:
            self._vectors.move_to_end(k)
        while len(self._vectors) > self.entries:
            self._vectors.popitem(last=False)
        return out


class MeaningQueue:
    """Embeds a library's waiting chunks for one run. ``respace`` gives the active space and its
    embedder when the library switched models during the run (None: stop, the chunks wait)."""

    def __init__(self, conn: Connection, embed: Embed | None, space: VectorSpace | None, job: JobControl,
                 pace: Pace, guard: Callable[[], None], report: Callable[[bool], None],
                 respace: Callable[[], tuple[VectorSpace, Embed]] | None = None,
                 crowded: Callable[[], bool] = lambda: False) -> None:
        self.conn = conn
        self.embed = embed
        self.space = space
        self.job = job
        self.pace = pace
        self.guard = guard
        self.report = report  # called before each lot (True: the report is forced)
        self.respace = respace
        self.crowded = crowded  # True: other heavy work runs beside (OCR): leave it a core
        self.cache = VectorCache()
        self.pending = count_pending(conn)
        self._early_left = EARLY_CHUNKS
        self._written: list[tuple[int, int]] = []  # (mtime_ns, document id) written this run

    def wrote(self, document_id: int, mtime_ns: int, chunks: int) -> None:
        """A document's chunks were written and now wait for vectors."""
        if chunks:
            self._written.append((mtime_ns, document_id))
            self.pending += chunks

    def recount(self) -> None:
        self.pending = count_pending(self.conn)

    def early(self) -> None:
        """Between two files: embed one lot while the run's early share is not used up."""
        if (self.embed is None or self._early_left <= 0 or self.pending < min(EARLY_BATCH, self._early_left)
                or self.pace.words_elapsed() < EARLY_AFTER_S):
            return
        self.job.checkpoint()
        lot = pending_chunks(self.conn, min(EARLY_BATCH, self._early_left))
        self._early_left -= len(lot)
        self._embed_lot(lot, force=False, narrow=True)  # beside the extraction process

    def drain(self) -> None:
        """Embed until no chunk waits: this run's documents newest first, then any backlog
        (an earlier run's, another process's) oldest first. The end asks the library, not
        this run's own count, so a run never ends with chunks left behind."""
        newest_first = [doc for _, doc in sorted(self._written, reverse=True)]
        self._written = []
        for start in range(0, len(newest_first), FETCH_CHUNKS):
            lot = pending_chunks_in(self.conn, newest_first[start:start + FETCH_CHUNKS])
            for part in range(0, len(lot), FETCH_CHUNKS):
                if not self._embed_checked(lot[part:part + FETCH_CHUNKS]):
                    return
        while True:
            lot = pending_chunks(self.conn, FETCH_CHUNKS)
            if not lot:
                self.pending = 0
                return
            if not self._embed_checked(lot):
                return

    def _embed_checked(self, lot: list[tuple[int, str]]) -> bool:
        if self.embed is None or self.space is None:
            return False
        self.job.checkpoint()
        if not self._embed_lot(lot, force=True, narrow=self.crowded()):
            return False
        self.guard()
        return True

    def _embed_lot(self, lot: list[tuple[int, str]], force: bool, narrow: bool) -> bool:
        """Embed and write one lot; False when this run can no longer embed (model switched
        and no ``respace``). ``narrow``: leave a core to other work (see ``Embedder.embed_documents``)."""
        while lot and self.embed is not None and self.space is not None:
            self.report(force)
            ids = [cid for cid, _ in lot]
            started = time.perf_counter()
            embed = partial(self.embed, narrow=True) if narrow else self.embed
            vectors = self.cache.embed(embed, [text for _, text in lot])
            seconds = time.perf_counter() - started
            with write_transaction(self.conn):
                switched = space_state(self.conn, self.space) != "active"
                if not switched:
                    alive = existing_ids(self.conn, ids)  # not rewritten or embedded elsewhere
                    keep = [i for i, cid in enumerate(ids) if cid in alive]
                    insert_vectors(self.conn, self.space, [ids[i] for i in keep], vectors[keep])
                    mark_embedded(self.conn, [ids[i] for i in keep])
            if switched:
                # The library switched models meanwhile: these vectors no longer belong.
                if not self._follow_switch():
                    return False
                continue  # the same lot again, with the new model
            self.pace.embedded(len(keep), seconds)
            self.pending = max(0, self.pending - len(lot))
            return True
        return self.embed is not None and self.space is not None

    def _follow_switch(self) -> bool:
        self.cache.clear()
        if self.respace is None:
            self.space = None
            self.embed = None
            return False
        self.space, self.embed = self.respace()
        self.recount()
        return True
