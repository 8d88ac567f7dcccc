"""Reading a file where the scan's judge found it: its content hash (how unchanged and moved
files are recognised), and the file pinned open for the extraction worker. Every open here is
read-only, non-blocking and of a regular file only, never through a link swapped in since the
judge (``scan.judge_path``) looked.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import shutil
import stat as stat_mod
import sys
import tempfile
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from .scan import DiskFile

HASH_BLOCK = 1 << 20
# Files above this size are recognised by a sample (size, head, middle, tail), not by reading
# every byte: a multi-gigabyte download must not cost a full read on every change.
HASH_FULL_LIMIT = 64 << 20
HASH_SAMPLE = 8 << 20


def file_hash(path: str) -> str:
    """Content hash (BLAKE2b-128) used to recognise unchanged and moved files.

    Opened non-blocking and checked to be a regular file, so a FIFO or device swapped in
    after the scan cannot stall the indexer. Files over ``HASH_FULL_LIMIT`` are hashed from
    their size and three ``HASH_SAMPLE`` windows."""
    fd = os.open(path, _READ_FLAGS)
    with open(fd, "rb", buffering=0) as fh:
        return _hash_open(fh, path)


def as_scanned(real: str, f: DiskFile) -> bool:
    """Whether the file at ``real`` still has the size and modification time the scan saw
    (the test the diff trusts for "unchanged"), without following a link."""
    try:
        st = os.lstat(real)
    except OSError:
        return False
    return stat_mod.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns) == (f.size, f.mtime_ns)


def checked_hash(real: str) -> str:
    """:func:`file_hash` of ``real`` (a path :func:`judge_path` resolved), opened by
    :func:`_open_judged` (never through a link swapped in since the judge looked)."""
    with open(_open_judged(real), "rb", buffering=0) as fh:
        return _hash_open(fh, real)


class PinnedFile:
    """The file found at ``real`` now, held open for another process (the extraction worker)
    to read whatever is swapped in at ``real`` meanwhile. ``path`` is, on Linux, a link in a
    private temporary folder, named like the file, to ``/proc/<this process>/fd/<n>`` of the
    file opened by :func:`_open_judged`; elsewhere ``real`` itself (the indexer judges the
    path again after the read). Raises OSError when the file cannot be opened as judged."""

    def __init__(self, real: str, shared: str | None = None) -> None:
        """``shared``: an existing private folder to put the link in when no link of that name
        is there yet (several files read together then share one folder; its owner removes it)."""
        self.fd = _open_judged(real)
        self.path = real
        self._folder: str | None = None
        try:
            if _fd_path(self.fd) is not None:
                name = os.path.basename(real)
                if shared is not None and not os.path.lexists(os.path.join(shared, name)):
                    self.path = os.path.join(shared, name)
                else:
                    self._folder = pin_folder()
                    self.path = os.path.join(self._folder, name)
                os.symlink(f"/proc/{os.getpid()}/fd/{self.fd}", self.path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> PinnedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pin_folder() -> str:
    """A new private folder (0700) for pinned files' links, in memory where the system has a
    place for that (``$XDG_RUNTIME_DIR``, else ``/dev/shm``): on a disk, making and removing a
    link costs a journal write (140 against 4 µs here), paid per file read."""
    return tempfile.mkdtemp(prefix="memex-read-", dir=_links_base())


@functools.cache
def _links_base() -> str | None:
    """Where :func:`pin_folder` makes its folders: a folder in memory only this user can
    write to, or one with the sticky bit (a folder made there stays ours); else None (the
    system's temporary folder)."""
    candidates = [os.environ.get("XDG_RUNTIME_DIR", ""), "/dev/shm"] if sys.platform.startswith("linux") else []
    for base in filter(None, candidates):
        try:
            st = os.stat(base)
            if not stat_mod.S_ISDIR(st.st_mode) or not os.access(base, os.W_OK | os.X_OK):
                continue
            private = st.st_uid == os.getuid() and not st.st_mode & 0o022
            if (private or st.st_mode & stat_mod.S_ISVTX) and _in_memory(base):
                return base
        except OSError:
            continue
    return None


def _in_memory(path: str) -> bool:
    """Whether ``path`` is on a tmpfs (Linux: from /proc/self/mounts; False when unknown)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            found = {fields[1]: fields[2] for fields in (line.split() for line in mounts) if len(fields) > 2}
    except OSError:
        return False
    real = os.path.realpath(path)
    while True:
        if real in found:
            return found[real] == "tmpfs"
        if real == os.path.dirname(real):
            return False
        real = os.path.dirname(real)


def _open_judged(real: str) -> int:
    """A read-only descriptor of the regular file at ``real``, opened without following a link
    in its last part, and refused (ELOOP) when the file opened is not at ``real`` (a folder on
    the way swapped for a link since the judge looked)."""
    fd = os.open(real, _READ_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    try:
        opened = _fd_path(fd)
        if opened is not None and opened != real:
            raise OSError(errno.ELOOP, "The file was replaced by a link while it was read", real)
        if not stat_mod.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Not a regular file", real)
    except BaseException:
        os.close(fd)
        raise
    return fd


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _fd_path(fd: int) -> str | None:
    """Where an open file descriptor really points (Linux), or None where that cannot be told."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _hash_open(fh: BinaryIO, path: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    st = os.fstat(fh.fileno())
    if not stat_mod.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "Not a regular file", path)
    if st.st_size <= HASH_FULL_LIMIT:
        while block := fh.read(HASH_BLOCK):
            digest.update(block)
        return digest.hexdigest()
    digest.update(b"sampled:%d:" % st.st_size)
    for start in (0, (st.st_size - HASH_SAMPLE) // 2, st.st_size - HASH_SAMPLE):
        fh.seek(start)
        left = HASH_SAMPLE
        while left > 0 and (block := fh.read(min(HASH_BLOCK, left))):
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()
