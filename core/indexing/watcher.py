"""Watching source folders: raw file-system events become debounced batches of paths for
:meth:`Library.refresh`. Events are filtered (ignored names, unsupported types) and coalesced,
so an editor's write-temp-then-rename or a copy of 500 files is one batch. When native
notifications fail (watch limit, queue overflow) the watcher polls instead and asks for a rescan.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from ..extract import detect_kind
from .change_batches import PendingChange, Signature, collapse_nested, file_signature
from .scan import IgnoreRules, judge_path
from .watch_observers import LIMIT_ERRNOS, EventForwarder, failure_reason, native_observer, polling_observer

logger = logging.getLogger(__name__)

_FILE_EVENTS = frozenset({"created", "modified", "deleted", "moved", "closed", "attrib"})
_DIR_EVENTS = frozenset({"created", "deleted", "moved"})  # "modified" fires for every child
_HEALTH_S = 2.0  # how often vanished/returned roots and a dead observer are checked


class FolderWatcher:
    """Watches folders (recursively) and single files; calls ``on_changes(sorted_paths)`` from
    its own thread. Thread-safe. ``start``/``set_roots`` have the watches in place when they
    return (they walk the trees: call them off the GUI thread for big or network folders)."""

    poll_interval_s: float = 3.0  # seconds between scans in polling mode

    def __init__(self, on_changes: Callable[[list[str]], None], *, rules: IgnoreRules,
                 debounce_s: float = 1.0, max_delay_s: float = 10.0,
                 on_notice: Callable[[str], None] | None = None,
                 force_polling: bool = False) -> None:
        self._on_changes = on_changes
        self._on_notice = on_notice
        self._rules = rules
        self._debounce = debounce_s
        self._max_delay = max(max_delay_s, debounce_s)
        self._polling = force_polling
        self._handler = EventForwarder(self._on_event)
        # Watches: guarded by _watch_lock, never changed from watchdog's own threads.
        self._watch_lock = threading.RLock()
        self._roots: tuple[str, ...] = ()
        self._is_file: dict[str, bool] = {}  # a root's kind, once it has been seen
        self._filter: tuple[tuple[str, str, bool], ...] = ()  # (root, root + sep, is_file)
        self._observer: BaseObserver | None = None
        self._watches: dict[tuple[str, bool], ObservedWatch] = {}  # (folder, recursive) ->
        self._running = False
        # Pending paths: guarded by _cond (events arrive on watchdog's thread).
        self._cond = threading.Condition()
        self._pending: dict[str, PendingChange] = {}
        self._oldest: float | None = None
        self._quiet_from = 0.0
        self._trouble: str | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._deliver_lock = threading.Lock()  # batches never overlap

    @property
    def mode(self) -> str:
        return "polling" if self._polling else "native"

    # -- public API -----------------------------------------------------------------------
    def set_roots(self, roots: Iterable[str]) -> None:
        """Watch exactly these paths: folders recursively, files through their folder."""
        wanted = tuple(dict.fromkeys(os.path.abspath(os.fspath(r)) for r in roots))
        with self._watch_lock:
            for root in wanted:
                if root not in self._roots and not os.path.exists(root):
                    self._notice(f"{root} is not available (moved, or on a disconnected drive?); "
                                 "Memex will watch it again when it is back.")
            self._roots = wanted
            self._is_file = {r: k for r, k in self._is_file.items() if r in wanted}
            if self._running:
                self._sync_watches()
            else:
                self._classify()

    def start(self) -> None:
        with self._watch_lock:
            if self._running:
                return
            self._running = True
            with self._cond:
                self._stopping = False
            try:
                self._observer = self._new_observer()
                self._observer.start()
            except Exception as exc:  # e.g. EMFILE: too many inotify instances
                self._observer = None
                self._fallback(failure_reason(exc))
            else:
                self._sync_watches()
            self._thread = threading.Thread(target=self._run, name="memex-folder-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._watch_lock:
            self._thread = None
            self._running = False
            self._stop_observer()

    @property
    def pending(self) -> int:
        """How many changed paths wait for their quiet period before they are delivered."""
        with self._cond:
            return len(self._pending)

    def flush_now(self) -> None:
        """Deliver everything pending now, in the calling thread, skipping the quiet period."""
        with self._cond:
            entries = {p: e.is_dir for p, e in self._pending.items()}
            self._pending.clear()
            self._oldest = None
        self._deliver(entries)

    # -- watches --------------------------------------------------------------------------
    def _new_observer(self) -> BaseObserver:
        if self._polling:
            return polling_observer(self.poll_interval_s)
        observer = native_observer(self._report_trouble)
        self._polling = isinstance(observer, PollingObserver)  # no native API on this system
        return observer

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        self._watches.clear()
        if observer is not None:
            observer.stop()
            with contextlib.suppress(RuntimeError):
                observer.join(timeout=10)

    def _classify(self) -> None:
        for root in self._roots:
            if root not in self._is_file and os.path.exists(root):
                self._is_file[root] = not os.path.isdir(root)
        self._filter = tuple((r, r.rstrip(os.sep) + os.sep, f) for r, f in self._is_file.items())

    def _sync_watches(self) -> list[str]:
        """Schedule/unschedule to match the roots that exist now; returns roots newly watched."""
        self._classify()
        key_of = {r: (os.path.dirname(r), False) if f else (r, True) for r, f in self._is_file.items()}
        wanted = {k for k in key_of.values() if os.path.isdir(k[0])}
        observer = self._observer
        if observer is None:
            return []
        for key in [k for k in self._watches if k not in wanted]:
            with contextlib.suppress(KeyError):
                observer.unschedule(self._watches.pop(key))
        added = set()
        for key in wanted - set(self._watches):
            try:
                self._watches[key] = observer.schedule(self._handler, key[0], recursive=key[1])
                added.add(key)
            except Exception as exc:
                limit = not isinstance(exc, OSError) or exc.errno in LIMIT_ERRNOS
                if self._polling or not limit:  # e.g. permission denied: polling would not help
                    self._notice(f"Memex cannot watch {key[0]} for changes: {failure_reason(exc)}.")
                    continue
                self._fallback(failure_reason(exc))
                return []
        return [r for r, k in key_of.items() if k in added]

    def _report_trouble(self, reason: str) -> None:
        """From watchdog's threads: ask our own thread to switch to polling."""
        with self._cond:
            if not self._polling and self._trouble is None:
                self._trouble = reason
                self._cond.notify_all()

    def _fallback(self, reason: str) -> None:
        """Switch every root to polling and rescan them all (events may have been lost)."""
        with self._watch_lock:
            with self._cond:
                self._trouble = None
            if self._polling or not self._running:
                return
            logger.warning("Native file watching failed (%s); polling instead", reason)
            self._polling = True
            self._stop_observer()
            self._observer = self._new_observer()
            self._observer.start()
            self._sync_watches()
        self._notice(f"Memex can no longer use the system's change notifications ({reason}), so it "
                     f"now checks your folders every {self.poll_interval_s:g} seconds and is "
                     "rescanning them in case changes were missed.")
        self._enqueue_roots(self._roots)

    def _check_health(self) -> None:
        """Fall back if the native thread died; re-watch roots that vanished and came back."""
        with self._watch_lock:
            observer = self._observer
            if not self._running or observer is None:
                return
            if not self._polling and not observer.is_alive():
                self._fallback("the notification thread stopped")
                return
            dead = {e.watch for e in list(observer.emitters) if not e.is_alive()}
            for key in [k for k, w in self._watches.items() if w in dead]:
                with contextlib.suppress(KeyError):  # its folder was deleted or unmounted
                    observer.unschedule(self._watches.pop(key))
            returned = self._sync_watches()
        self._enqueue_roots(returned)

    def _notice(self, message: str) -> None:
        logger.info("%s", message)
        try:
            if self._on_notice is not None:
                self._on_notice(message)
        except Exception:
            logger.exception("Watcher notice handler failed")

    # -- events ---------------------------------------------------------------------------
    def _on_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind not in (_DIR_EVENTS if event.is_directory else _FILE_EVENTS):
            return  # opened/closed-without-writing (our own reads!), folder metadata
        accepted: list[tuple[str, Signature | None, bool]] = []
        for raw in [event.src_path, event.dest_path] if kind == "moved" else [event.src_path]:
            path = self._wanted(os.fsdecode(raw), event.is_directory)
            if path is None:
                continue
            if os.path.islink(path):  # news about the link itself; the library judges it
                accepted.append((path, None, False))
            else:
                is_dir = event.is_directory or os.path.isdir(path)
                accepted.append((path, None if is_dir else file_signature(path), is_dir))
        if accepted:
            self._add(accepted)

    def _wanted(self, path: str, is_dir: bool) -> str | None:
        """The path to deliver for an event on ``path``, or None. A path through a link is
        delivered as that link, unread: the library judges it (``scan.judge_path``)."""
        if not path:
            return None
        for root, prefix, is_file in self._filter:
            if is_file:
                if path == root:
                    return path  # a file the user added by name: the library decides
            elif (path == root or path.startswith(prefix)) and not self._rules.ignored_path(path, root):
                link = judge_path(path, root).link
                if link is not None:
                    return link
                break
        else:
            return None
        if is_dir or not os.path.lexists(path) or os.path.isdir(path):
            return path  # folders are rescanned; a vanished file is still news
        return path if detect_kind(Path(path)) is not None else None

    def _add(self, items: Iterable[tuple[str, Signature | None, bool]]) -> None:
        with self._cond:
            now = time.monotonic()
            was_empty = not self._pending
            for path, sig, is_dir in items:
                old = self._pending.get(path)
                self._pending[path] = PendingChange(sig, old.since if old else now, is_dir)
            if self._oldest is None:
                self._oldest = now
            self._quiet_from = now
            if was_empty:
                self._cond.notify_all()

    def _enqueue_roots(self, roots: Iterable[str]) -> None:
        items = [(r, file_signature(r), os.path.isdir(r)) for r in roots if os.path.exists(r)]
        if items:
            self._add(items)

    # -- delivery thread ------------------------------------------------------------------
    def _run(self) -> None:
        next_health = time.monotonic() + _HEALTH_S
        while True:
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                trouble = self._trouble
                due = (min(self._quiet_from + self._debounce, self._oldest + self._max_delay)
                       if self._pending and self._oldest is not None else None)
                if trouble is None and now < next_health and (due is None or now < due):
                    self._cond.wait(min(next_health, due or next_health) - now)
                    continue
            try:
                if trouble is not None:
                    self._fallback(trouble)
                elif now >= next_health:
                    next_health = now + _HEALTH_S
                    self._check_health()
                else:
                    self._round(now)
            except Exception:
                logger.exception("Folder watcher error")

    def _round(self, now: float) -> None:
        """Deliver pending paths, except files whose size or mtime moved since their last event
        (still being written): those wait another quiet period, up to ``max_delay_s``."""
        with self._cond:
            snapshot = dict(self._pending)
        current = {p: file_signature(p) for p, e in snapshot.items() if not e.is_dir}
        ready: dict[str, bool] = {}
        with self._cond:
            for path, entry in snapshot.items():
                if self._pending.get(path) is not entry:
                    continue  # a newer event arrived meanwhile
                sig = current.get(path)
                if entry.is_dir or sig is None or sig == entry.sig or now - entry.since >= self._max_delay:
                    ready[path] = entry.is_dir
                    del self._pending[path]
                else:
                    self._pending[path] = PendingChange(sig, entry.since, False)
                    self._quiet_from = now
            self._oldest = min((e.since for e in self._pending.values()), default=None)
        self._deliver(ready)

    def _deliver(self, entries: dict[str, bool]) -> None:
        paths = collapse_nested(entries)
        if not paths:
            return
        with self._deliver_lock:
            try:
                self._on_changes(paths)
            except Exception:
                logger.exception("Handling %d changed path(s) failed", len(paths))
