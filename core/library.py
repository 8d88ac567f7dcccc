"""The façade: the one object the window and the CLI use to reach the library.

It holds the Store (the library file: its connections, one per thread, transactions and
caches), the models, and the extraction and page preview processes. Nothing
outside ``core`` runs SQL or ONNX, or parses a document.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import document_files
from .config import Settings
from .library_file import mark_in_use, prepare_library
from .library_status import library_status
from .memory import release_free_heap
from .models.embedder_switcher import EmbedderSwitcher
from .models.model_set import EMBED_BATCH_SIZE as EMBED_BATCH_SIZE  # still imported from here
from .models.model_set import EmbedderChoice, ModelSet, RerankerChoice
from .models.protocols import Embedder, Reranker
from .models.switch import SWITCH_BATCH, PendingSwitch, SwitchEstimate, SwitchProgress, SwitchResult
from .preview.pages import RenderedPage
from .preview.previews import PagePreviews
from .search.library_search import ranking_changed, reranked, search_library, spelling_correction
from .search.operators import apply_operators, parse_operators, resolve_folder
from .store import Store
from .store import documents as docs
from .store import skipped as skipped_store
from .store.chunks import StoredChunk, fetch_chunks, page_text
from .store.connection import LibraryRecovered
from .store.open_marks import clear_mark
from .store.source_record import remember_sources
from .types import (
    Changes,
    Check,
    Document,
    FileError,
    Hit,
    IndexProgress,
    IndexReport,
    LibraryStatus,
    OcrPage,
    SearchFilters,
    SearchResults,
    Source,
)

if TYPE_CHECKING:  # indexing loads on first use: a search or status needs none of it
    from .extract.worker import ExtractionWorker
    from .indexing.runner import IndexRunner
    from .preview.worker import PreviewWorker


class Library:
    """Open with :meth:`open`; close with :meth:`close` (or use it as a context manager).

    A thin coordinator over the rooms that do the work: :attr:`store` (the library file: every
    SQL statement, connections, caches), :attr:`models` (embedders and the reranker), the
    index runner (writes to documents) and the page previews."""

    #: Set by :meth:`open` when a damaged library was moved aside and replaced (show it once).
    recovered: LibraryRecovered | None = None
    #: Set by :meth:`open` when Memex may not write the file (read-only disk, file or folder).
    readonly: bool = False
    _keep_sources = False  # whether open succeeded on a writable library (see _remember_sources)

    def __init__(self, path: Path, settings: Settings, embedder: EmbedderChoice = None,
                 reranker: RerankerChoice = None, *, readonly: bool = False,
                 extraction_worker: ExtractionWorker | None = None,
                 preview_worker: PreviewWorker | None = None) -> None:
        self.path = path
        self.settings = settings
        self.readonly = readonly
        self.store = Store(path, readonly=readonly)
        self.models = ModelSet(lambda: self.settings, embedder, reranker)
        self._extraction_worker = extraction_worker
        self._index_runner: IndexRunner | None = None  # made by _runner on first write
        self._previews = PagePreviews(self._source_root, preview_worker)
        self._lock = threading.RLock()  # guards settings swaps and closing
        self._switcher = EmbedderSwitcher(path, self.store, self.models, self._save_embedder_setting)
        self._open_mark: Path | None = None  # removed by close(): its absence means a clean end

    # -- life cycle -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None,
             embedder: EmbedderChoice = None, reranker: RerankerChoice = None,
             extraction_worker: ExtractionWorker | None = None,
             preview_worker: PreviewWorker | None = None) -> Library:
        """Open or create the library at ``path`` (default: the per-user library).

        ``embedder``/``reranker`` may be a model spec (name or folder) or a loaded model;
        when omitted they come from the settings. ``reranker=False`` turns reranking off.
        ``extraction_worker``/``preview_worker`` replace the child processes that read and
        draw files (another target or deadline: tests, benchmarks); when omitted each is made
        on first use, extraction with the settings' deadline. The library closes them.

        The file is checked first; a damaged one is set aside and replaced, and
        :attr:`recovered` holds the notice to show the user. A file Memex cannot prove it made
        is refused with a LibraryError, untouched; one it may not write opens read-only
        (:attr:`readonly`). See ``library_file.prepare_library``. Every failure leaves nothing
        behind."""
        settings = settings or Settings.load()
        target, readonly, recovered = prepare_library(path, settings)
        lib = cls(target, settings, embedder, reranker, readonly=readonly,
                  extraction_worker=extraction_worker, preview_worker=preview_worker)
        try:
            if not readonly:
                lib._open_mark = mark_in_use(target)
            lib.store.prepare(recovered.sources if recovered is not None else ())
        except BaseException:
            lib.close()
            raise
        lib.recovered = recovered
        lib._keep_sources = not readonly
        lib._remember_sources()
        return lib

    def close(self) -> None:
        with self._lock:
            runner, worker = self._index_runner, self._extraction_worker
            if runner is not None:
                runner.close()  # closes the extraction worker too
            elif worker is not None:
                worker.close()
                self._extraction_worker = None
            self._previews.close()
            self._remember_sources()
            clear_mark(self._open_mark)
            self._open_mark = None
            self.store.close()

    @property
    def _runner(self) -> IndexRunner:
        """The index runner, made on first use (its modules load only then)."""
        with self._lock:
            if self._index_runner is None:
                from .indexing.runner import IndexRunner

                self._index_runner = IndexRunner(self.store, self.models, lambda: self.settings,
                                                 self._extraction_worker)
            return self._index_runner

    def _remember_sources(self) -> None:
        """Refresh Memex's own copy of the source list (see ``source_record``): what a new
        library takes if this one is ever damaged past reading. Best effort."""
        sources = self.store.sources_to_remember() if self._keep_sources else None
        if sources is not None:
            remember_sources(self.path, sources)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings -------------------------------------------------------------------------
    def update_settings(self, new: Settings) -> Changes:
        """Use ``new`` from now on; returns what that changed (``search_results`` when a field
        that ranks results did, so the same query may now answer differently). Settings are
        values: a run under way keeps the one it started with, the next run (or search) reads
        ``new``. Models already loaded stay loaded. Saving the file is the caller's part."""
        if not isinstance(new, Settings):
            raise TypeError(f"update_settings takes a Settings, not {type(new).__name__}")
        with self._lock:
            old, self.settings = self.settings, new
        return Changes(settings=old != new, search_results=ranking_changed(old, new))

    # -- models (see models.model_set) ----------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The configured embedding model, loaded on first use (a second or so)."""
        return self.models.embedder

    @property
    def reranker(self) -> Reranker | None:
        """The cross-encoder, or None when none is configured."""
        return self.models.reranker

    def release_memory(self) -> None:
        """Give back what idle parts keep for reuse: the models' run buffers, SQLite's page
        caches (up to 32 MB per connection; the pages stay in the system's file cache) and the
        free heap. For an app that goes quiet; parts in use (a connection running a query)
        are left alone, and the next search refills what it needs (a few ms)."""
        self.models.release_memory()
        self.store.release_memory()
        release_free_heap()

    # -- indexing (see indexing.runner) ---------------------------------------------------
    def add_sources(self, paths: Iterable[str | os.PathLike[str]]) -> list[Source]:
        """Remember folders/files to keep in sync (without indexing them yet)."""
        return self._runner.add_sources(paths)

    def index(self, paths: Iterable[str | os.PathLike[str]] | None = None, *,
              progress: Callable[[IndexProgress], None] | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None) -> IndexReport:
        """Add ``paths`` as sources (if given) and bring them — or, with no paths, every
        source — in line with the disk. Blocks; call it from a worker thread in a GUI. The
        report says what changed (``IndexReport.changes``)."""
        return self._runner.index(paths, progress, cancel, pause)

    def refresh(self, paths: Iterable[str | os.PathLike[str] | bytes], *,
                progress: Callable[[IndexProgress], None] | None = None,
                cancel: threading.Event | None = None, pause: threading.Event | None = None) -> IndexReport:
        """Sync just these paths (created, changed, moved or deleted files or folders inside
        existing sources) — what the folder watcher calls. Paths outside every source are
        ignored; a path whose name the library cannot hold (not valid UTF-8, given as bytes or
        with surrogates) is skipped and listed in the report's errors as "bad-name"."""
        return self._runner.refresh(paths, progress, cancel, pause)

    def retry(self, paths: Iterable[str | os.PathLike[str]], *,
              progress: Callable[[IndexProgress], None] | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None) -> IndexReport:
        """Read these failed files again although they did not change (a file that was locked,
        or a reader that has since improved); paths that are not failed files are ignored. The
        report says what became readable and what still fails. A document inside a file (a
        message, an attachment) is read again with the file that holds it; a message skipped
        because it stopped the reader, by reading its mailbox on from that message. Pages OCR
        could not read (a file listed "ocr-failed") are read again."""
        marked = document_files.mark_for_retry(self.store, paths)
        return self.refresh(marked, progress=progress, cancel=cancel, pause=pause)

    def remove(self, path: str | os.PathLike[str], *,
               progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None) -> IndexReport:
        """Forget a source (folder or file) and every document only it covered; the report
        says how many documents were removed. The files on disk are never touched. Waits while
        another process indexes the library (its run would write the source's files back);
        ``cancel`` set meanwhile raises IndexingCancelled with nothing removed."""
        return self._runner.remove(path, progress, cancel)

    # -- previews (see preview.previews) --------------------------------------------------
    def render_page(self, path: str | os.PathLike[str], page_number: int, terms: Sequence[str], width_px: int,
                    crop_margins: bool = False, ocr: OcrPage | None = None) -> RenderedPage:
        """A page of ``path`` drawn as PNG with ``terms`` highlighted, by a separate process
        (started on first use, stopped by :meth:`close`); see :meth:`PreviewWorker.render`.
        ``ocr`` (the page's :meth:`ocr_words`) marks the matching words OCR read on a page
        with no text layer. A file that hangs or crashes the renderer raises an
        ``ExtractionError`` saying so; so does a path that leads out of its folder through a
        link (reason "outside-link"). A document inside a file (a PDF attached to a message)
        is drawn from its copy in the cache folder (see :meth:`open_target`)."""
        return self._previews.render(document_files.drawable_path(self.store, path), page_number, terms, width_px,
                                     crop_margins, ocr)

    def _source_root(self, path: str) -> str | None:
        return docs.source_root(self.store.connection(), path)

    # -- switching the embedding model (see models.switch) --------------------------------
    def estimate_embedder_switch(self, spec: str | os.PathLike[str] | None) -> SwitchEstimate:
        """What switching to ``spec`` (a model name, folder, or None for the default) would
        cost: chunks to embed and the new model's speed on a sample of this library's chunks."""
        return self._switcher.estimate(spec)

    def switch_embedder(
        self,
        spec: str | os.PathLike[str] | None,
        *,
        progress: Callable[[SwitchProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        batch_size: int = SWITCH_BATCH,
    ) -> SwitchResult:
        """Re-embed every chunk with ``spec``'s model into a new space while searches keep
        using the current one, then swap them in one transaction and save the setting.
        Cancelling keeps the old index; calling again resumes. Blocks: use a worker thread."""
        return self._switcher.switch(spec, progress=progress, cancel=cancel, pause=pause,
                                     batch_size=batch_size)

    def cancel_embedder_switch(self) -> str | None:
        """Drop an unfinished switch's vectors (the active ones are untouched); returns the
        model id it was switching to, or None when there was none."""
        return self._switcher.cancel()

    def pending_embedder_switch(self) -> PendingSwitch | None:
        """An unfinished switch (cancelled or interrupted), which a new call resumes."""
        return self._switcher.pending()

    def _save_embedder_setting(self, setting: str | None) -> bool:
        """After a switch: the settings name its model; whether their file could be written."""
        with self._lock:  # one read-and-replace: a window's update_settings cannot interleave
            self.settings = self.settings.with_changes(embedder=setting)
        try:
            self.settings.save()
        except OSError:
            return False
        return True

    # -- searching ------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, *, filters: SearchFilters | None = None,
               mode: str = "hybrid", rerank: bool | None = None,
               prefix_last: bool = False, lexical_weight: float | None = None,
               fusion: str | None = None) -> list[Hit]:
        """Documents best matching ``query``. Any text is accepted; nothing useful → ``[]``.
        ``rerank=None`` reranks when a reranker is configured. Characters no text can hold
        (lone surrogates, from undecodable bytes) count as spaces."""
        return search_library(self.store, self.models, self.settings, query, k, filters=filters,
                              mode=mode, rerank=rerank, prefix_last=prefix_last,
                              lexical_weight=lexical_weight, fusion=fusion)

    def find(self, query: str, k: int = 10, *, filters: SearchFilters | None = None,
             mode: str = "hybrid", rerank: bool | None = None,
             prefix_last: bool = False) -> SearchResults:
        """What the window, the CLI and the service show for ``query``: :meth:`search`'s hits
        with the query actually run (``showing_results_for`` when it differs from the typed
        one)."""
        ops = parse_operators(query)  # "phrase", type:, in:, before:, after: come out first
        if ops.found:
            folder = resolve_folder(ops.folder, [s.path for s in self.sources()]) if ops.folder else None
            found = self.find(ops.text, k * 4 if ops.phrases else k, filters=ops.filters(filters, folder),
                              mode=mode, rerank=rerank, prefix_last=prefix_last)
            return apply_operators(ops, query, found, k)
        corrected = self.spelling_correction(query, prefix_last) if mode != "dense" else None
        hits = self.search(corrected or query, k, filters=filters, mode=mode, rerank=rerank,
                           prefix_last=prefix_last)
        return SearchResults(query=query, hits=tuple(hits), showing_results_for=corrected)

    def spelling_correction(self, query: str, prefix_last: bool = False) -> str | None:
        """``query`` with the words the library does not hold corrected to the closest words it
        does (see ``search.spelling``), or None when there is nothing to correct."""
        return spelling_correction(self.store, query, prefix_last)

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Re-order hits from :meth:`search` by the cross-encoder (for showing fused results
        first and reranked ones when they are ready)."""
        return reranked(self.models, query, hits)

    # -- inspection -----------------------------------------------------------------------
    def sources(self) -> list[Source]:
        return docs.list_sources(self.store.connection())

    def document(self, path: str | os.PathLike[str]) -> Document | None:
        return docs.get_document(self.store.connection(), str(Path(path).expanduser().resolve()))

    def documents(self, limit: int = 1000) -> list[Document]:
        return docs.list_documents(self.store.connection(), limit)

    def document_by_id(self, document_id: int) -> Document | None:
        return docs.get_document_by_id(self.store.connection(), document_id)

    def passage(self, chunk_id: int) -> StoredChunk | None:
        """One stored passage (a search hit's chunk) with its document's path, or None."""
        return fetch_chunks(self.store.connection(), [chunk_id]).get(chunk_id)

    def source_covering(self, path: str) -> str | None:
        """The source folder or file that covers ``path`` (an absolute path), or None."""
        return self._source_root(path)

    def page_text(self, document_id: int, page: int) -> str:
        """The stored text of one page, rebuilt from its chunks at their offsets (for preview).
        Whitespace between chunks is shown as a line break. A document inside a file (a
        message in a mailbox, an attachment) has its text here too."""
        return page_text(self.store.connection(), document_id, page)

    def open_target(self, path: str) -> str:
        """The file to hand the operating system to open the document at ``path``: the file
        itself; for a message inside a mailbox, the message written as an .eml file into
        Memex's cache folder (its own, private, one folder per document; written again when
        stale); for an attachment, its bytes taken out of the message into that folder (a
        Maildir message file is copied there as .eml, so a mail program opens it). Raises a
        LibraryError with one line when the file holding it is gone or changed since it was
        read (in a way that moves the message)."""
        return document_files.open_target(self.store, path)

    def ocr_words(self, path: str | os.PathLike[str], page: int) -> OcrPage | None:
        """What OCR read on page ``page`` of the document at ``path`` (its text, and its words
        with boxes in the page's units, for the preview to highlight), or None when that page
        was not read by OCR (it has a text layer, or still waits, or failed)."""
        return document_files.ocr_words(self.store, path, page)

    def failures(self, limit: int = 1000) -> list[FileError]:
        """Files that could not be read, the latest first, then files with pages OCR could
        not read (reason "ocr-failed", one entry each); :meth:`retry` tries either again."""
        return document_files.failures(self.store, limit)

    def skipped_files(self, limit: int = 1000, *, on_purpose: bool = False) -> list[FileError]:
        """Files and folders the last scans passed over without reading them, by path, with
        why: a type Memex does not read ("unsupported"), a pipe or device ("not-a-file"), a
        folder it may not open, a name it cannot hold, a broken link. Hidden entries and names
        matching an ignore pattern (skipped because the settings say so) only with
        ``on_purpose``. Links leading out of a folder are listed by :meth:`failures`."""
        return skipped_store.skipped_files(self.store.connection(), limit, on_purpose)

    def skipped_counts(self, under: Sequence[str | os.PathLike[str]] = ()) -> dict[str, int]:
        """How many skipped entries (see :meth:`skipped_files`, on purpose included) there are
        for each reason: in the whole library, or at and inside the folders or files ``under``."""
        roots = [str(Path(p).expanduser().resolve()) for p in under]
        return skipped_store.skipped_counts(self.store.connection(), roots)

    def status(self) -> LibraryStatus:
        """The library's totals, read from the counts its triggers keep (no table is scanned)."""
        return library_status(self.path, self.store, self.models.reranker_name)

    def doctor(self) -> list[Check]:
        """Health checks of the stack, the models and this library file."""
        from .doctor import run_checks

        return run_checks(self)

