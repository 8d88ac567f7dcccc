"""The façade: the one object the window and the CLI use to reach the library.

It owns the SQLite connections (one per thread; WAL lets readers run while one writer
indexes), the embedder, the reranker and the extraction and page preview processes. Nothing
outside ``core`` runs SQL or ONNX, or parses a document.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import apsw
import numpy as np

from .config import Settings, default_library_path
from .errors import ExtractionError, IndexingCancelled, LibraryError, MemexError
from .extract.worker import ExtractionWorker
from .indexing.indexer import Indexer, IndexOptions, Unit
from .indexing.scan import OUTSIDE_LINK, OUTSIDE_LINK_MESSAGE, judge_path, name_error
from .memory import release_free_heap
from .models.switch import (
    SWITCH_BATCH,
    ModelSwitch,
    PendingSwitch,
    SwitchEstimate,
    SwitchProgress,
    SwitchResult,
    discard_pending,
    estimate_switch,
    pending_switch,
    setting_for,
)
from .preview.pages import RenderedPage
from .preview.worker import PreviewWorker
from .search.hybrid import Searcher, rerank_hits
from .store import documents as docs
from .store import migrate, open_connection, read_snapshot, schema_version, write_transaction
from .store.chunks import document_chunks
from .store.connection import LibraryRecovered
from .store.migrations import pending_migrations
from .store.open_marks import clear_mark, clear_stale_marks, mark_open, stale_marks
from .store.ownership import library_path, prepare_library_file
from .store.source_record import current_sources, remember_sources
from .store.vector_index import forget_cached
from .store.vectors import VectorSpace, active_space, ensure_space
from .store.writer_lock import LibraryPlace, WriterLock
from .types import (
    Check,
    Document,
    FileError,
    Hit,
    IndexProgress,
    IndexReport,
    LibraryStatus,
    SearchFilters,
    Source,
)

QUERY_CACHE_SIZE = 128
_SURROGATES = re.compile("[\ud800-\udfff]")
# Small batches: activations of 32 × 256-token sequences alone take ~800 MB. On the CPU two
# batches run side by side (see embedding.side_by_side): batches of 4 embed as fast as 8
# (39-41 against 39 chunks/s at 256 tokens) with half the activations held at once.
EMBED_BATCH_SIZE = 4


class Library:
    """Open with :meth:`open`; close with :meth:`close` (or use it as a context manager)."""

    #: Set by :meth:`open` when a damaged library was moved aside and replaced (show it once).
    recovered: LibraryRecovered | None = None
    #: Set by :meth:`open` when Memex may not write the file (read-only disk, file or folder).
    readonly: bool = False
    _keep_sources = False  # whether open succeeded on a writable library (see _remember_sources)

    def __init__(self, path: Path, settings: Settings, embedder: object = None,
                 reranker: object = None) -> None:
        self.path = path
        self.settings = settings
        self._embedder_arg = embedder
        self._reranker_arg = reranker
        self._embedder = None
        self._reranker = None
        self._reranker_loaded = False
        self._lock = threading.RLock()  # guards lazy loading and the connection list
        self._write_lock = threading.Lock()  # one indexing run at a time
        self._local = threading.local()
        self._connections: list[apsw.Connection] = []
        self._worker: ExtractionWorker | None = None
        self._preview: PreviewWorker | None = None
        self._open_mark: Path | None = None  # removed by close(): its absence means a clean end
        self._query_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._models: dict[str, object] = {}  # loaded embedders by model id, besides the configured one
        self._switch_target: object = None  # the model of the last switch estimated or started
        self._switch_lock = threading.Lock()  # one model switch at a time
        self._closed = False

    # -- life cycle -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None,
             embedder: object = None, reranker: object = None) -> Library:
        """Open or create the library at ``path`` (default: the per-user library).

        ``embedder``/``reranker`` may be a model spec (name or folder) or a loaded model;
        when omitted they come from the settings. ``reranker=False`` turns reranking off.

        The file is checked first (``PRAGMA quick_check``: every table after an unclean end,
        else the header, schema and small tables; see ``library_damage``). A damaged one is
        moved aside as ``<name>.corrupt-<timestamp>`` with its -wal/-shm, never deleted; a new library takes
        its place with the old one's sources (indexed again by the next full :meth:`index`),
        and :attr:`recovered` holds the notice to show the user.

        Memex writes, migrates or sets aside only files it can prove it made (see
        ``store.ownership``): anything else (a document, another program's database, an empty
        file) is refused with a LibraryError and left exactly as it was. A library on a
        read-only disk, or in a read-only file or folder, opens read-only (:attr:`readonly`):
        search and status work, writes are refused. Every failure leaves nothing behind."""
        settings = settings or Settings.load()
        default = default_library_path()
        target = library_path(path if path is not None else settings.library, default)
        unclean = bool(stale_marks(target))  # a process had it open and never closed it
        # Memex's own file: the default path itself, not a link placed there to some other file.
        own = target == default.resolve() and not default.is_symlink()
        readonly, recovered = prepare_library_file(target, default=own, thorough=unclean)
        lib = cls(target, settings, embedder, reranker)
        lib.readonly = readonly
        try:
            if not readonly:
                clear_stale_marks(target)
                lib._open_mark = mark_open(target)
            conn = lib._conn()
            if readonly:
                if pending_migrations(conn):
                    raise LibraryError(f"The library {target} is read-only and was made by an earlier "
                                       "Memex; open it once where it can be written to bring it up to date.")
            else:
                migrate(conn)
            if recovered is not None:
                with write_transaction(conn):
                    for source_path, kind in recovered.sources:
                        docs.add_source(conn, source_path, kind)
        except BaseException as exc:
            lib.close()
            if isinstance(exc, apsw.Error):
                raise LibraryError(f"Cannot prepare the library {target}: {exc}") from exc
            raise
        lib.recovered = recovered
        lib._keep_sources = not readonly
        lib._remember_sources()
        return lib

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None
            if self._preview is not None:
                self._preview.close()
                self._preview = None
            self._remember_sources()
            clear_mark(self._open_mark)
            self._open_mark = None
            for conn in self._connections:
                conn.close()
            self._connections.clear()
            self._closed = True

    def _remember_sources(self) -> None:
        """Refresh Memex's own copy of the source list (see ``source_record``): what a new
        library takes if this one is ever damaged past reading. Best effort."""
        if not self._keep_sources or not self._connections:
            return
        with contextlib.suppress(apsw.Error, OSError):  # a connection busy in another thread, say
            remember_sources(self.path, current_sources(self._connections[0]))

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> apsw.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise LibraryError("The library is closed.")
            conn = open_connection(self.path, readonly=self.readonly, create=False)
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    # -- models ---------------------------------------------------------------------------
    @property
    def embedder(self):
        """The embedding model, loaded on first use (a second or so)."""
        with self._lock:
            if self._embedder is None:
                arg = self._embedder_arg
                if arg is None or isinstance(arg, str | os.PathLike):
                    from .models.embedding import load_embedder

                    spec = str(arg) if arg is not None else self.settings.embedder
                    self._embedder = load_embedder(
                        spec, threads=self.settings.effective_threads(), device=self.settings.device)
                else:
                    self._embedder = arg
            return self._embedder

    @property
    def reranker(self):
        """The cross-encoder, or None when none is configured."""
        with self._lock:
            if not self._reranker_loaded:
                arg = self._reranker_arg
                if arg is False:
                    self._reranker = None
                elif arg is None or isinstance(arg, str | os.PathLike):
                    spec = str(arg) if arg is not None else self.settings.reranker
                    if spec:
                        from .models.rerank import load_reranker

                        self._reranker = load_reranker(
                            spec, threads=self.settings.effective_threads(),
                            device=self.settings.device)
                else:
                    self._reranker = arg
                self._reranker_loaded = True
            return self._reranker

    def release_memory(self) -> None:
        """Give back what idle parts keep for reuse: the models' run buffers, SQLite's page
        caches (up to 32 MB per connection; the pages stay in the system's file cache) and the
        free heap. For an app that goes quiet; parts in use (a connection running a query)
        are left alone, and the next search refills what it needs (a few ms)."""
        with self._lock:
            models = [m for m in (self._embedder, self._reranker, self._switch_target, *self._models.values())
                      if m is not None]
            conns = list(self._connections)
        for model in {id(m): m for m in models}.values():
            release = getattr(model, "release_memory", None)
            if release is not None:
                release()
        for conn in conns:
            with contextlib.suppress(apsw.ThreadingViolationError, apsw.ConnectionClosedError):
                conn.release_memory()  # a connection busy in another thread raises at once
        release_free_heap()

    def _space_for_writing(self, conn: apsw.Connection) -> tuple[VectorSpace, object]:
        """The active space and the embedder that made it. A model given to :meth:`open` that
        differs from the library's gets the clear refusal of ``ensure_space``; a differing
        *setting* (switched by another process, or edited by hand) keeps the library's model:
        vectors are never silently made again with another one."""
        emb = self.embedder
        with write_transaction(conn):
            space = active_space(conn)
            if space is None or space.model_id == emb.model_id or self._embedder_arg is not None:
                return ensure_space(conn, emb.model_id, emb.dim, self._configured_spec()), emb
        return space, self._embedder_for(space)

    def _space_for_reading(self, conn: apsw.Connection) -> VectorSpace | None:
        return active_space(conn)

    def _configured_spec(self) -> str | None:
        arg = self._embedder_arg
        if arg is None or isinstance(arg, str | os.PathLike):
            return setting_for(arg if arg is not None else self.settings.embedder)
        return None  # a loaded model: its id says what it is

    def _embedder_for(self, space: VectorSpace):
        """The embedder that made ``space``'s vectors: queries must be embedded by it, whatever
        the setting says (it may name a model a switch is still moving to)."""
        with self._lock:
            for emb in (self._embedder, self._switch_target, self._models.get(space.model_id)):
                if emb is not None and emb.model_id == space.model_id:
                    return emb
        try:
            configured = self.embedder
        except MemexError:
            configured = None
        if configured is not None and configured.model_id == space.model_id:
            return configured
        from .models.embedding import load_embedder

        try:
            loaded = load_embedder(space.spec or space.model_id, threads=self.settings.effective_threads(),
                                   device=self.settings.device)
        except MemexError as exc:
            raise LibraryError(
                f"This library's vectors were made with '{space.model_id}', which cannot be loaded "
                f"({exc}). Set the embedder back to '{space.model_id}'.") from exc
        if loaded.model_id != space.model_id:
            raise LibraryError(
                f"This library's vectors were made with '{space.model_id}', but its model files now "
                f"hold '{loaded.model_id}'. Restore that model, or switch the library to this one.")
        with self._lock:
            return self._models.setdefault(space.model_id, loaded)

    def _embed_query(self, embedder, text: str) -> np.ndarray:
        key = (embedder.model_id, text)
        with self._lock:
            cached = self._query_cache.get(key)
            if cached is not None:
                self._query_cache.move_to_end(key)
                return cached
        vector = embedder.embed_query(text)
        with self._lock:
            self._query_cache[key] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    # -- indexing -------------------------------------------------------------------------
    def add_sources(self, paths: Iterable[str | os.PathLike[str]]) -> list[Source]:
        """Remember folders/files to keep in sync (without indexing them yet)."""
        conn = self._conn()
        added = []
        with write_transaction(conn):
            for raw in paths:
                path = Path(raw).expanduser().resolve()
                if not path.exists():
                    raise LibraryError(f"{path} does not exist.")
                docs.add_source(conn, str(path), "folder" if path.is_dir() else "file")
                added.append(str(path))
        return [s for s in docs.list_sources(conn) if s.path in added]

    def index(
        self,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Add ``paths`` as sources (if given) and bring them — or, with no paths, every
        source — in line with the disk. Blocks; call it from a worker thread in a GUI."""
        conn = self._conn()
        if paths is not None:
            wanted = {s.path for s in self.add_sources(paths)}
            sources = [s for s in docs.list_sources(conn) if s.path in wanted]
        else:
            sources = docs.list_sources(conn)
        units = [Unit(s.path, s.kind, s.id, s.path) for s in sources]
        return self._run_indexer(units, [s.id for s in sources], progress, cancel, pause)

    def refresh(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> IndexReport:
        """Sync just these paths (created, changed, moved or deleted files or folders inside
        existing sources) — what the folder watcher calls. Paths outside every source are
        ignored; a path whose name the library cannot hold (not valid UTF-8, given as bytes or
        with surrogates) is skipped and listed in the report's errors as "bad-name"."""
        conn = self._conn()
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
        report = self._run_indexer(list(units.values()), [], progress, cancel, pause)
        return replace(report, errors=(*skipped, *report.errors)) if skipped else report

    def _run_indexer(self, units: list[Unit], full_sources: list[int],
                     progress: Callable[[IndexProgress], None] | None,
                     cancel: threading.Event | None, pause: threading.Event | None) -> IndexReport:
        if not self._write_lock.acquire(blocking=False):
            raise LibraryError("Indexing is already running for this library.")
        try:
            with self._writing(progress, cancel) as lock:
                if lock is None:
                    return IndexReport(cancelled=True)
                conn = self._conn()
                # Sources may have been removed while this run waited for the lock.
                alive = {s.id for s in docs.list_sources(conn)}
                units = [u for u in units if u.source_id is None or u.source_id in alive]

                def follow_switch() -> tuple[VectorSpace, Callable[[Sequence[str]], np.ndarray]]:
                    space, emb = self._space_for_writing(conn)
                    return space, partial(emb.embed_documents, batch_size=EMBED_BATCH_SIZE)

                space, emb = self._space_for_writing(conn)
                indexer = Indexer(
                    conn, emb.tokenizer, self._extraction_worker(), self._index_options(),
                    embed=partial(emb.embed_documents, batch_size=EMBED_BATCH_SIZE), space=space,
                    progress=progress, cancel=cancel, pause=pause,
                    guard=lock.check_in_place, respace=follow_switch)
                return indexer.run(units, [sid for sid in full_sources if sid in alive])
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def _writing(self, progress: Callable[[IndexProgress], None] | None,
                 cancel: threading.Event | None) -> Iterator[WriterLock | None]:
        """Hold the library's cross-process writer lock (``store.writer_lock``): a second
        writer — another process, or another Library on the same file — waits here, saying
        so once through ``progress``; None when ``cancel`` is set while waiting."""
        def waiting() -> None:
            if progress is not None:
                progress(IndexProgress(phase="waiting"))

        if self.readonly:  # nothing may be written beside it either, not even the lock file
            raise LibraryError(f"The library {self.path} is read-only (its disk, folder or file); "
                               "search works, but nothing can be indexed into it or removed from it.")
        lock = WriterLock(self.path)
        if not lock.acquire(cancel=cancel, on_wait=waiting):
            if progress is not None:
                progress(IndexProgress(phase="cancelled"))
            yield None
            return
        try:
            yield lock
        finally:
            lock.release()

    def _index_options(self) -> IndexOptions:
        s = self.settings
        return IndexOptions(chunk_tokens=s.chunk_tokens, chunk_overlap=s.chunk_overlap,
                            max_chars=s.max_chars_per_file, ignore=tuple(s.ignore),
                            include_hidden=s.index_hidden)

    def _extraction_worker(self) -> ExtractionWorker:
        with self._lock:
            if self._worker is None:
                self._worker = ExtractionWorker(timeout_s=self.settings.extract_timeout_s)
            return self._worker

    # -- previews -------------------------------------------------------------------------
    def render_page(self, path: str | os.PathLike[str], page_number: int, terms: Sequence[str], width_px: int,
                    crop_margins: bool = False) -> RenderedPage:
        """A page of ``path`` drawn as PNG with ``terms`` highlighted, by a separate process
        (started on first use, stopped by :meth:`close`); see :meth:`PreviewWorker.render`.
        A file that hangs or crashes the renderer raises an ``ExtractionError`` saying so; so
        does a path that leads out of its folder through a link (reason "outside-link")."""
        worker = self._preview_worker()
        return worker.render(self._readable(path), page_number, terms, width_px, crop_margins)

    def _readable(self, path: str | os.PathLike[str]) -> str:
        """Where ``path`` may be read, as the scan's link judge says (``scan.judge_path``)."""
        target = os.path.abspath(os.fspath(path))
        roots = {s.id: s.path for s in docs.list_sources(self._conn())}
        source_id = docs.source_for(self._conn(), target)
        if source_id is None:
            return target
        verdict = judge_path(target, roots[source_id])
        if verdict.real is None:
            raise ExtractionError(OUTSIDE_LINK_MESSAGE, OUTSIDE_LINK)
        return verdict.real

    def _preview_worker(self) -> PreviewWorker:
        with self._lock:
            if self._closed:
                raise LibraryError("The library is closed.")
            if self._preview is None:
                self._preview = PreviewWorker()
            return self._preview

    def remove(self, path: str | os.PathLike[str], *,
               progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None) -> int:
        """Forget a source (folder or file) and every document only it covered; returns how
        many documents were removed. The files on disk are never touched. Waits while another
        process indexes the library (its run would write the source's files back); ``cancel``
        set meanwhile raises IndexingCancelled with nothing removed."""
        target = str(Path(path).expanduser().resolve())
        conn = self._conn()
        with self._write_lock, self._writing(progress, cancel) as lock:
            if lock is None:
                raise IndexingCancelled(f"Nothing was removed: {target} is still in the library.")
            with write_transaction(conn):
                removed = self._remove_source(conn, target)
            lock.check_in_place()
            return removed

    def _remove_source(self, conn: apsw.Connection, target: str) -> int:
        """Forget ``target`` inside the caller's write transaction (see :meth:`remove`)."""
        row = conn.execute("SELECT id FROM sources WHERE path = ?", (target,)).fetchone()
        if row is None:
            covering = docs.source_for(conn, target)
            if covering is not None:
                src = conn.execute("SELECT path FROM sources WHERE id = ?", (covering,)).fetchone()
                raise LibraryError(
                    f"{target} is inside {src[0]}, which Memex keeps in sync; remove that "
                    "folder, or add an ignore pattern for this one.")
            orphan = docs.find_by_path(conn, target)
            if orphan is None:
                raise LibraryError(f"{target} is not in the library.")
            docs.delete_documents(conn, [orphan.id])
            return 1
        source_id = int(row[0])
        docs.delete_source(conn, target)
        doomed: list[int] = []
        for doc_id, doc_path in conn.execute(
                "SELECT id, path FROM documents WHERE source_id IS NULL OR source_id = ?",
                (source_id,)).fetchall():
            new_source = docs.source_for(conn, doc_path)
            if new_source is None:
                doomed.append(doc_id)
            else:
                conn.execute("UPDATE documents SET source_id = ? WHERE id = ?",
                             (new_source, doc_id))
        docs.delete_documents(conn, doomed)
        return len(doomed)

    # -- switching the embedding model (see model_switch) ---------------------------------
    def estimate_embedder_switch(self, spec: str | os.PathLike[str] | None) -> SwitchEstimate:
        """What switching to ``spec`` (a model name, folder, or None for the default) would
        cost: chunks to embed and the new model's speed on a sample of this library's chunks."""
        return estimate_switch(self._conn(), self._load_switch_target(spec), embed_batch=EMBED_BATCH_SIZE)

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
        if not self._switch_lock.acquire(blocking=False):
            raise LibraryError("A model switch is already running for this library.")
        try:
            target = self._load_switch_target(spec)
            setting = setting_for(spec)
            place = LibraryPlace(self.path, "switching its model")
            result = ModelSwitch(self._conn(), target, setting, batch_size=batch_size,
                                 embed_batch=EMBED_BATCH_SIZE, progress=progress, cancel=cancel,
                                 pause=pause, guard=place.check).run()
            if result.cancelled:
                return result
            return replace(result, settings_saved=self._adopt_embedder(target, setting))
        finally:
            self._switch_lock.release()

    def cancel_embedder_switch(self) -> str | None:
        """Drop an unfinished switch's vectors (the active ones are untouched); returns the
        model id it was switching to, or None when there was none."""
        if not self._switch_lock.acquire(blocking=False):
            raise LibraryError("A model switch is running; stop it first.")
        try:
            return discard_pending(self._conn())
        finally:
            self._switch_lock.release()

    def pending_embedder_switch(self) -> PendingSwitch | None:
        """An unfinished switch (cancelled or interrupted), which a new call resumes."""
        return pending_switch(self._conn())

    def _load_switch_target(self, spec: str | os.PathLike[str] | None):
        from .models.catalogue import resolve_embedder
        from .models.embedding import load_embedder

        text = None if spec is None else os.fspath(spec)
        model_id = resolve_embedder(text).model_id  # a bad name or folder fails here, clearly
        with self._lock:
            for emb in (self._switch_target, self._embedder, *self._models.values()):
                if emb is not None and emb.model_id == model_id:
                    self._switch_target = emb
                    return emb
        loaded = load_embedder(text, threads=self.settings.effective_threads(), device=self.settings.device)
        with self._lock:
            self._switch_target = loaded
        return loaded

    def _adopt_embedder(self, target, setting: str | None) -> bool:
        """After a swap: this library embeds with ``target`` from now on, and the setting says
        so. Returns whether the settings file could be written."""
        with self._lock:
            self._embedder = target
            if self._embedder_arg is not None:
                self._embedder_arg = target
            self._models = {}
            self._query_cache.clear()
        forget_cached(self._conn())
        self.settings.embedder = setting
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
        query = _SURROGATES.sub(" ", query)
        if not query or not query.strip() or k <= 0:
            return []
        conn = self._conn()
        with read_snapshot(conn):
            space = self._space_for_reading(conn) if mode != "bm25" else None
            embed = partial(self._embed_query, self._embedder_for(space)) if space is not None else None
            searcher = Searcher(conn, space, embed)
            weight = self.settings.lexical_weight if lexical_weight is None else lexical_weight
            hits = searcher.search(query, k, filters, mode, prefix_last, weight,
                                   fusion or self.settings.fusion, self.settings.semantic_floor)
        if rerank is not False and hits and self.reranker is not None:
            hits = rerank_hits(query, hits, self.reranker)
        return hits

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Re-order hits from :meth:`search` by the cross-encoder (for showing fused results
        first and reranked ones when they are ready)."""
        if not hits or self.reranker is None:
            return list(hits)
        return rerank_hits(_SURROGATES.sub(" ", query), hits, self.reranker)

    # -- inspection -----------------------------------------------------------------------
    def sources(self) -> list[Source]:
        return docs.list_sources(self._conn())

    def document(self, path: str | os.PathLike[str]) -> Document | None:
        return docs.get_document(self._conn(), str(Path(path).expanduser().resolve()))

    def documents(self, limit: int = 1000) -> list[Document]:
        return docs.list_documents(self._conn(), limit)

    def page_text(self, document_id: int, page: int) -> str:
        """The stored text of one page, rebuilt from its chunks at their offsets (for preview).
        Whitespace between chunks is shown as a line break."""
        chunks = [c for c in document_chunks(self._conn(), document_id) if c.page == page]
        out: list[str] = []
        pos = 0
        for c in sorted(chunks, key=lambda c: c.char_start):
            if c.char_end <= pos:
                continue
            if c.char_start > pos:
                out.append("\n" if out else "")
                pos = c.char_start
            out.append(c.text[pos - c.char_start:])
            pos = c.char_end
        return "".join(out)

    def failures(self, limit: int = 1000) -> list[FileError]:
        return docs.failed_files(self._conn(), limit)

    def status(self) -> LibraryStatus:
        conn = self._conn()
        with read_snapshot(conn):
            one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
            space = active_space(conn)
            return LibraryStatus(
                path=str(self.path),
                size_bytes=sum(p.stat().st_size for p in self._files() if p.exists()),
                sources=one("SELECT count(*) FROM sources"),
                documents=one("SELECT count(*) FROM documents WHERE status = 'ok'"),
                failed=one("SELECT count(*) FROM documents WHERE status = 'error'"),
                chunks=one("SELECT count(*) FROM chunks"),
                chunks_embedded=one("SELECT count(*) FROM chunks WHERE embedded = 1"),
                embedder=space.model_id if space else None,
                reranker=(self.settings.reranker if self._reranker_arg in (None, False)  # the configured one
                          else str(self._reranker_arg)),
                schema_version=schema_version(conn),
            )

    def _files(self) -> list[Path]:
        return [self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")]

    def doctor(self) -> list[Check]:
        """Health checks of the stack, the models and this library file."""
        from .doctor import run_checks

        return run_checks(self, self._conn())


def errors_summary(errors: Sequence[FileError]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in errors:
        counts[e.reason] = counts.get(e.reason, 0) + 1
    return counts
