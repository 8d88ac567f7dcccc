"""The indexing pipeline: scan → plan (diff with the library) → extract → chunk → write → embed.

Each file is written in its own short transaction (document row + chunks + FTS rows), so an
interruption loses at most the file in flight. Vectors are computed afterwards from the
``embedded = 0`` backlog in batches; a restart simply continues that backlog, so finished
chunks are never embedded twice.

The file in flight is noted in ``meta`` before it is extracted; a file that was in flight
when ``MAX_ATTEMPTS`` runs died is recorded as failed instead of being tried again, so a
file that brings the whole process down cannot do so on every start.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ExtractionError, IndexingCancelled
from ..extract import detect_kind
from ..extract.worker import ExtractionWorker
from ..jobs import JobControl
from ..store import Connection, in_flight
from ..store import documents as docs
from ..store.chunks import count_pending, existing_ids, insert_chunks, mark_embedded, pending_chunks
from ..store.connection import checkpoint, write_transaction
from ..store.vectors import VectorSpace, insert_vectors, space_state
from ..types import FileError, IndexProgress, IndexReport
from . import scan
from .chunking import TokenizerLike, chunk_pages
from .scan import DiskFile, IgnoreRules, stat_file, walk_files

EMBED_BATCH = 64
CHECKPOINT_EVERY = 200  # files between PASSIVE WAL checkpoints (and one at the end of a run)
MAX_ATTEMPTS = 3  # runs that may end while reading one version of a file before it is skipped


@dataclass(frozen=True)
class IndexOptions:
    """What one run takes from the settings when it starts: a settings change applies from the next run."""

    chunk_tokens: int = 200
    chunk_overlap: int = 40
    max_chars: int = 5_000_000
    rules: IgnoreRules = field(default_factory=lambda: IgnoreRules(()))


@dataclass(frozen=True)
class Unit:
    """A part of the disk to sync: a whole source, or one path inside it (from the watcher).
    ``kind`` is "folder", "file", or "gone" (a path that no longer exists)."""

    path: str
    kind: str
    source_id: int | None
    root: str


@dataclass
class _Plan:
    """What the diff decided for one run."""

    process: list[tuple[DiskFile, int | None]] = field(default_factory=list)
    moves: list[tuple[int, DiskFile, int | None]] = field(default_factory=list)
    deletions: list[int] = field(default_factory=list)
    unchanged: int = 0


class Indexer:
    """Brings the library in line with the files under some sources. One writer at a time."""

    def __init__(
        self,
        conn: Connection,
        tokenizer: TokenizerLike,
        worker: ExtractionWorker,
        options: IndexOptions,
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        space: VectorSpace | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        guard: Callable[[], None] | None = None,
        respace: Callable[[], tuple[VectorSpace, Callable[[Sequence[str]], np.ndarray]]] | None = None,
    ) -> None:
        """``guard`` is called after every file and embedding batch and raises to stop the run
        (the library file was deleted, say). ``respace`` gives the active space and its embedder
        when the library switched models during the run, so the backlog is still embedded."""
        self.conn = conn
        self.tokenizer = tokenizer
        self.worker = worker
        self.options = options
        self.embed = embed
        self.space = space
        self.progress_cb = progress
        # Stops and pauses land before the next file or embedding batch.
        self.job = JobControl(cancel, pause, stopped=lambda: IndexingCancelled("Indexing was cancelled"),
                              on_pause=lambda: self._emit("paused", force=True))
        self.guard = guard or (lambda: None)
        self.respace = respace
        self.rules = options.rules
        self.errors: list[FileError] = []
        self._files_total = 0
        self._files_done = 0
        self._chunks_written = 0
        self._chunks_embedded = 0
        self._pending = 0
        self._current: str | None = None

    # -- public ---------------------------------------------------------------------------
    def run(self, units: Sequence[Unit], full_sources: Sequence[int] = ()) -> IndexReport:
        """Bring every unit in line with the disk; ``full_sources`` are the ids of sources
        scanned completely (their ``last_indexed_at`` is updated). Returns what changed."""
        started = time.monotonic()
        self._pending = count_pending(self.conn)
        self._emit("scanning", force=True)
        counts = {"added": 0, "updated": 0, "moved": 0, "removed": 0, "failed": 0}
        cancelled = False
        plan = _Plan()
        try:
            plan = self._plan(units)
            counts["moved"], counts["removed"] = self._apply_moves_and_deletions(plan)
            self.guard()
            self._files_total = len(plan.process)
            for disk, source_id in plan.process:
                self.job.checkpoint()
                outcome = self._index_file(disk, source_id)
                counts[outcome] = counts.get(outcome, 0) + 1
                self._files_done += 1
                self.guard()
                self._emit("indexing", force=True)
                self._embed_backlog(final=False)
                if self._files_done % CHECKPOINT_EVERY == 0:
                    checkpoint(self.conn)
            self._embed_backlog(final=True)
            if full_sources:
                with write_transaction(self.conn):
                    docs.mark_sources_indexed(self.conn, full_sources)
            self.guard()
        except IndexingCancelled:
            cancelled = True
        checkpoint(self.conn)  # keep the WAL small between runs
        self._emit("cancelled" if cancelled else "done", force=True)
        return IndexReport(
            added=counts["added"], updated=counts["updated"], moved=counts["moved"],
            removed=counts["removed"], unchanged=plan.unchanged + counts.get("unchanged", 0),
            failed=counts["failed"], chunks=self._chunks_written, embedded=self._chunks_embedded,
            seconds=time.monotonic() - started, cancelled=cancelled, errors=tuple(self.errors),
        )

    # -- planning -------------------------------------------------------------------------
    def _scan_unit(self, unit: Unit) -> tuple[list[DiskFile], dict[str, docs.KnownFile]]:
        """Files on disk and files the library knows, for one unit."""
        path = unit.path
        if unit.root != path and self.rules.ignored_path(path, unit.root):
            return [], docs.known_files(self.conn, path, os.path.isdir(path) or unit.kind == "gone")
        verdict = scan.judge_path(path, unit.root)
        if verdict.link is not None:  # a link or a path through one: judged as the full scan does
            known = {**docs.known_files(self.conn, verdict.link, is_folder=False),
                     **docs.known_files(self.conn, verdict.link, is_folder=True)}
            out = verdict.kind == "outside-link"  # else its target is indexed at its real place
            return ([scan.outside_entry(verdict.link, unit.root)] if out else []), known
        if os.path.isdir(path):
            return (list(walk_files(path, self.rules, self._error, source_root=unit.root)),
                    docs.known_files(self.conn, path, is_folder=True))
        if unit.kind == "folder" and unit.root == path:
            # A source folder that is not there (an unplugged drive?): keep what we know.
            self._error(FileError(path, "missing", "Folder not found; its documents are kept"))
            return [], {}
        known = docs.known_files(self.conn, path, is_folder=False)
        if unit.kind == "gone":
            known.update(docs.known_files(self.conn, path, is_folder=True))
        single = stat_file(path)
        if single is None:
            if os.path.exists(path):
                self._error(FileError(path, "unsupported", "Not a regular file"))
            return [], known
        kind = detect_kind_safe(path)
        return ([replace(single, root=unit.root, kind=kind)] if kind else []), known

    def _plan(self, units: Sequence[Unit]) -> _Plan:
        plan = _Plan()
        disk: dict[str, tuple[DiskFile, int | None]] = {}
        known: dict[str, docs.KnownFile] = {}
        for unit in sorted(units, key=lambda u: len(u.root)):
            self.job.checkpoint()
            files, unit_known = self._scan_unit(unit)
            for f in files:
                disk[f.path] = (f, unit.source_id)  # longer (more specific) sources win
            known.update(unit_known)
        missing = {p: k for p, k in known.items() if p not in disk}
        by_hash: dict[str, list[docs.KnownFile]] = {}
        for gone in missing.values():
            by_hash.setdefault(gone.content_hash, []).append(gone)
        moved_ids: set[int] = set()
        for path, (f, source_id) in disk.items():
            k = known.get(path)
            listed_outside = k is not None and k.error_reason == scan.OUTSIDE_LINK
            if f.outside and listed_outside:
                plan.unchanged += 1  # still a link out: nothing to read, nothing new to say
                continue
            if (k is not None and not f.outside and not listed_outside and k.size == f.size
                    and k.mtime_ns == f.mtime_ns and not k.retry):
                plan.unchanged += 1
                continue
            if k is None and by_hash and not f.outside:
                digest = self._hash_or_none(f)
                candidates = by_hash.get(digest, []) if digest else []
                if candidates:
                    origin = candidates.pop()
                    moved_ids.add(origin.id)
                    plan.moves.append((origin.id, f, source_id))
                    continue
                f = replace(f, content_hash=digest)  # read once: the read reuses it
            plan.process.append((f, source_id))
        plan.deletions = [k.id for k in missing.values() if k.id not in moved_ids]
        return plan

    def _apply_moves_and_deletions(self, plan: _Plan) -> tuple[int, int]:
        if plan.moves or plan.deletions:
            with write_transaction(self.conn):
                for doc_id, f, source_id in plan.moves:
                    docs.move_document(self.conn, doc_id, f.path, f.size, f.mtime_ns, source_id)
                docs.delete_documents(self.conn, plan.deletions)
            self._pending = count_pending(self.conn)
        return len(plan.moves), len(plan.deletions)

    # -- one file -------------------------------------------------------------------------
    def _index_file(self, f: DiskFile, source_id: int | None) -> str:
        self._current = f.path
        self._emit("indexing")
        known = docs.find_by_path(self.conn, f.path)
        verdict = scan.judge_file(f)  # again at the read: it may have become a link since the scan
        if verdict.real is None or verdict.kind != "direct":
            return self._link_instead(f, source_id, verdict, known)
        real = verdict.real
        try:
            digest = (f.content_hash if f.content_hash and scan.as_scanned(real, f)
                      else scan.checked_hash(real))
        except OSError as exc:
            return self._record_failure(f, source_id, "", "unreadable",
                                        f"Cannot read file: {exc.strerror or exc}", known)
        if known is not None and known.content_hash == digest:
            with write_transaction(self.conn):
                docs.touch_document(self.conn, known.id, f.size, f.mtime_ns)
            return "unchanged"
        kind = f.kind or detect_kind_safe(f.path)  # the scan's, for a file the scan found
        attempts = in_flight.reading_attempts(self.conn, f.path, digest)
        if attempts >= MAX_ATTEMPTS:
            return self._record_failure(
                f, source_id, digest, "crashed",
                f"Memex stopped {attempts} times while reading this file; it is skipped until it changes",
                known)
        with write_transaction(self.conn):
            in_flight.note_reading(self.conn, f.path, attempts + 1, digest)
        try:
            pin = scan.PinnedFile(real)  # the very file judged, even if swapped meanwhile
        except OSError as exc:
            return self._record_failure(f, source_id, digest, "unreadable",
                                        f"Cannot read file: {exc.strerror or exc}", known)
        with pin:
            try:
                extraction = self.worker.extract(Path(pin.path), self.options.max_chars, kind)
            except ExtractionError as exc:
                return self._record_failure(f, source_id, digest, exc.reason, str(exc), known)
        after = scan.judge_file(f)
        if after.real != real or after.kind != "direct":  # became a link during the read
            return self._link_instead(f, source_id, after, known)
        spans = chunk_pages(extraction.pages, self.tokenizer, self.options.chunk_tokens,
                            self.options.chunk_overlap)
        record = docs.DocumentRecord(
            path=f.path, kind=extraction.kind or kind or "unknown", size=f.size, mtime_ns=f.mtime_ns,
            content_hash=digest, source_id=source_id, title=extraction.title,
            pages=len(extraction.pages), truncated=extraction.truncated)
        with write_transaction(self.conn):
            doc_id = docs.write_document(self.conn, record)
            insert_chunks(self.conn, doc_id, spans)
            in_flight.done_reading(self.conn, f.path)
        self._chunks_written += len(spans)
        self._pending += len(spans)
        if extraction.truncated:
            self._error(FileError(f.path, "truncated",
                                  f"Only the first {self.options.max_chars:,} characters were indexed"))
        return "updated" if known else "added"

    def _record_failure(self, f: DiskFile, source_id: int | None, digest: str, reason: str,
                        message: str, known: docs.KnownFile | None) -> str:
        self._error(FileError(f.path, reason, message))
        kind = "link" if reason == scan.OUTSIDE_LINK else f.kind or detect_kind_safe(f.path) or "unknown"
        record = docs.DocumentRecord(
            path=f.path, kind=kind, size=f.size,
            mtime_ns=f.mtime_ns, content_hash=digest, source_id=source_id, status="error",
            error_reason=reason, error=message)
        with write_transaction(self.conn):
            docs.write_document(self.conn, record)
            in_flight.done_reading(self.conn, f.path)
        if known is not None:  # its old chunks went with the old version
            self._pending = count_pending(self.conn)
        return "failed"

    def _link_instead(self, f: DiskFile, source_id: int | None, verdict: scan.Verdict,
                         known: docs.KnownFile | None) -> str:
        """A link, not a file: listed when it leads out; else its target is indexed instead."""
        if verdict.kind == "outside-link":
            return self._record_failure(f, source_id, "", scan.OUTSIDE_LINK, scan.OUTSIDE_LINK_MESSAGE, known)
        with write_transaction(self.conn):
            in_flight.done_reading(self.conn, f.path)
        return "unchanged"

    # -- embedding backlog ----------------------------------------------------------------
    def _embed_backlog(self, final: bool) -> None:
        """Embed waiting chunks: at most one batch per file while files are read, so text
        (searchable by words at once) keeps flowing in while vectors follow; at the end of a
        run, until no chunk waits. The end asks the library, not this run's own count: a
        chunk that another process wrote, rewrote or embedded meanwhile is still accounted
        for, and a run never ends with chunks left behind."""
        if self.embed is None or self.space is None:
            return
        batches = 0
        while final or (batches < 1 and self._pending >= EMBED_BATCH):
            self.job.checkpoint()
            batch = pending_chunks(self.conn, EMBED_BATCH)
            if not batch:
                self._pending = 0
                return
            batches += 1
            ids = [cid for cid, _ in batch]
            self._emit("embedding", force=final)
            vectors = self.embed([text for _, text in batch])
            with write_transaction(self.conn):
                switched = space_state(self.conn, self.space) != "active"
                if not switched:
                    alive = existing_ids(self.conn, ids)  # not rewritten or embedded elsewhere
                    keep = [i for i, cid in enumerate(ids) if cid in alive]
                    insert_vectors(self.conn, self.space, [ids[i] for i in keep], vectors[keep])
                    mark_embedded(self.conn, [ids[i] for i in keep])
            if switched:
                # The library switched models meanwhile: these vectors no longer belong.
                # Continue with the new model (the chunks wait in the backlog until then).
                if not self._follow_switch():
                    return
                continue
            self._chunks_embedded += len(keep)
            self._pending = count_pending(self.conn) if final else max(0, self._pending - len(batch))
            if final:
                self.guard()

    def _follow_switch(self) -> bool:
        """Take the library's active space and its model after a model switch; False when
        this run cannot (no ``respace``): the chunks then wait for the next run."""
        if self.respace is None:
            self.space = None
            return False
        self.space, self.embed = self.respace()
        self._pending = count_pending(self.conn)
        return True

    # -- helpers --------------------------------------------------------------------------
    def _hash_or_none(self, f: DiskFile) -> str | None:
        verdict = scan.judge_file(f)
        try:
            return scan.checked_hash(verdict.real) if verdict.kind == "direct" and verdict.real else None
        except OSError:
            return None

    def _error(self, err: FileError) -> None:
        self.errors.append(err)

    def _emit(self, phase: str, force: bool = False) -> None:
        if self.progress_cb is None or not self.job.report_due(force):
            return
        self.progress_cb(IndexProgress(
            phase=phase, files_total=self._files_total, files_done=self._files_done,
            chunks_written=self._chunks_written, chunks_embedded=self._chunks_embedded,
            chunks_pending=self._pending, current=self._current, errors=tuple(self.errors)))


def detect_kind_safe(path: str) -> str | None:
    try:
        return detect_kind(Path(path))
    except OSError:
        return None
