"""A library's writes to its documents: adding sources, indexing, refreshing and removing.

One run at a time in this process, behind the library's cross-process writer lock
(``store.writer_lock``), each with the settings it started with.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from ..config import Settings
from ..errors import IndexingCancelled, LibraryError
from ..extract.worker import ExtractionWorker
from ..models.model_set import ModelSet, embed_batch_size
from ..models.protocols import Embedder
from ..store import Connection, Store, write_transaction
from ..store import documents as docs
from ..store.vectors import VectorSpace, active_space, ensure_space
from ..store.writer_lock import writer_turn
from ..types import FileError, IndexProgress, IndexReport, Source
from .indexer import Indexer, IndexOptions, Unit
from .ocr_phase import OcrPhase
from .scan import name_error

Progress = Callable[[IndexProgress], None]


class IndexRunner:
    """Keeps a library's documents in line with the disk. ``worker`` reads files in a separate
    process (one is started on first use, with the settings' deadline, when none is given)."""

    def __init__(self, store: Store, models: ModelSet, settings: Callable[[], Settings],
                 worker: ExtractionWorker | None = None) -> None:
        self._store = store
        self._models = models
        self._settings = settings
        self._worker = worker
        self._lock = threading.Lock()  # guards the worker
        self._running = threading.Lock()  # one run at a time

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def add_sources(self, paths: Iterable[str | os.PathLike[str]]) -> list[Source]:
        """See :meth:`Library.add_sources`."""
        added = []
        with self._store.write() as conn:
            for raw in paths:
                path = Path(raw).expanduser().resolve()
                if not path.exists():
                    raise LibraryError(f"{path} does not exist.")
                docs.add_source(conn, str(path), "folder" if path.is_dir() else "file")
                added.append(str(path))
        return [s for s in docs.list_sources(conn) if s.path in added]

    def index(self, paths: Iterable[str | os.PathLike[str]] | None, progress: Progress | None,
              cancel: threading.Event | None, pause: threading.Event | None) -> IndexReport:
        """See :meth:`Library.index`."""
        conn = self._store.connection()
        known = {s.path for s in docs.list_sources(conn)}
        if paths is not None:
            wanted = {s.path for s in self.add_sources(paths)}
            sources = [s for s in docs.list_sources(conn) if s.path in wanted]
        else:
            sources = docs.list_sources(conn)
        units = [Unit(s.path, s.kind, s.id, s.path) for s in sources]
        report = self._run(units, [s.id for s in sources], progress, cancel, pause)
        return replace(report, sources_added=len({s.path for s in sources} - known),
                       sources_checked=0 if report.cancelled else len(sources))

    def refresh(self, paths: Iterable[str | os.PathLike[str] | bytes], progress: Progress | None,
                cancel: threading.Event | None, pause: threading.Event | None) -> IndexReport:
        """See :meth:`Library.refresh`."""
        conn = self._store.connection()
        units: dict[str, Unit] = {}
        skipped: list[FileError] = []
        source_paths = {s.id: s.path for s in docs.list_sources(conn)}
        for raw in paths:
            path = os.path.abspath(os.fsdecode(raw))
            bad_name = name_error(path)
            if bad_name is not None:
                skipped.append(bad_name)
                continue
            source_id = docs.source_for(conn, path)
            if source_id is None:
                continue
            kind = "folder" if os.path.isdir(path) else "file" if os.path.exists(path) else "gone"
            units[path] = Unit(path, kind, source_id, source_paths[source_id])
        report = self._run(list(units.values()), [], progress, cancel, pause)
        return replace(report, errors=(*skipped, *report.errors),
                       files_skipped=report.files_skipped + len(skipped)) if skipped else report

    def remove(self, path: str | os.PathLike[str], progress: Progress | None,
               cancel: threading.Event | None) -> IndexReport:
        """See :meth:`Library.remove`."""
        target = str(Path(path).expanduser().resolve())
        with self._running, writer_turn(self._store.path, readonly=self._store.readonly,
                                        on_wait=_say_waiting(progress), cancel=cancel) as lock:
            if lock is None:
                raise IndexingCancelled(f"Nothing was removed: {target} is still in the library.")
            with self._store.write() as conn:
                was_source = any(s.path == target for s in docs.list_sources(conn))
                removed = docs.remove_path(conn, target)
            lock.check_in_place()
            return IndexReport(removed=removed, sources_removed=int(was_source))

    def _run(self, units: list[Unit], full_sources: list[int], progress: Progress | None,
             cancel: threading.Event | None, pause: threading.Event | None) -> IndexReport:
        if not self._running.acquire(blocking=False):
            raise LibraryError("Indexing is already running for this library.")
        try:
            with writer_turn(self._store.path, readonly=self._store.readonly,
                             on_wait=_say_waiting(progress), cancel=cancel) as lock:
                if lock is None:
                    if progress is not None:
                        progress(IndexProgress(phase="cancelled"))
                    return IndexReport(cancelled=True)
                conn = self._store.connection()
                # Sources may have been removed while this run waited for the lock.
                alive = {s.id for s in docs.list_sources(conn)}
                units = [u for u in units if u.source_id is None or u.source_id in alive]

                def follow_switch() -> tuple[VectorSpace, Callable[[Sequence[str]], np.ndarray]]:
                    space, emb = self._space_for_writing(conn)
                    return space, partial(emb.embed_documents, batch_size=embed_batch_size(emb))

                space, emb = self._space_for_writing(conn)
                options, cancel, pause = self._options(), cancel or threading.Event(), pause or threading.Event()
                # Scanned pages are read after every file's words are in, beside the vectors.
                ocr = OcrPhase(self._store, emb.tokenizer, options, enabled=self._settings().ocr,
                               cancel=cancel, pause=pause, guard=lock.check_in_place)
                indexer = Indexer(
                    conn, emb.tokenizer, self._extraction_worker(), options,
                    embed=partial(emb.embed_documents, batch_size=embed_batch_size(emb)), space=space,
                    progress=ocr.annotate(progress), cancel=cancel, pause=pause,
                    guard=lock.check_in_place, respace=follow_switch, ocr=ocr)
                try:
                    return ocr.reported(indexer.run(units, [sid for sid in full_sources if sid in alive]))
                finally:
                    ocr.close()
        finally:
            self._running.release()

    def _space_for_writing(self, conn: Connection) -> tuple[VectorSpace, Embedder]:
        """The active space and the embedder that writes into it (``ModelSet.keeps_space_model``).
        A model given to ``Library.open`` that differs from the library's gets the clear
        refusal of ``ensure_space``."""
        emb = self._models.embedder
        with write_transaction(conn):  # the run's own connection, on this thread
            space = active_space(conn)
            if space is None or not self._models.keeps_space_model(space):
                return ensure_space(conn, emb.model_id, emb.dim, self._models.configured_spec()), emb
        return space, self._models.embedder_for(space)

    def _options(self) -> IndexOptions:
        s = self._settings()  # read once: the whole run uses one value
        return IndexOptions(chunk_tokens=s.chunk_tokens, chunk_overlap=s.chunk_overlap,
                            max_chars=s.max_chars_per_file, rules=s.ignore_rules())

    def _extraction_worker(self) -> ExtractionWorker:
        with self._lock:
            if self._worker is None:
                self._worker = ExtractionWorker(timeout_s=self._settings().extract_timeout_s)
            return self._worker


def _say_waiting(progress: Progress | None) -> Callable[[], None]:
    def waiting() -> None:
        if progress is not None:
            progress(IndexProgress(phase="waiting"))
    return waiting
