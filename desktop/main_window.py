"""The Memex window: folders on the left, search and results in the middle, the preview on the
right, the status area along the bottom. It wires the panels to the library's background
operations and never calls the library on its own thread."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from pathlib import Path

from memex.core.config import Settings
from memex.core.library import Library
from memex.core.types import ALL_CHANGES, NO_CHANGES, Changes, IndexReport, LibraryStatus, Source
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from . import fmt, qtcompat, style
from .folders import FailuresDialog, FoldersPanel
from .indexing import IndexController, WriteJob
from .install_desktop_entry import set_start_at_login, start_at_login_enabled
from .library_notice import show_library_notices
from .memory_release import AFTER_INDEXING_MS, IdleMemoryRelease
from .menus import build_menus
from .model_switch import ModelSwitchController, model_label, show_progress
from .opener import Opener
from .prefs import Prefs
from .preview import PreviewPanel
from .progress import StatusArea
from .search_panel import SearchPanel
from .settings_dialog import RESTART_FIELDS, SettingsDialog
from .tasks import TaskManager, describe_error
from .tray import Tray, tray_available

INFO_EVERY_S = 1.5  # while indexing: refresh counts and the current results this often (when written to)
WRITTEN = Changes(documents=True, search_results=True)  # what a run that wrote something changed

qtcompat.apply()


class MainWindow(QMainWindow):
    library_ready = Signal(object)
    library_info = Signal(object, object)  # LibraryStatus, list[Source] (after each refresh)

    def __init__(self, library: Library | None = None, *, library_path: str | os.PathLike[str] | None = None,
                 paths: Iterable[str] = (), settings: Settings | None = None, watch: bool = True,
                 watch_debounce_s: float = 1.0, force_polling: bool = False, reconcile: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("Memex")
        self.setWindowIcon(style.app_icon())
        self.setAcceptDrops(True)
        self._fit_default_size(1320, 820)
        self.library: Library | None = None
        self.owns_library = library is None
        self.indexer: IndexController | None = None
        self.model_switch: ModelSwitchController | None = None
        self.watch = None
        self.tray: Tray | None = None
        self.prefs = Prefs()
        self._settings = settings
        self._watch_opts = (watch, watch_debounce_s, force_polling)
        self._reconcile = reconcile
        self._waiting_paths: list[str] = [os.path.abspath(p) for p in paths]
        self._last_info = 0.0
        self._status: LibraryStatus | None = None  # the last answers, kept for what did not change
        self._sources: list[Source] | None = None
        self._info_wanted = NO_CHANGES  # asked for, not yet answered (a newer ask replaces an older one)
        self._info_asked = 0
        self._written_seen: tuple[int, int, int] = (0, 0, 0)  # what the running job had written
        self._closing = False

        self.tasks = TaskManager(self)
        self.memory = IdleMemoryRelease(self.tasks, self)
        self.opener = Opener(self.tasks, self)
        self.folders = FoldersPanel()
        self.search = SearchPanel(self.tasks)
        self.preview = PreviewPanel(self.tasks)
        self.status = StatusArea()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        for w, stretch in ((self.folders, 0), (self.search, 3), (self.preview, 2)):
            self.splitter.addWidget(w)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.folders.setMinimumWidth(200)  # together no wider than an 800-pixel screen
        self.search.setMinimumWidth(340)
        self.preview.setMinimumWidth(240)
        self.splitter.setSizes([250, 600, 470])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)
        self.setCentralWidget(central)
        self.drop_hint = QLabel("Drop to add to your library", central, alignment=Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setStyleSheet(
            f"background: rgba(47,111,222,40); border: 2px dashed {style.ACCENT}; border-radius: 14px;"
            f"font-size: 20px; font-weight: 600; color: {style.ACCENT};")
        self.drop_hint.hide()
        self._build_menu()
        self._connect()
        geometry = self.prefs.geometry("main")
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.set_tray_enabled(self.prefs.minimise_to_tray)
        self.search.view.rehearse()
        self.status.rehearse()

        if library is not None:
            self._set_library(library)
        else:
            self._open_library(library_path)

    # -- set-up ---------------------------------------------------------------------------
    def _build_menu(self) -> None:
        actions = build_menus(self)
        self.add_action = actions["add"]
        self.sidebar_action = actions["sidebar"]
        self.sidebar_action.toggled.connect(self.folders.setVisible)

    def _connect(self) -> None:
        self.tasks.failed.connect(self.show_error)
        self.search.hit_changed.connect(self.preview.show_hit)
        self.search.open_requested.connect(self.open_hit)
        self.search.add_folder_requested.connect(self.choose_folder)
        self.search.error.connect(self.show_error)
        self.search.results_shown.connect(lambda *_: self.memory.poke())
        self.search.reranked.connect(lambda *_: self.memory.poke())
        self.preview.open_requested.connect(self.open_hit)
        self.preview.reveal_requested.connect(self.opener.reveal)
        self.preview.copy_requested.connect(self.opener.copy_path)
        self.opener.message.connect(lambda m: self.status.show_message(m))
        self.opener.error.connect(self.show_error)
        self.folders.add_clicked.connect(self.choose_folder)
        self.folders.remove_requested.connect(self.remove_source)
        self.folders.rescan_requested.connect(lambda p: self.indexer and self.indexer.index([p]))
        self.folders.reveal_requested.connect(lambda p: self.opener.open_url(p))
        self.folders.problems_clicked.connect(self.show_failures)
        self.status.problems_clicked.connect(self.show_failures)

    def _open_library(self, path) -> None:
        settings, problems = (self._settings, []) if self._settings else Settings.load_checked()
        if problems:  # a bad key took its default; say so once, naming the file and the key
            self.show_error(" ".join(problems))
        self.tasks.run(lambda: Library.open(path, settings=settings), self._on_opened,
                       failure=self._open_failed, lane="write")

    def _on_opened(self, library: Library) -> None:
        if self._closing:
            library.close()
            return
        self._set_library(library)

    def _open_failed(self, exc: BaseException) -> None:
        self.search.empty.show_message("Memex cannot open its library", detail=describe_error(exc))
        self.show_error(describe_error(exc))

    def _set_library(self, library: Library) -> None:
        self.library = library
        self.memory.set_library(library)
        self.search.set_library(library)
        self.preview.set_library(library)
        self.indexer = IndexController(library, self.tasks, self)
        self.indexer.started.connect(self._on_run_started)
        self.indexer.progress.connect(self._on_progress)
        self.indexer.finished.connect(self._on_run_finished)
        self.indexer.idle.connect(self._on_idle)
        self.indexer.failed.connect(self.show_error)
        self.indexer.paused_changed.connect(self._on_paused)
        self.status.pause_toggled.connect(self.indexer.set_paused)
        self.status.cancel_clicked.connect(self.indexer.cancel)
        self._connect_model_switch(library)
        watch, debounce, polling = self._watch_opts
        if watch and not library.readonly:  # a read-only library cannot take what the watcher sees
            from .watch import WatchController

            self.watch = WatchController(self.tasks, library.settings, debounce_s=debounce,
                                         force_polling=polling, parent=self)
            self.watch.changes.connect(self.indexer.refresh)
            self.watch.notice.connect(lambda m: self.status.show_message(m, sticky=True))
        self.refresh_info()
        self.tasks.run(lambda: library.embedder, lane="search")  # load the model before the first query
        self.library_notice = show_library_notices(self, self.status, library)  # told once, here
        if self._reconcile and not library.readonly:
            self.indexer.index(None, quiet=True)  # catch up with changes made while Memex was closed
        if self._waiting_paths:
            self.add_paths(self._waiting_paths)
            self._waiting_paths = []
        self.library_ready.emit(library)

    # -- library information --------------------------------------------------------------
    def refresh_info(self, changes: Changes = ALL_CHANGES) -> None:
        """Ask the library again for what ``changes`` says may read differently: its counts
        (``status``) after documents or the model changed, the sources after they or their
        documents did. Nothing changed: nothing is asked."""
        library = self.library
        if library is None:
            return
        wanted = self._info_wanted = self._info_wanted | changes
        want_status = wanted.documents or wanted.model or self._status is None
        want_sources = wanted.sources or wanted.documents or self._sources is None
        if not (want_status or want_sources):
            return
        self._last_info = time.monotonic()
        self._info_asked += 1
        asked = self._info_asked

        def read() -> tuple[LibraryStatus | None, list[Source] | None]:
            return (library.status() if want_status else None, library.sources() if want_sources else None)

        self.tasks.run(read, lambda result: self._on_info(asked, result), lane="read", key="info")

    def _on_info(self, asked: int, result: tuple[LibraryStatus | None, list[Source] | None]) -> None:
        if asked == self._info_asked:
            self._info_wanted = NO_CHANGES
        status = self._status = result[0] or self._status
        sources = self._sources = result[1] if result[1] is not None else self._sources
        if status is None or sources is None:
            return  # the first answer is still on its way
        indexing = self.indexer is not None and self.indexer.busy
        self.search.set_library_state(status.documents, indexing)
        self.search.set_sources(sources)
        self.folders.set_sources(sources, status.failed)
        self.status.set_summary(status.documents, status.sources, status.failed, status.size_bytes)
        if self.watch is not None:
            self.watch.set_roots([s.path for s in sources])
        self.library_info.emit(status, sources)

    # -- indexing -------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str]) -> None:
        """Index files/folders (folders become watched sources)."""
        wanted = [os.path.abspath(os.fspath(p)) for p in paths]
        missing = [p for p in wanted if not os.path.exists(p)]
        wanted = [p for p in wanted if os.path.exists(p)]
        if missing:
            self.show_error(f"Not found: {', '.join(missing)}")
        if not wanted:
            return
        if self.indexer is None:
            self._waiting_paths += wanted
            return
        self.indexer.index(wanted)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to your library", str(Path.home()))
        if folder:
            self.add_paths([folder])

    def rescan_all(self) -> None:
        if self.indexer is not None:
            self.indexer.index(None)

    def remove_source(self, path: str) -> None:
        if self.indexer is not None:
            if self.indexer.busy:
                self.status.show_message(f"{os.path.basename(path)} will be removed when the current run ends")
            self.indexer.remove(path)

    def _on_run_started(self, job: WriteJob) -> None:
        self.status.start_run(job.describe)
        self._written_seen = (0, 0, 0)
        self.search.set_library_state(self.search.documents, True)
        if self.tray is not None:
            self.tray.set_state(job.describe)

    def _on_progress(self, job: WriteJob, p) -> None:
        self.status.update_progress(p)
        if self.tray is not None and p.files_total:
            self.tray.set_state(f"indexing {p.files_done:,} of {fmt.count(p.files_total, 'file')}")
        written = (p.chunks_written, p.chunks_embedded, len(p.errors))
        if written != self._written_seen and time.monotonic() - self._last_info >= INFO_EVERY_S:
            self._written_seen = written
            self.refresh_info(WRITTEN)
            self.search.refresh()

    def _on_run_finished(self, job: WriteJob, result: IndexReport | None) -> None:
        """Say what the job did and ask again for what it changed (all of it after a failure)."""
        if result is not None and job.kind == "remove":
            self.status.show_message(f"Removed {job.paths[0]} from the library "
                                     f"({fmt.count(result.removed, 'document')}; files on disk untouched)")
        elif result is not None:
            changed = result.added + result.updated + result.moved + result.removed + result.failed
            if changed or not job.quiet:
                self.status.show_message(fmt.report_sentence(result),
                                         error=bool(result.failed) and job.kind != "refresh")
        changes = result.changes if result is not None else ALL_CHANGES
        self.refresh_info(changes)
        if changes.search_results:
            self.search.refresh()

    def _on_idle(self) -> None:
        self.memory.poke(AFTER_INDEXING_MS)  # what indexing grew goes back once the window settles
        self.status.finish_run()
        self.search.set_library_state(self.search.documents, False)
        if self.tray is not None:
            self.tray.set_state("up to date")

    def _on_paused(self, paused: bool) -> None:
        self.status.set_paused(paused)
        if self.tray is not None:
            self.tray.set_paused(paused)
            self.tray.set_state("indexing paused" if paused else "indexing")

    # -- results --------------------------------------------------------------------------
    def open_hit(self, hit, chunk) -> None:
        if hit is not None:
            self.opener.open(hit.path, hit.kind, chunk.page if chunk is not None else hit.page)

    def show_failures(self) -> None:
        library = self.library
        if library is not None:
            self.tasks.run(lambda: library.failures(), lambda f: FailuresDialog(f, self).exec(), lane="read")

    def _fit_default_size(self, width: int, height: int) -> None:
        """The first-run size, no larger than 90% of the screen's free area (small laptop screens)."""
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, int(free.width() * 0.9)), min(height, int(free.height() * 0.9))
        self.resize(width, height)

    def show_error(self, message: str) -> None:
        self.status.show_message(message, error=True)

    # -- settings and tray ----------------------------------------------------------------
    def open_settings(self) -> None:
        if self.library is None:
            return
        dialog = SettingsDialog(self.library.settings, start_at_login=start_at_login_enabled(),
                                minimise_to_tray=self.prefs.minimise_to_tray, tray_available=tray_available(),
                                parent=self)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, result) -> None:
        settings = self.library.settings
        new_embedder = result.settings.embedder
        switch = new_embedder != settings.embedder and self.model_switch is not None
        if switch:  # the setting changes when the switch completes (the library saves it then)
            result = dataclasses.replace(
                result, settings=dataclasses.replace(result.settings, embedder=settings.embedder),
                restart_needed=[r for r in result.restart_needed if r != RESTART_FIELDS["embedder"]])
        ignore_changed = (result.settings.ignore != settings.ignore
                          or result.settings.index_hidden != settings.index_hidden)
        settings = result.settings
        self.library.update_settings(settings)  # a run under way keeps the value it started with
        self.tasks.run(settings.save, lambda _: self.status.show_message(result.summary(), sticky=True),
                       lane="read")
        try:
            if result.start_at_login != start_at_login_enabled():
                set_start_at_login(result.start_at_login)
        except OSError as exc:
            self.show_error(f"Could not change start at login: {describe_error(exc)}")
        self.prefs.minimise_to_tray = result.minimise_to_tray
        self.set_tray_enabled(result.minimise_to_tray)
        if ignore_changed and self.watch is not None:
            self.watch.restart(settings)
        if switch:
            self.model_switch.propose(new_embedder)

    # -- switching the embedding model ----------------------------------------------------
    def _connect_model_switch(self, library: Library) -> None:
        self.model_switch = switch = ModelSwitchController(library, self.tasks, self.indexer, self)
        switch.started.connect(self._on_switch_started)
        switch.progress.connect(self._on_switch_progress)
        switch.finished.connect(self._on_switch_finished)
        switch.cancelled.connect(self._on_switch_cancelled)
        switch.failed.connect(self._on_switch_failed)
        switch.declined.connect(lambda: self.status.show_message("The embedding model was not changed."))
        self.status.pause_toggled.connect(switch.set_paused)
        self.status.cancel_clicked.connect(self._cancel_switch_if_shown)

    def _switch_shown(self) -> bool:
        """Whether the progress area shows the switch (an index job, when running, is shown instead)."""
        return self.model_switch is not None and self.model_switch.in_flight and not (
            self.indexer is not None and self.indexer.busy)

    def _cancel_switch_if_shown(self) -> None:
        if self._switch_shown():
            self.model_switch.cancel()

    def _on_switch_started(self, description: str) -> None:
        self.status.start_run(description)
        self.status.set_paused(self.model_switch.paused)

    def _on_switch_progress(self, p) -> None:
        if self._switch_shown():
            show_progress(self.status, p)

    def _on_switch_finished(self, result) -> None:
        self.status.finish_run()
        if result.already_active:
            text = f"The library already uses {model_label(result.model_id)}."
        else:
            text = (f"Now searching by meaning with {model_label(result.model_id)} "
                    f"({fmt.count(result.total, 'passage')} analysed again).")
        self.status.show_message(text, sticky=True)
        self.refresh_info(result.changes)
        if result.changes.search_results:
            self.search.refresh()

    def _on_switch_cancelled(self, result) -> None:
        self.status.finish_run()
        kept = model_label(result.previous_model_id) if result is not None else "the current model"
        self.status.show_message(f"Model switch cancelled: search keeps using {kept}. Choosing the new "
                                 "model again continues where it stopped.", sticky=True)

    def _on_switch_failed(self, message: str) -> None:
        if not (self.indexer is not None and self.indexer.busy):
            self.status.finish_run()
        self.show_error(message)

    def set_tray_enabled(self, enabled: bool) -> None:
        if enabled and self.tray is None and tray_available():
            self.attach_tray(Tray(style.app_icon(), self))
        elif not enabled and self.tray is not None:
            self.tray.hide()
            self.tray.deleteLater()
            self.tray = None

    def attach_tray(self, tray: Tray) -> None:
        self.tray = tray
        tray.show_requested.connect(self.bring_to_front)
        tray.quit_requested.connect(self.close)
        tray.pause_toggled.connect(lambda p: self.indexer and self.indexer.set_paused(p))
        tray.show()

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()
        self.search.focus_search()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if (event.type() == QEvent.Type.WindowStateChange and self.isMinimized() and self.tray is not None):
            QTimer.singleShot(0, self.hide)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.search.focus_search)

    # -- drag and drop --------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.drop_hint.setGeometry(self.centralWidget().rect().adjusted(24, 24, -24, -24))
            self.drop_hint.raise_()
            self.drop_hint.show()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event) -> None:
        self.drop_hint.hide()
        paths = _local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # -- shutting down --------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self.hide()  # gone at once, even if a worker needs a moment to stop
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop watching and indexing, wait briefly for workers, close an owned library."""
        if self._closing:
            return
        self._closing = True
        self.workers_stopped = True
        self.prefs.set_geometry("main", self.saveGeometry())
        self.prefs.sync()
        if self.tray is not None:
            self.tray.hide()
        if self.indexer is not None:
            self.indexer.shutdown()
        if self.model_switch is not None:
            self.model_switch.shutdown()
        if self.watch is not None:
            self.watch.stop()
        self.workers_stopped = self.tasks.shutdown(timeout=5.0)
        if self.owns_library and self.library is not None and not self.tasks.busy("write"):
            self.library.close()


def _local_paths(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]
