"""Hosting the service for an open library: the window does it while it runs, ``memex serve``
does it headless (and then also keeps the sources in sync with the folder watcher)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..types import Changes
from .operations import Operations
from .server import ServiceServer

if TYPE_CHECKING:
    from ..cli.served import CliAnswers
    from ..indexing.watcher import FolderWatcher
    from ..library import Library

log = logging.getLogger(__name__)


class ServiceHost:
    """The socket service over ``library`` (writes allowed: the socket is the user's alone, and
    a CLI ``memex index`` is handed to this process so it stays the one writer).

    ``start()`` raises ServiceUnavailable (another process serves this library, the runtime
    folder is not safely the user's, no Unix sockets) with a one-line message."""

    def __init__(self, library: Library, *, on_write: Callable[[Changes], None] | None = None,
                 watch: bool = False, on_notice: Callable[[str], None] | None = None) -> None:
        self.library = library
        self.operations = Operations(library, allow_write=True, on_write=self._written)
        self._on_write = on_write
        self._on_notice = on_notice
        self._watch = watch
        self._watcher: FolderWatcher | None = None
        self._cli: CliAnswers | None = None
        self.server = ServiceServer(self.operations, library.path, local_operations={"cli": self._answer_cli})

    @property
    def socket_path(self) -> str:
        return str(self.server.path)

    def start(self) -> ServiceHost:
        self.server.start()
        if self._watch:
            try:
                self._start_watcher()
            except BaseException:
                self.server.close()
                raise
        return self

    def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        self.server.close()

    def __enter__(self) -> ServiceHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _answer_cli(self, params: Mapping[str, object]) -> dict[str, object]:
        """A ``memex search`` or ``status`` for the quick CLI client (see ``cli.served``)."""
        if self._cli is None:  # the command line's code loads on the first such call
            from ..cli.served import CliAnswers

            self._cli = CliAnswers(self.library)
        return self._cli.answer(params)

    def _written(self, changes: Changes) -> None:
        if self._watcher is not None and changes.sources:
            self._watcher.set_roots(s.path for s in self.library.sources())
        if self._on_write is not None:
            self._on_write(changes)

    # -- keeping sources in sync (memex serve) ------------------------------------------------
    def _start_watcher(self) -> None:
        from ..api import folder_watcher

        watcher = folder_watcher(self._refresh, self.library.settings, on_notice=self._notice)
        watcher.set_roots(s.path for s in self.library.sources())
        watcher.start()
        self._watcher = watcher

    def _refresh(self, paths: list[str]) -> None:
        """Changed paths from the watcher: brought in line (waits for a CLI index run first)."""
        with self.operations.write_lock:
            try:
                report = self.library.refresh(paths)
            except Exception as exc:  # noqa: BLE001 - a failed refresh must not stop the watcher
                self._notice(f"Could not update the index for {len(paths)} changed path(s): {exc}")
                return
        if self._on_write is not None and report.changes.any:
            self._on_write(report.changes)

    def _notice(self, text: str) -> None:
        if self._on_notice is not None:
            self._on_notice(text)
        else:
            log.warning("%s", text)
