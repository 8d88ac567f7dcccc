"""One writer per library across processes, and a check that the library is still where it was.

SQLite's own lock covers one transaction, but an indexing run spans thousands of them: two
runs side by side (the window's folder watcher and ``memex index``, say) would both plan the
same files, index them twice and use up each other's embedding backlog. So every run that
writes holds ``<library>.lock``, a lock file beside the library, from start to end; a second
writer waits for it (saying so once) and can be cancelled while it waits.

The lock belongs to the open file (``flock`` / ``LockFileEx``), so the system releases it
when the process ends, however it ends. The file itself stays: deleting it on release would
let a waiter hold a lock on a file that a newcomer no longer sees. It is only made once the
library has been opened (and so checked to be a library), never beside any other file.

SQLite also keeps writing happily into a library file that was deleted (or whose folder
was) while it was open: everything written afterwards is lost when the process ends.
:class:`LibraryPlace` notices that (the path is gone or names another file), for runs
(``WriterLock.check_in_place``) and for model switches alike.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import LibraryError

LOCK_SUFFIX = ".lock"
POLL_S = 0.05  # how often a waiting writer tries again (and looks at its cancel flag)
WAITING_MESSAGE = "Waiting for another Memex process that is indexing this library…"


def lock_path(library: Path) -> Path:
    return library.with_name(library.name + LOCK_SUFFIX)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class LibraryPlace:
    """Which file ``library`` names now; :meth:`check` raises a one-line LibraryError once
    the path is gone or names another file (deleted, moved, or replaced)."""

    def __init__(self, library: Path, doing: str = "Memex was writing to it") -> None:
        self.library = Path(library)
        self.doing = doing
        self._identity = _identity(self.library)
        if self._identity is None:
            self.gone()

    def check(self) -> None:
        if _identity(self.library) != self._identity:
            self.gone()

    def gone(self) -> None:
        raise LibraryError(
            f"The library file {self.library} was deleted or moved while {self.doing}; nothing "
            "more was written. Put it back, or run the command again to start a new library there.")


class WriterLock:
    """The right to write to ``library`` for one run: :meth:`acquire`, then :meth:`release`.
    Not re-entrant: a second holder in the same process (another Library) waits too."""

    def __init__(self, library: Path) -> None:
        self.library = Path(library)
        self.path = lock_path(self.library)
        self._fd: int | None = None
        self._place: LibraryPlace | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, cancel: threading.Event | None = None,
                on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock, waiting while another writer holds it. ``on_wait`` is called once,
        when waiting starts. Returns False (holding nothing) if ``cancel`` is set meanwhile."""
        if self._fd is not None:
            raise RuntimeError("WriterLock.acquire called twice")
        fd = self._open()
        try:
            told = False
            while not _try_lock(fd):
                if not told:
                    told = True
                    if on_wait is not None:
                        on_wait()
                if cancel is None:
                    time.sleep(POLL_S)
                elif cancel.wait(POLL_S):
                    os.close(fd)
                    return False
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        self._fd = fd
        try:
            self._place = LibraryPlace(self.library)
        except LibraryError:
            self.release()
            raise
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)

    def check_in_place(self) -> None:
        """Raise a LibraryError if the library file was deleted or replaced since the lock
        was taken (what is written into a deleted file is lost when the process ends)."""
        if self._place is not None:
            self._place.check()

    def _open(self) -> int:
        # Never through a link: the lock file is only ever our own empty file.
        flags = (os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOINHERIT", 0)
                 | getattr(os, "O_NOFOLLOW", 0))
        try:
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            if not self.library.exists():
                LibraryPlace(self.library)  # raises: the library itself is gone
            raise LibraryError(
                f"Cannot create the lock file {self.path} beside the library "
                f"({exc.strerror or exc}); Memex needs to write in that folder.") from exc


@contextlib.contextmanager
def writer_turn(library: Path, *, readonly: bool, on_wait: Callable[[], None] | None = None,
                cancel: threading.Event | None = None) -> Iterator[WriterLock | None]:
    """Hold ``library``'s writer lock for a block: a second writer (another process, or another
    Library on the same file) waits here, calling ``on_wait`` once; yields None when ``cancel``
    is set while waiting. A read-only library refuses at once: nothing may be written beside
    it, not even the lock file."""
    if readonly:
        raise LibraryError(f"The library {library} is read-only (its disk, folder or file); "
                           "search works, but nothing can be indexed into it or removed from it.")
    lock = WriterLock(library)
    if not lock.acquire(cancel=cancel, on_wait=on_wait):
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()
