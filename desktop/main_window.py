"""The Memex window: folders on the left, search and results in the middle, the preview on the
right, the status area along the bottom. It wires the panels to the library's background
operations and never calls the library on its own thread. How an index job and a model switch
are shown lives in ``run_status`` and ``switch_status``; what is asked of the library again
after a write, in ``library_info``; settings applied, in ``settings_flow``; the files not read,
in ``failures_flow``; the window-wide keys, in ``window_keys``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from memex.core.config import Settings
from memex.core.library import Library
from memex.core.types import ALL_CHANGES, Changes, LibraryStatus, Source
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from . import qtcompat, style
from .drop_hint import DropHint, local_paths
from .failures_flow import FailuresFlow
from .folders import FailuresDialog, FoldersPanel
from .indexing import IndexController
from .library_info import LibraryInfo
from .library_notice import show_library_notices
from .memory_release import IdleMemoryRelease
from .menus import build_menus
from .model_switch import ModelSwitchController
from .opener import Opener
from .prefs import Prefs
from .preview import PreviewPanel
from .progress import StatusArea
from .reopen import LibraryReopener
from .run_status import IndexRunStatus
from .search_panel import SearchPanel
from .settings_flow import SettingsFlow
from .switch_status import ModelSwitchStatus
from .tasks import TaskManager, describe_error
from .tray import Tray, tray_available
from .window_keys import SlashToSearch, add_preview_keys

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
        self.run_status: IndexRunStatus | None = None
        self.switch_status: ModelSwitchStatus | None = None
        self.watch = None
        self.tray: Tray | None = None
        self.prefs = Prefs()
        self._settings = settings
        self._watch_opts = (watch, watch_debounce_s, force_polling)
        self._reconcile = reconcile
        self._waiting_paths: list[str] = [os.path.abspath(p) for p in paths]
        self._closing = False
        self._catch_up = False  # the start-up check waits for the first counts (no folders: no check)
        self.library_path = library_path
        self.reopener = LibraryReopener(self)

        self.tasks = TaskManager(self)
        self.info = LibraryInfo(self.tasks, self._show_info)
        self.memory = IdleMemoryRelease(self.tasks, self)
        self.opener = Opener(self.tasks, self)
        self.failures_flow = FailuresFlow(self)
        self.settings_flow = SettingsFlow(self)
        self._build_panels()
        self._build_menu()
        self._connect()
        self._restore_window()

        if library is not None:
            self._set_library(library)
        else:
            self._open_library(library_path)

    # -- set-up ---------------------------------------------------------------------------
    def _build_panels(self) -> None:
        """Folders, search and preview side by side above the status area; the drop hint over them."""
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
        self.drop_hint = DropHint(central)

    def _restore_window(self) -> None:
        """The last size and place, the tray as last chosen; the first paint rehearsed."""
        geometry = self.prefs.geometry("main")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.prefs.geometry("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.search.set_order(self.prefs.sort_order)
        self.set_tray_enabled(self.prefs.minimise_to_tray)
        self.search.view.rehearse()
        self.status.rehearse()

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
        self.preview.passage_chosen.connect(lambda hit, chunk: self.search.view.select_passage(hit.document_id,
                                                                                             chunk.chunk_id))
        self.preview.reveal_requested.connect(self.opener.reveal)
        self.preview.copy_requested.connect(self.opener.copy_path)
        self.opener.message.connect(lambda m: self.status.show_message(m))
        self.opener.error.connect(self.show_error)
        self.folders.add_clicked.connect(self.choose_folder)
        self.folders.remove_requested.connect(self.remove_source)
        self.folders.rescan_requested.connect(lambda p: self.indexer and self.indexer.index([p]))
        self.folders.reveal_requested.connect(lambda p: self.opener.open_url(p))
        self.status.problems_clicked.connect(self.show_failures)
        add_preview_keys(self, self.preview.step_match, self.preview.step_page)
        self.slash_to_search = SlashToSearch(self, self.search.focus_search)
        QApplication.instance().installEventFilter(self.slash_to_search)  # "/": to the search box

    def _open_library(self, path) -> None:
        settings, problems = (self._settings, []) if self._settings else Settings.load_checked()
        if problems:  # a bad key took its default; say so once, naming the file and the key
            self.show_error(" ".join(problems))
        self.tasks.run(lambda: Library.open(path, settings=settings), self._on_opened,
                       failure=self.open_failed, lane="write")

    def _on_opened(self, library: Library) -> None:
        if self._closing:
            library.close()
            return
        self._set_library(library)

    def reopened(self, library: Library) -> None:
        """The library opened again with new settings (see ``LibraryReopener``)."""
        self._reconcile = False  # nothing changed on disk meanwhile
        self._on_opened(library)
        self.search.refresh()

    def open_failed(self, exc: BaseException) -> None:
        self.search.empty.show_message("Memex cannot open its library", detail=describe_error(exc))
        self.show_error(describe_error(exc))

    def _set_library(self, library: Library) -> None:
        self.library = self.info.library = self.opener.library = library
        self.memory.set_library(library)
        self.search.set_library(library)
        self.preview.set_library(library)
        self._connect_indexer(library)
        self._connect_model_switch(library)
        self._start_watching(library)
        self.refresh_info()
        self.tasks.run(lambda: library.embedder, lane="search")  # load the model before the first query
        self.library_notice = show_library_notices(self, self.status, library)  # told once, here
        self._catch_up = self._reconcile and not library.readonly  # once the folders are known (_show_info)
        if self.prefs.last_query and not self.search.query():
            self.search.field.setText(self.prefs.last_query)
            self.search.field.selectAll()
        if self._waiting_paths:
            self.add_paths(self._waiting_paths)
            self._waiting_paths = []
        self.library_ready.emit(library)

    def _connect_indexer(self, library: Library) -> None:
        self.indexer = IndexController(library, self.tasks, self)
        self.run_status = IndexRunStatus(self, self.indexer)

    def _connect_model_switch(self, library: Library) -> None:
        self.model_switch = ModelSwitchController(library, self.tasks, self.indexer, self)
        self.switch_status = ModelSwitchStatus(self, self.model_switch)

    def _start_watching(self, library: Library) -> None:
        """Follow changes on disk (unless turned off, or the library is read-only: it cannot take them)."""
        watch, debounce, polling = self._watch_opts
        if watch and not library.readonly:
            from .watch import WatchController

            self.watch = WatchController(self.tasks, library.settings, debounce_s=debounce,
                                         force_polling=polling, parent=self)
            self.watch.changes.connect(self.indexer.refresh)
            self.watch.notice.connect(lambda m: self.status.show_message(m, sticky=True))

    # -- library information --------------------------------------------------------------
    def refresh_info(self, changes: Changes = ALL_CHANGES) -> None:
        """Ask the library again for what ``changes`` says may read differently (see ``LibraryInfo``)."""
        self.info.refresh(changes)

    def _show_info(self, status: LibraryStatus, sources: list[Source]) -> None:
        indexing = self.indexer is not None and self.indexer.adding
        self.search.set_library_state(status.documents, indexing)
        self.search.set_sources(sources)
        self.folders.set_sources(sources, status.failed)
        self.status.set_summary(status.documents, status.sources, status.failed, status.size_bytes)
        if self._catch_up and self.indexer is not None:
            self._catch_up = False
            if sources:  # catch up with changes made while Memex was closed (no folders: nothing to check)
                self.indexer.index(None, quiet=True)
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

    # -- results --------------------------------------------------------------------------
    def open_hit(self, hit, chunk) -> None:
        if hit is not None:
            self.opener.open(hit.path, hit.kind, chunk.page if chunk is not None else hit.page)

    def show_failures(self) -> None:
        self.failures_flow.show()

    @property
    def failures_dialog(self) -> FailuresDialog | None:
        """The files-not-read dialog last shown (None before the first)."""
        return self.failures_flow.dialog

    def _fit_default_size(self, width: int, height: int) -> None:
        """The first-run size, no larger than 90% of the screen's free area (small laptop screens)."""
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            free = screen.availableGeometry()
            width, height = min(width, int(free.width() * 0.9)), min(height, int(free.height() * 0.9))
        self.resize(width, height)

    def show_error(self, message: str) -> None:
        self.status.show_message(message, error=True)

    # -- settings -------------------------------------------------------------------------
    def open_settings(self) -> None:
        self.settings_flow.open_dialog()

    def apply_settings(self, result) -> None:
        """Use what the settings dialog returned (see ``SettingsFlow``)."""
        self.settings_flow.apply(result)

    # -- the tray and the window's state --------------------------------------------------
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
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.drop_hint.cover()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:
        self.drop_hint.hide()

    def dropEvent(self, event) -> None:
        self.drop_hint.hide()
        paths = local_paths(event.mimeData())
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
        self.prefs.set_geometry("splitter", self.splitter.saveState())
        self.prefs.last_query = self.search.query()
        self.prefs.sort_order = self.search.order
        self.prefs.sync()
        QApplication.instance().removeEventFilter(self.slash_to_search)
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
