"""Switching a library to another embedding model without a moment of broken search.

The new model's vectors go into a new, inactive vector space while searches keep using the
active one (and its model for queries). The inactive space's own rows are the progress: a
restart, or a second call, embeds only the chunks that have no vector there yet. Chunks that
indexing adds meanwhile get their old-model vectors from the indexer and are caught up here
before the swap. The swap itself is one write transaction: it embeds the last few stragglers,
makes the new space active and drops the old one (readers that began before it keep their
snapshot, so nothing needs the old tables afterwards).

A switch takes no writer lock (``store.writer_lock``): it may take an hour, and indexing goes
on meanwhile. Each of its writes is one transaction that checks the space is still pending;
an indexing run that finds the space swapped continues with the new model (``Indexer``), two
switches to one model share the work, and a switch to another model ends the first with a
clear message. A library deleted or moved mid-switch stops it with an error (``guard``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import LibraryError
from ..jobs import JobControl
from ..lazy_module import lazy
from ..store import Connection
from ..store.chunks import sample_texts
from ..store.connection import read_snapshot, write_transaction
from ..store.counts import chunk_count
from ..store.vectors import (
    VectorSpace,
    activate_space,
    active_space,
    count_indexed,
    count_missing,
    create_space,
    drop_space,
    insert_vectors,
    missing_chunks,
    pending_space,
    space_state,
    without_vectors,
)
from ..types import Changes
from .protocols import Embedder
from .resolve import model_folder

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported on first use: a bm25 search or a status never needs it

SWITCH_BATCH = 32  # chunks per write transaction (and per progress report)
SAMPLE_SIZE = 24  # chunks timed for an estimate
SWAP_INLINE_MAX = 64  # stragglers embedded inside the swap transaction; more: catch up first
TOTAL_EVERY_S = 2.0  # recount the library's chunks (indexing may add some) this often


@dataclass(frozen=True)
class SwitchEstimate:
    """What switching to ``model_id`` would cost, measured on this library's own chunks."""

    model_id: str
    dim: int
    current_model_id: str | None  # the active space's model (None: nothing embedded yet)
    chunks_total: int
    chunks_done: int  # already in a pending space for this model (a switch to resume)
    chunks_to_embed: int
    chunks_per_s: float  # 0.0 when nothing was measured
    sample: int  # chunks timed
    seconds: float
    discards_pending: str | None = None  # another model's unfinished switch that would be dropped

    @property
    def needed(self) -> bool:
        return self.model_id != self.current_model_id

    @property
    def minutes(self) -> float:
        return self.seconds / 60.0


@dataclass(frozen=True)
class SwitchProgress:
    phase: str  # "embedding" | "paused" | "swapping" | "done" | "cancelled"
    model_id: str
    done: int  # chunks with a vector in the new space
    total: int  # chunks in the library
    embedded: int  # chunks embedded by this call
    chunks_per_s: float  # this call's rate, pauses excluded (0.0 until measurable)

    @property
    def seconds_left(self) -> float | None:
        if self.chunks_per_s <= 0:
            return None
        return max(0, self.total - self.done) / self.chunks_per_s


@dataclass(frozen=True)
class SwitchResult:
    model_id: str
    previous_model_id: str | None
    dim: int
    embedded: int  # chunks embedded by this call (a resumed switch skips the done ones)
    done: int
    total: int
    seconds: float
    switched: bool  # the new space is active now
    cancelled: bool  # stopped on request; the old space is intact, the pending one stays
    discarded_pending: str | None = None
    settings_saved: bool = False

    @property
    def already_active(self) -> bool:
        return not self.switched and not self.cancelled

    @property
    def changes(self) -> Changes:
        """A swap changes the model, what queries find and the status; nothing else does."""
        return Changes(documents=self.switched, search_results=self.switched, model=self.switched,
                       settings=self.settings_saved)


@dataclass(frozen=True)
class PendingSwitch:
    """An unfinished switch: its space stays inactive until it is resumed or discarded."""

    model_id: str
    spec: str | None
    done: int
    total: int


class _Stopped(Exception):
    """Raised between batches when the caller asked to stop."""


class _SwappedElsewhere(Exception):
    """Another process finished the same switch first."""


def setting_for(spec: str | os.PathLike[str] | None) -> str | None:
    """The value a model setting (``Settings.embedder``, ``Settings.reranker``) takes for
    ``spec``: None for the default, a model's name as it is (catalogue or imported), a model
    folder as an absolute path (so it still works from anywhere). ``models.model_folder``
    tells names from folders."""
    if spec is None:
        return None
    text = os.fspath(spec).strip()
    if text in ("", "default"):
        return None
    folder = model_folder(text)
    return text if folder is None else str(folder.resolve())


def _measure(embedder: Embedder, texts: list[str], batch_size: int) -> float:
    """Chunks per second for ``texts`` (after a one-chunk warm-up run)."""
    if not texts:
        return 0.0
    embedder.embed_documents(texts[:1], batch_size=batch_size)
    started = time.perf_counter()
    embedder.embed_documents(texts, batch_size=batch_size)
    return len(texts) / max(time.perf_counter() - started, 1e-6)


def estimate_switch(conn: Connection, embedder: Embedder, *, embed_batch: int,
                    sample_size: int = SAMPLE_SIZE) -> SwitchEstimate:
    with read_snapshot(conn):
        active, pending = active_space(conn), pending_space(conn)
        total = chunk_count(conn)
        resumable = pending if pending is not None and pending.model_id == embedder.model_id else None
        done = count_indexed(conn, resumable) if resumable else 0
        to_embed = count_missing(conn, resumable) if resumable else total
        if active is None or active.model_id == embedder.model_id:
            to_embed = 0  # nothing to embed: an empty library, or already this model
        texts = sample_texts(conn, sample_size) if to_embed else []
    discards = pending.model_id if pending is not None and resumable is None else None
    rate = _measure(embedder, texts, embed_batch)
    return SwitchEstimate(
        model_id=embedder.model_id, dim=embedder.dim, current_model_id=active.model_id if active else None,
        chunks_total=total, chunks_done=done, chunks_to_embed=to_embed, chunks_per_s=rate,
        sample=len(texts), seconds=to_embed / rate if rate > 0 else 0.0, discards_pending=discards)


def pending_switch(conn: Connection) -> PendingSwitch | None:
    with read_snapshot(conn):
        space = pending_space(conn)
        if space is None:
            return None
        total = chunk_count(conn)
        return PendingSwitch(space.model_id, space.spec, count_indexed(conn, space), total)


def discard_pending(conn: Connection) -> str | None:
    """Drop an unfinished switch's space; returns its model id (None: there was none)."""
    with write_transaction(conn):
        space = pending_space(conn)
        if space is None:
            return None
        drop_space(conn, space)
        return space.model_id


class ModelSwitch:
    """One run of a switch to ``embedder``'s model: fill the pending space, then swap it in."""

    def __init__(self, conn: Connection, embedder: Embedder, spec: str | None, *,
                 batch_size: int = SWITCH_BATCH, embed_batch: int = 8,
                 progress: Callable[[SwitchProgress], None] | None = None,
                 cancel: threading.Event | None = None, pause: threading.Event | None = None,
                 guard: Callable[[], None] | None = None) -> None:
        if batch_size < 1:
            raise LibraryError("The switch batch size must be at least 1.")
        self.conn = conn
        self.embedder = embedder
        self.spec = spec
        self.batch_size = batch_size
        self.embed_batch = embed_batch
        self.progress_cb = progress
        # Checked between batches; every batch is reported (a batch is one transaction: pace enough).
        self.job = JobControl(cancel, pause, stopped=_Stopped, on_pause=lambda: self._emit("paused"), interval_s=0.0)
        self.guard = guard or (lambda: None)  # raises when the library file is gone
        self.done = 0
        self.total = 0
        self.embedded = 0
        self._started = time.monotonic()
        self._counted_at = 0.0

    def run(self) -> SwitchResult:
        space, previous, discarded = self._prepare()
        if space is None:  # the library already uses this model
            return self._result(previous, switched=False, cancelled=False, discarded=discarded)
        if previous is None:  # nothing was embedded yet: the new space simply became the active one
            return self._result(None, switched=True, cancelled=False, discarded=discarded)
        self.done = count_indexed(self.conn, space)
        self._count_total(force=True)
        try:
            while True:
                self._fill(space)
                self._emit("swapping")
                if self._try_swap(space):
                    self.guard()
                    break
        except _Stopped:
            self._emit("cancelled")
            return self._result(previous, switched=False, cancelled=True, discarded=discarded)
        except _SwappedElsewhere:
            pass
        result = self._result(previous, switched=True, cancelled=False, discarded=discarded)
        self._emit("done")
        return result

    # -- steps ----------------------------------------------------------------------------
    def _prepare(self) -> tuple[VectorSpace | None, str | None, str | None]:
        """(space to fill, the active model it replaces, a discarded pending model)."""
        model_id, dim = self.embedder.model_id, self.embedder.dim
        with write_transaction(self.conn):
            active, pending = active_space(self.conn), pending_space(self.conn)
            discarded = None
            if pending is not None and (active is None or active.model_id == model_id
                                        or pending.model_id != model_id or pending.dim != dim):
                drop_space(self.conn, pending)
                discarded, pending = pending.model_id, None
            if active is None:
                return create_space(self.conn, model_id, dim, spec=self.spec, active=True), None, discarded
            if active.model_id == model_id:
                return None, active.model_id, discarded
            if pending is None:
                pending = create_space(self.conn, model_id, dim, spec=self.spec, active=False)
            return pending, active.model_id, discarded

    def _fill(self, space: VectorSpace) -> None:
        """Embed every chunk that has no vector in ``space`` yet, a batch per transaction."""
        cursor = 0
        while True:
            self.job.checkpoint()
            batch = missing_chunks(self.conn, space, cursor, self.batch_size)
            if not batch:
                return
            cursor = batch[-1][0]
            ids = [cid for cid, _ in batch]
            vectors = self.embedder.embed_documents([text for _, text in batch], batch_size=self.embed_batch)
            with write_transaction(self.conn):
                self._still_pending(space)
                self._insert(space, ids, vectors)
            self.guard()
            self._count_total()
            self._emit("embedding")

    def _try_swap(self, space: VectorSpace) -> bool:
        """Swap ``space`` in, embedding the few chunks added since the last batch inside the
        same transaction; False (nothing written) when too many arrived: fill again first."""
        with write_transaction(self.conn):
            self._still_pending(space)
            stragglers = missing_chunks(self.conn, space, 0, SWAP_INLINE_MAX + 1)
            if len(stragglers) > SWAP_INLINE_MAX:
                return False
            if stragglers:
                ids = [cid for cid, _ in stragglers]
                vectors = self.embedder.embed_documents([t for _, t in stragglers], batch_size=self.embed_batch)
                self._insert(space, ids, vectors)
            activate_space(self.conn, space)
        return True

    def _insert(self, space: VectorSpace, ids: list[int], vectors: np.ndarray) -> None:
        """Store the vectors of chunks that still exist and are not in ``space`` yet (a file
        may change meanwhile, or another process may be filling the same space)."""
        fresh = without_vectors(self.conn, space, ids)
        keep = [i for i, cid in enumerate(ids) if cid in fresh]
        if keep:
            insert_vectors(self.conn, space, [ids[i] for i in keep], np.asarray(vectors)[keep])
        self.embedded += len(keep)
        self.done += len(keep)

    def _still_pending(self, space: VectorSpace) -> None:
        state = space_state(self.conn, space)
        if state == "active":
            raise _SwappedElsewhere
        if state is None:
            raise LibraryError(f"The switch to {space.model_id} was cancelled by another Memex process.")

    # -- helpers --------------------------------------------------------------------------
    def _count_total(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._counted_at >= TOTAL_EVERY_S:
            self.total = chunk_count(self.conn)
            self._counted_at = now
        self.total = max(self.total, self.done)

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._started - self.job.paused_s
        return self.embedded / elapsed if self.embedded and elapsed >= 0.5 else 0.0

    def _emit(self, phase: str) -> None:
        if self.progress_cb is not None and self.job.report_due(force=phase != "embedding"):
            self.progress_cb(SwitchProgress(phase, self.embedder.model_id, self.done, self.total,
                                            self.embedded, self._rate()))

    def _result(self, previous: str | None, *, switched: bool, cancelled: bool,
                discarded: str | None) -> SwitchResult:
        self._count_total(force=True)
        if not cancelled:  # every chunk is in the (now) active space, or waits for the indexer there
            active = active_space(self.conn)
            self.done = count_indexed(self.conn, active) if active is not None else 0
        return SwitchResult(
            model_id=self.embedder.model_id, previous_model_id=previous, dim=self.embedder.dim,
            embedded=self.embedded, done=self.done, total=self.total,
            seconds=time.monotonic() - self._started, switched=switched, cancelled=cancelled,
            discarded_pending=discarded)
