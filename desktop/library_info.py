"""What the window shows about the library — its counts (``status``) and its folders
(``sources``) — asked again only for what a write changed (``Changes``), on the ``read`` lane."""

from __future__ import annotations

import time
from collections.abc import Callable

from memex.core.library import Library
from memex.core.types import ALL_CHANGES, NO_CHANGES, Changes, LibraryStatus, Source

from .tasks import TaskManager

InfoAnswer = tuple[LibraryStatus | None, list[Source] | None]


class LibraryInfo:
    """The last answers, kept for what did not change; ``on_answer(status, sources)`` runs
    after each answer once both are known."""

    def __init__(self, tasks: TaskManager, on_answer: Callable[[LibraryStatus, list[Source]], None]) -> None:
        self.tasks = tasks
        self.on_answer = on_answer
        self.library: Library | None = None
        self.status: LibraryStatus | None = None
        self.sources: list[Source] | None = None
        self.last_asked = 0.0  # time.monotonic() of the last question
        self._wanted = NO_CHANGES  # asked for, not yet answered (a newer ask replaces an older one)
        self._asked = 0

    def refresh(self, changes: Changes = ALL_CHANGES) -> None:
        """Ask the library again for what ``changes`` says may read differently: its counts
        (``status``) after documents or the model changed, the sources after they or their
        documents did. Nothing changed: nothing is asked."""
        library = self.library
        if library is None:
            return
        wanted = self._wanted = self._wanted | changes
        want_status = wanted.documents or wanted.model or self.status is None
        want_sources = wanted.sources or wanted.documents or self.sources is None
        if not (want_status or want_sources):
            return
        self.last_asked = time.monotonic()
        self._asked += 1
        asked = self._asked

        def read() -> InfoAnswer:
            return (library.status() if want_status else None, library.sources() if want_sources else None)

        self.tasks.run(read, lambda result: self._on_answer(asked, result), lane="read", key="info")

    def _on_answer(self, asked: int, result: InfoAnswer) -> None:
        if asked == self._asked:
            self._wanted = NO_CHANGES
        status = self.status = result[0] or self.status
        sources = self.sources = result[1] if result[1] is not None else self.sources
        if status is None or sources is None:
            return  # the first answer is still on its way
        self.on_answer(status, sources)
