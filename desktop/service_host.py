"""While the window runs it is the library's resident owner: it serves the library to the
command line and other programs (``memex search`` answers from it, ``memex index`` is handed
to it) over a socket only this user can open. When that cannot be (another Memex serves this
library, no Unix sockets on Windows), the window works as before and says why in its log."""

from __future__ import annotations

import logging

from memex.core.api import resident_service
from memex.core.errors import MemexError
from memex.core.library import Library
from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)


class WindowService(QObject):
    """Starts serving once ``window`` has its library, stops at :meth:`close`. A write handed
    in from the command line is passed to ``window.refresh_info`` on the GUI thread."""

    written = Signal(object)  # Changes, emitted from a service thread

    def __init__(self, window: QObject) -> None:
        super().__init__(window)
        self._window = window
        self._host: object | None = None
        self.problem: str | None = None
        refresh = getattr(window, "refresh_info", None)
        if refresh is not None:
            self.written.connect(refresh, Qt.ConnectionType.QueuedConnection)
        ready = getattr(window, "library_ready", None)
        if ready is not None:
            ready.connect(self.start)
        library = getattr(window, "library", None)
        if isinstance(library, Library):
            self.start(library)

    @property
    def serving(self) -> bool:
        return self._host is not None

    def start(self, library: Library) -> None:
        if self._host is not None or library.readonly:
            return
        try:
            self._host = resident_service(library, on_write=self.written.emit)
        except (MemexError, OSError) as exc:  # the window works on without serving others
            self.problem = str(exc)
            log.warning("Memex serves no other programs: %s", exc)

    def close(self) -> None:
        """Stop serving (before the library closes)."""
        host, self._host = self._host, None
        close = getattr(host, "close", None)
        if close is not None:
            close()


def serve_while_open(window: QObject) -> WindowService:
    """The window's service: started when its library is open, to be closed before it is."""
    return WindowService(window)
