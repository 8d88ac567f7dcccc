"""Reading scanned pages and pictures of text (OCR), after the words of every file are in.

Extractors list the pages that have no text layer but hold a picture (``Extraction.ocr_pages``);
the indexer records them as waiting (``store.ocr``). Once every file of a run is searchable by
words, :class:`OcrPhase` reads the waiting pages in a thread of its own, newest files first,
through :class:`OcrWorker`: a separate process at low priority (nice 10) with a deadline per
page and a memory cap, so the meaning half of the run goes on beside it. Each page read is
written as chunks of that page (the word indexes follow by trigger, vectors from the backlog
the run embeds before it ends) with its words and their boxes, for the preview.

Pages left waiting (a stopped run, OCR turned off) are read by the next run. A page whose file
changed or vanished is dropped (reading the file again records its pages anew); a page that
already has text is never read; a page that fails is recorded with one line why, listed with
the run's errors, and not tried again until its file changes. A scan or picture attached to a
message is read from a private copy in Memex's cache folder (:mod:`.member_copies`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar, cast

from ..child_process import PYMUPDF_ADDONS, ChildSpec, IsolatedWorker
from ..config import cache_dir
from ..errors import ExtractionError, IndexingCancelled
from ..store import Connection, Store
from ..store import documents as docs
from ..store import ocr as pages_store
from ..store.connection import open_connection, write_transaction
from ..types import FileError, IndexProgress, IndexReport, OcrPage, Page
from . import scan
from .chunking import TokenizerLike, chunk_pages
from .indexer import IndexOptions
from .meaning import MeaningQueue
from .member_copies import MemberCopies, NotNow

OCR_TARGET = "memex.core.extract.ocr:read_scanned_page"
PAGE_TIMEOUT_S = 60.0  # the engine's own deadline for one page …
GRACE_S = 10.0  # … and how much longer the process may take before it is killed
MEMORY_MB = 2048  # the OCR process's address-space cap (measured: it maps 0.8 GB reading a dense page)
MAX_ATTEMPTS = 3  # runs that may end while reading one page before it is recorded as failed
BATCH = 8  # waiting pages fetched at a time
REPORT_S = 0.5  # progress while only OCR is left
UNAVAILABLE = "ocr-unavailable"

Progress = Callable[[IndexProgress], None]
T = TypeVar("T")


class OcrWorker(IsolatedWorker):
    """Runs ``read_scanned_page(path, kind, page, timeout_s)`` in a child process at low
    priority. ``close`` kills a page in progress after a second (a stopped run stops at once);
    a closed worker takes no more pages."""

    SPEC = ChildSpec(
        target=OCR_TARGET, process_name="memex-ocr", load_failed="the OCR engine",
        out_of_memory="the page needs too much memory to read by OCR",
        reply_too_large="the text read from the page is too large",
        unreadable="the page could not be read by OCR",
        timed_out="reading the page by OCR took longer than {timeout:g} s and was stopped",
        crashed="the OCR process crashed ({detail})", not_started="the OCR process did not start",
        closed="OCR was stopped before the page was read.",
        warm_up="memex.core.indexing.ocr_phase:child_warm_up", skip_modules=PYMUPDF_ADDONS)
    default_memory_mb = MEMORY_MB
    close_wait_s = 1.0

    def __init__(self, page_timeout_s: float = PAGE_TIMEOUT_S, memory_mb: int | None = None,
                 target: str | None = None) -> None:
        super().__init__(page_timeout_s + GRACE_S, memory_mb, target)
        self.page_timeout_s = page_timeout_s

    def read(self, path: Path, kind: str, page: int) -> OcrPage:
        """The text and words of page ``page`` of ``path``; raises ExtractionError."""
        return cast(OcrPage, self._request((Path(path), kind, page, self.page_timeout_s), Path(path).name))


def child_warm_up() -> None:
    """(In the child.) Give way to everything else, and load the engine's module now."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)
    importlib.import_module(OCR_TARGET.partition(":")[0])


class OcrPhase:
    """One run's OCR. :meth:`start` (after the words) reads the waiting pages in a thread;
    :meth:`finish` waits for it while embedding what it writes; :meth:`close` stops it. The
    thread writes through a connection of its own; the run's writer lock covers it."""

    def __init__(self, store: Store, tokenizer: TokenizerLike, options: IndexOptions, *, enabled: bool,
                 cancel: threading.Event, pause: threading.Event, guard: Callable[[], None] = lambda: None,
                 worker: Callable[[], OcrWorker] = OcrWorker) -> None:
        self.store = store
        self.tokenizer = tokenizer
        self.options = options
        self.enabled = enabled
        self.cancel = cancel
        self.pause = pause
        self.guard = guard
        self.make_worker = worker
        self.errors: list[FileError] = []
        self.total = 0  # pages waiting when the phase started
        self.done = 0  # of those, read, failed or dropped
        self.chunks_written = 0
        self._thread: threading.Thread | None = None
        self._worker: OcrWorker | None = None
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._copies = MemberCopies(cache_dir())  # attachments read from private copies

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the run's side ---------------------------------------------------------------------
    def start(self) -> None:
        """Start reading the waiting pages (nothing when OCR is off or no page waits)."""
        if not self.enabled or self._thread is not None or self.cancel.is_set():
            return
        with self.store.read() as conn:
            self.total = pages_store.ocr_counts(conn).waiting
        if self.total == 0:
            return
        self._thread = threading.Thread(target=self._work, name="memex-ocr-pages", daemon=True)
        self._thread.start()

    def finish(self, meaning: MeaningQueue, report: Callable[[], None]) -> None:
        """Wait for the pages to be read, embedding their chunks as they come; a cancel stops
        OCR at once (IndexingCancelled); a failure of the thread is raised here."""
        while self.running:
            try:
                meaning.job.checkpoint()  # a pause waits here; a stop raises
            except IndexingCancelled:
                self.close()  # at once: the page in progress is abandoned
                raise
            assert self._thread is not None
            self._thread.join(REPORT_S)
            report()
            meaning.recount()
            meaning.drain()
        if self._failure is not None:
            raise self._failure
        meaning.recount()
        meaning.drain()

    def close(self) -> None:
        """Stop reading (a page in progress is abandoned; it waits for the next run)."""
        self._stop.set()
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.close()
        if self._thread is not None:
            self._thread.join()

    def annotate(self, progress: Progress | None) -> Progress | None:
        """``progress`` with this phase's pages, chunks and errors in every report, and the
        phase called "ocr" while pages are being read."""
        if progress is None:
            return None

        def report(p: IndexProgress) -> None:
            phase = "ocr" if self.running and p.phase in ("embedding", "ocr") else p.phase
            progress(replace(p, phase=phase, ocr_pages_total=self.total, ocr_pages_done=self.done,
                             chunks_written=p.chunks_written + self.chunks_written, errors=(*p.errors, *self.errors)))
        return report

    def reported(self, report: IndexReport) -> IndexReport:
        """The run's report with this phase's chunks and failures."""
        return replace(report, chunks=report.chunks + self.chunks_written, errors=(*report.errors, *self.errors))

    # -- the thread -------------------------------------------------------------------------
    def _work(self) -> None:
        conn: Connection | None = None
        try:
            conn = open_connection(self.store.path, create=False, caches=self.store.caches)
            worker = self.make_worker()
            with self._lock:
                self._worker = worker
            if self._stop.is_set():
                return
            seen: set[tuple[int, int]] = set()
            while not self._stopped():
                batch = [p for p in pages_store.next_waiting(conn, BATCH) if (p.document_id, p.page) not in seen]
                if not batch:
                    return  # none left (or only pages this run already handled: never loop on them)
                for page in batch:
                    if self._stopped() or self._read_one(conn, worker, page) == "stopped":
                        return
                    seen.add((page.document_id, page.page))
                    self.done = min(self.total, self.done + 1)
        except BaseException as exc:  # raised again on the run's thread, by finish()
            self._failure = exc
        finally:
            with self._lock:
                worker_now, self._worker = self._worker, None
            if worker_now is not None:
                worker_now.close()
            self._copies.close()
            if conn is not None:
                conn.close()

    def _stopped(self) -> bool:
        """Whether to stop; while paused, wait here (between two pages)."""
        while self.pause.is_set() and not (self._stop.is_set() or self.cancel.is_set()):
            self.cancel.wait(0.05)
        return self._stop.is_set() or self.cancel.is_set()

    def _read_one(self, db: Connection, worker: OcrWorker, page: pages_store.WaitingPage) -> str:
        """Read one page and write what it holds; the outcome: "done", "failed", "dropped",
        "later" or "stopped" (both: the page waits for a later run)."""
        try:
            copy = self._copies.copy_of(db, page.document_id, page.path)  # an attachment's pages
        except NotNow as exc:
            return self._fail(db, page, str(exc)) if exc.lasting else "later"
        except OSError:
            return "later"
        with self._pinned(db, page) if copy is None else contextlib.nullcontext(copy) as pinned:
            if pinned is None:
                self._write(db, lambda: pages_store.drop_page(db, page))
                return "dropped"
            if pages_store.page_has_text(db, page.document_id, page.page):
                self._write(db, lambda: pages_store.drop_page(db, page))  # never OCR a page with text
                return "dropped"
            attempts = self._write(db, lambda: pages_store.note_attempt(db, page))
            if attempts > MAX_ATTEMPTS:
                return self._fail(db, page, f"Memex stopped {attempts - 1} times while reading this page; "
                                            "it is skipped until the file changes")
            try:
                read = worker.read(pinned, page.kind, page.page)
            except ExtractionError as exc:
                return self._failed_read(db, page, exc)
        spans = chunk_pages([Page(page.page, read.text)], self.tokenizer, self.options.chunk_tokens,
                            self.options.chunk_overlap)
        if self._write(db, lambda: pages_store.save_page(db, page, read, spans)):
            self.chunks_written += len(spans)
        return "done"

    def _failed_read(self, db: Connection, page: pages_store.WaitingPage,
                     exc: ExtractionError) -> str:
        if exc.reason == "closed" or self._stop.is_set():
            self._write(db, lambda: pages_store.forget_attempt(db, page))
            return "stopped"
        if self._engine_missing(exc):  # not the page's fault: every page waits for a working engine
            self._write(db, lambda: pages_store.forget_attempt(db, page))
            self.errors.append(FileError(page.path, UNAVAILABLE, " ".join(str(exc).split())))
            self._stop.set()
            return "stopped"
        return self._fail(db, page, str(exc))

    @staticmethod
    def _engine_missing(exc: ExtractionError) -> bool:
        """The engine cannot load or its process cannot start (no page could be read now)."""
        spec = OcrWorker.SPEC
        return (exc.reason == UNAVAILABLE or str(exc) == spec.not_started
                or (exc.reason == "failed" and str(exc).startswith(spec.load_failed)))

    def _fail(self, db: Connection, page: pages_store.WaitingPage, message: str) -> str:
        self._write(db, lambda: pages_store.mark_failed(db, page, message))
        self.errors.append(pages_store.page_failure(page.path, page.page, message))
        return "failed"

    @contextlib.contextmanager
    def _pinned(self, db: Connection, page: pages_store.WaitingPage) -> Iterator[Path | None]:
        """The page's file held open as the library knows it, for the OCR process to read; None
        when it vanished, changed, or is now reached through a link."""
        root = docs.source_root(db, page.path)
        verdict = scan.judge_path(page.path, root) if root is not None else None
        if verdict is None or verdict.kind != "direct" or verdict.real is None:
            yield None
            return
        try:
            pin = scan.PinnedFile(verdict.real)
        except OSError:
            yield None
            return
        with pin:
            st = os.fstat(pin.fd)
            yield Path(pin.path) if (st.st_size, st.st_mtime_ns) == (page.size, page.mtime_ns) else None

    def _write(self, db: Connection, step: Callable[[], T]) -> T:
        self.guard()
        with write_transaction(db):
            return step()
