"""Wiring watchdog's observers for the folder watcher: the native one (on Linux an inotify
observer that reports lost events and exhausted watch limits, which watchdog itself only logs
or skips) or the polling one, and why native watching failed, in words for the user."""

from __future__ import annotations

import errno
import inspect
import os
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM})

try:  # watchdog only logs inotify overflows, and silently skips subfolders past the watch limit
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    from watchdog.observers.inotify_c import InotifyEvent, InotifyFD, Mask

    INOTIFY_REPORTING = (hasattr(InotifyFD, "_get_or_create_watch") and hasattr(InotifyFD, "handle_event")
                         and "inotify_fd" in inspect.signature(InotifyEmitter.__init__).parameters)
except Exception:  # not Linux, or another watchdog layout
    INOTIFY_REPORTING = False

if INOTIFY_REPORTING:

    class _ReportingFD(InotifyFD):
        """An inotify instance that tells the watcher about lost events and exhausted limits."""

        on_trouble: Callable[[str], None] = staticmethod(lambda reason: None)

        def handle_event(self, event: InotifyEvent) -> None:
            if event.is_queue_overflow:
                self.on_trouble("too many changes arrived at once and some were lost")
            super().handle_event(event)

        def _get_or_create_watch(self, path: bytes, mask: Mask):
            try:
                return super()._get_or_create_watch(path, mask)
            except OSError as exc:
                if exc.errno in LIMIT_ERRNOS:
                    self.on_trouble(failure_reason(exc))
                raise

    class _ReportingObserver(InotifyObserver):
        def __init__(self, on_trouble: Callable[[str], None]) -> None:
            fd = _ReportingFD()
            fd.on_trouble = on_trouble
            BaseObserver.__init__(self, InotifyEmitter, inotify_fd=fd)
            self._inotify_fd = fd
            fd.start()


def failure_reason(exc: BaseException) -> str:
    """Why native watching failed, in words for the user."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "the system limit on watched folders was reached (fs.inotify.max_user_watches)"
    if isinstance(exc, OSError) and exc.errno in LIMIT_ERRNOS:
        return f"the system refused more file watches ({exc.strerror or exc})"
    return str(exc) or type(exc).__name__


def native_observer(on_trouble: Callable[[str], None]) -> BaseObserver:
    """The system's native observer (it may be a polling one where there is no native API);
    on Linux one that calls ``on_trouble(reason)`` when events are lost or a limit is hit."""
    return _ReportingObserver(on_trouble) if INOTIFY_REPORTING else Observer()


def polling_observer(interval_s: float) -> BaseObserver:
    """An observer that scans every ``interval_s`` seconds."""
    # lstat: never walk into `ln -s /` or around `ln -s . self`; a link is reported as itself.
    return PollingObserverVFS(os.lstat, os.scandir, polling_interval=interval_s)


class EventForwarder(FileSystemEventHandler):
    """Hands every watchdog event to one callable."""

    def __init__(self, on_event: Callable[[FileSystemEvent], None]) -> None:
        self.on_event = on_event

    def dispatch(self, event: FileSystemEvent) -> None:
        self.on_event(event)
