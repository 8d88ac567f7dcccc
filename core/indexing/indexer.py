"""The indexing pipeline: scan → plan (diff with the library) → extract → chunk → write → embed.

Words first: every file of a run is read into the word index before vectors are computed
beyond the first few batches (:mod:`.meaning`), so the whole folder is searchable by words as
early as possible. Small files are read several to a round trip of the extraction process and
written in one transaction; a large file is read and written on its own, so an interruption
loses at most the files in flight; the next group is extracted while one is written
(:mod:`.reading`). Vectors follow from the ``embedded = 0`` backlog; a restart
simply continues it, so finished chunks are never embedded twice.

The files in flight are noted in ``meta`` before they are extracted; a file that was in flight
when ``MAX_ATTEMPTS`` runs died is recorded as failed instead of being tried again, so a
file that brings the whole process down cannot do so on every start.
"""

from __future__ import annotations

import os
import stat as stat_mod
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ExtractionError, IndexingCancelled
from ..extract.worker import ExtractionWorker
from ..jobs import JobControl
from ..memory import release_free_heap
from ..store import Connection, in_flight
from ..store import documents as docs
from ..store.chunks import insert_chunks
from ..store.connection import checkpoint, write_transaction
from ..store.ocr import record_waiting
from ..store.vectors import VectorSpace
from ..types import ChunkSpan, Extraction, FileError, IndexProgress, IndexReport
from . import scan
from .chunking import TokenizerLike
from .mailboxes import MailboxReader
from .meaning import MeaningQueue
from .members import MemberWriter
from .pace import Pace
from .reading import WordsReader
from .scan import DiskFile, IgnoreRules, stat_file, walk_files
from .skips import SkipLog

if TYPE_CHECKING:
    from .ocr_phase import OcrPhase

MAX_ATTEMPTS = 3  # runs that may end while reading one version of a file before it is skipped
REST_READER_CHUNKS = 2_000  # a backlog this large (a minute or more of embedding) ends the extraction process


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


@dataclass(frozen=True)
class _Reading:
    """A file judged, hashed and found changed: ready to be extracted."""

    file: DiskFile
    source_id: int | None
    real: str
    digest: str
    kind: str | None
    attempts: int
    known: docs.KnownFile | None


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
        ocr: OcrPhase | None = None,
    ) -> None:
        """``guard`` is called after every file and embedding batch and raises to stop the run
        (the library file was deleted, say). ``respace`` gives the active space and its embedder
        when the library switched models during the run, so the backlog is still embedded."""
        self.conn = conn
        self.tokenizer = tokenizer
        self.worker = worker
        self.options = options
        self.progress_cb = progress
        # Stops and pauses land before the next file or embedding batch.
        self.job = JobControl(cancel, pause, stopped=lambda: IndexingCancelled("Indexing was cancelled"),
                              on_pause=lambda: self._emit("paused", force=True))
        self.guard = guard or (lambda: None)
        self.respace = respace
        self.ocr = ocr  # reads scanned pages once every file's words are in
        self.rules = options.rules
        self.errors: list[FileError] = []
        self.skips = SkipLog()  # what the scan passed over, kept in the library
        self._files_total = 0
        self._files_done = 0
        self._current: str | None = None
        self._group_open = False  # inside a group's one write transaction
        self.pace = Pace(paused_s=lambda: self.job.paused_s)
        self.meaning = MeaningQueue(conn, embed, space, self.job, self.pace, self.guard,
                                    report=lambda force: self._emit("embedding", force=force),
                                    respace=respace, crowded=lambda: self.ocr is not None and self.ocr.running)
        self.members = MemberWriter(conn, tokenizer, options.chunk_tokens, options.chunk_overlap, self.pace,
                                    self.meaning)  # documents inside files: messages, attachments
        self.mailboxes = MailboxReader(self)

    # -- public ---------------------------------------------------------------------------
    def run(self, units: Sequence[Unit], full_sources: Sequence[int] = ()) -> IndexReport:
        """Bring every unit in line with the disk; ``full_sources`` are the ids of sources
        scanned completely (their ``last_indexed_at`` is updated). Returns what changed."""
        started = time.monotonic()
        self.meaning.recount()
        self._emit("scanning", force=True)
        counts = {"added": 0, "updated": 0, "moved": 0, "removed": 0, "failed": 0}
        cancelled = False
        plan = _Plan()
        try:
            plan = self._plan(units)
            self.skips.write(self.conn)
            counts["moved"], counts["removed"] = self._apply_moves_and_deletions(plan)
            self.guard()
            self._read_words(plan, counts)
            if self.ocr is not None:
                self.ocr.start()
            self._rest_reader()
            self.meaning.drain()
            if self.ocr is not None:
                self.ocr.finish(self.meaning, lambda: self._emit("ocr", force=True))
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
            failed=counts["failed"], chunks=self.pace.chunks_written, embedded=self.pace.chunks_embedded,
            seconds=time.monotonic() - started, cancelled=cancelled, errors=tuple(self.errors),
            files_skipped=self.skips.count,
        )

    def _read_words(self, plan: _Plan, counts: dict[str, int]) -> None:
        """Every planned file into the word index; vectors only for the first few batches."""
        self._files_total = len(plan.process)
        self.pace.start_words(len(plan.process), sum(f.size for f, _ in plan.process))
        WordsReader(self).read_all(plan.process, counts)
        self.pace.end_words()

    def _rest_reader(self) -> None:
        """Before long work that reads no file (a backlog of vectors, scanned pages), end the
        extraction process and trim this one's heap: the words phase's peak is not held while
        the OCR process and the embedder take theirs. A short run keeps its extraction
        process for the next one."""
        ocr_reads = self.ocr is not None and self.ocr.total > 0
        if ocr_reads or self.meaning.pending >= REST_READER_CHUNKS:
            self.worker.rest()
            release_free_heap()

    # -- planning -------------------------------------------------------------------------
    def _scan_unit(self, unit: Unit) -> tuple[list[DiskFile], dict[str, docs.KnownFile]]:
        """Files on disk and files the library knows, for one unit."""
        path = unit.path
        if unit.root != path and self.rules.ignored_path(path, unit.root):
            if not os.path.lexists(path):  # a hidden or ignored entry that went away
                self.skips.scan(path, True, unit.source_id)
            return [], docs.known_files(self.conn, path, os.path.isdir(path) or unit.kind == "gone")
        verdict = scan.judge_path(path, unit.root)
        if verdict.link is not None:  # a link or a path through one: judged as the full scan does
            self.skips.scan(verdict.link, False, unit.source_id)  # a link is no skipped entry
            known = {**docs.known_files(self.conn, verdict.link, is_folder=False),
                     **docs.known_files(self.conn, verdict.link, is_folder=True)}
            out = verdict.kind == "outside-link"  # else its target is indexed at its real place
            return ([scan.outside_entry(verdict.link, unit.root)] if out else []), known
        if os.path.isdir(path):
            skip = self.skips.scan(path, True, unit.source_id)
            return (list(walk_files(path, self.rules, self._error, source_root=unit.root, on_skip=skip)),
                    docs.known_files(self.conn, path, is_folder=True))
        if unit.kind == "folder" and unit.root == path:
            # A source folder that is not there (an unplugged drive?): keep what we know.
            self._error(FileError(path, "missing", "Folder not found; its documents are kept"))
            return [], {}
        known = docs.known_files(self.conn, path, is_folder=False)
        if unit.kind == "gone":
            known.update(docs.known_files(self.conn, path, is_folder=True))
        skip = self.skips.scan(path, unit.kind == "gone", unit.source_id)
        single = stat_file(path)
        if single is None:
            if os.path.exists(path):
                self._error(FileError(path, "unsupported", "Not a regular file"))
                skip(scan.passed_over(path, scan.lstat_mode(path)))
            return [], known
        kind = scan.detect_kind_safe(path)
        if kind is None:
            skip(scan.passed_over(path, stat_mod.S_IFREG))
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
            self.meaning.recount()
        return len(plan.moves), len(plan.deletions)

    # -- reading files --------------------------------------------------------------------
    def _judge(self, f: DiskFile, source_id: int | None) -> _Reading | str:
        """The file ready to read, or the outcome when there is nothing to read."""
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
            with self._writing():
                docs.touch_document(self.conn, known.id, f.size, f.mtime_ns)
            return "unchanged"
        kind = f.kind or scan.detect_kind_safe(f.path)  # the scan's, for a file the scan found
        attempts = in_flight.reading_attempts(self.conn, f.path, digest)
        if attempts >= MAX_ATTEMPTS:
            return self._record_failure(
                f, source_id, digest, "crashed",
                f"Memex stopped {attempts} times while reading this file; it is skipped until it changes",
                known)
        return _Reading(f, source_id, real, digest, kind, attempts, known)

    def _write(self, r: _Reading, result: Extraction | ExtractionError, spans: list[ChunkSpan]) -> str:
        f = r.file
        if isinstance(result, ExtractionError):
            return self._record_failure(f, r.source_id, r.digest, result.reason, str(result), r.known)
        after = scan.judge_file(f)
        if after.real != r.real or after.kind != "direct":  # became a link during the read
            return self._link_instead(f, r.source_id, after, r.known)
        record = docs.DocumentRecord(
            path=f.path, kind=result.kind or r.kind or "unknown", size=f.size, mtime_ns=f.mtime_ns,
            content_hash=r.digest, source_id=r.source_id, title=result.title,
            pages=len(result.pages), truncated=result.truncated)
        with self._writing():
            doc_id = docs.write_document(self.conn, record)
            insert_chunks(self.conn, doc_id, spans)
            self.members.write(doc_id, record, result)
            record_waiting(self.conn, doc_id, result.ocr_pages)
            in_flight.done_reading(self.conn, f.path)
        self.pace.read(0, 0, len(spans))
        self.meaning.wrote(doc_id, f.mtime_ns, len(spans))
        if result.truncated:
            self._error(FileError(f.path, "truncated",
                                  f"Only the first {self.options.max_chars:,} characters were indexed"))
        return "updated" if r.known else "added"

    def _record_failure(self, f: DiskFile, source_id: int | None, digest: str, reason: str,
                        message: str, known: docs.KnownFile | None) -> str:
        self._error(FileError(f.path, reason, message))
        kind = "link" if reason == scan.OUTSIDE_LINK else f.kind or scan.detect_kind_safe(f.path) or "unknown"
        record = docs.DocumentRecord(
            path=f.path, kind=kind, size=f.size,
            mtime_ns=f.mtime_ns, content_hash=digest, source_id=source_id, status="error",
            error_reason=reason, error=message)
        with self._writing():
            docs.write_document(self.conn, record)
            in_flight.done_reading(self.conn, f.path)
        if known is not None:  # its old chunks went with the old version
            self.meaning.recount()
        return "failed"

    def _link_instead(self, f: DiskFile, source_id: int | None, verdict: scan.Verdict,
                         known: docs.KnownFile | None) -> str:
        """A link, not a file: listed when it leads out; else its target is indexed instead."""
        if verdict.kind == "outside-link":
            return self._record_failure(f, source_id, "", scan.OUTSIDE_LINK, scan.OUTSIDE_LINK_MESSAGE, known)
        with self._writing():
            in_flight.done_reading(self.conn, f.path)
        return "unchanged"

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction of its own, or the group's when one is open."""
        if self._group_open:
            yield self.conn
            return
        with write_transaction(self.conn):
            yield self.conn

    @contextmanager
    def _group(self) -> Iterator[None]:
        with write_transaction(self.conn):
            self._group_open = True
            try:
                yield
            finally:
                self._group_open = False

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
        pace, pending = self.pace, self.meaning.pending
        self.progress_cb(IndexProgress(
            phase=phase, files_total=self._files_total, files_done=self._files_done,
            chunks_written=pace.chunks_written, chunks_embedded=pace.chunks_embedded,
            chunks_pending=pending, current=self._current, errors=tuple(self.errors),
            files_skipped=self.skips.count,
            files_per_s=pace.files_per_s(), chunks_per_s=pace.chunks_per_s(),
            words_left_s=pace.words_left_s(), meaning_left_s=pace.meaning_left_s(pending)))

