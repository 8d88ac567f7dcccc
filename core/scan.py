"""Walking sources on disk: which files Memex should index, with their stat, and hashing."""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import os
import stat as stat_mod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .extract import detect_kind
from .types import FileError

HASH_BLOCK = 1 << 20
# Files above this size are recognised by a sample (size, head, middle, tail), not by reading
# every byte: a multi-gigabyte download must not cost a full read on every change.
HASH_FULL_LIMIT = 64 << 20
HASH_SAMPLE = 8 << 20


@dataclass(frozen=True)
class DiskFile:
    path: str
    size: int
    mtime_ns: int


class IgnoreRules:
    """Hidden entries and name patterns (``node_modules``, ``*.tmp``…) that are never indexed."""

    def __init__(self, patterns: Sequence[str], include_hidden: bool = False) -> None:
        self.patterns = tuple(patterns)
        self.include_hidden = include_hidden

    def ignored(self, name: str) -> bool:
        if not self.include_hidden and name.startswith("."):
            return True
        return any(fnmatch.fnmatch(name, p) for p in self.patterns)

    def ignored_path(self, path: str, root: str) -> bool:
        """True when any part of ``path`` below ``root`` is ignored."""
        rel = os.path.relpath(path, root)
        return any(self.ignored(part) for part in rel.split(os.sep) if part not in ("", "."))


def walk_files(
    root: str,
    rules: IgnoreRules,
    on_error: Callable[[FileError], None],
    is_indexable: Callable[[str], bool] | None = None,
) -> Iterator[DiskFile]:
    """Regular, indexable files under ``root``. Directory symlinks are not followed (no loops);
    FIFOs, sockets and devices are skipped; unreadable folders are reported and skipped."""
    indexable = is_indexable or (lambda p: detect_kind(Path(p)) is not None)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as exc:
            on_error(FileError(folder, "unreadable", f"Cannot read folder: {exc.strerror or exc}"))
            continue
        for entry in sorted(listing, key=lambda e: e.name):
            if rules.ignored(entry.name):
                continue
            bad_name = name_error(entry.path)
            if bad_name is not None:
                on_error(bad_name)
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                on_error(FileError(entry.path, "unreadable", f"Cannot read file: {exc.strerror or exc}"))
                continue
            if stat_mod.S_ISREG(st.st_mode) and indexable(entry.path):
                yield DiskFile(entry.path, st.st_size, st.st_mtime_ns)


def stat_file(path: str) -> DiskFile | None:
    """The file at ``path`` if it is a regular file, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return DiskFile(path, st.st_size, st.st_mtime_ns) if stat_mod.S_ISREG(st.st_mode) else None


def name_problem(path: str) -> str | None:
    """Why ``path`` cannot be stored in the library, or None. Names that are not valid UTF-8
    (old archives, other systems' code pages) reach Python as lone surrogates, which SQLite
    cannot hold."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "The file name is not valid UTF-8; rename the file to index it"
    return None


def name_error(path: str) -> FileError | None:
    """The "bad-name" error to report for a path that cannot be stored (see :func:`name_problem`),
    or None when it can."""
    problem = name_problem(path)
    return None if problem is None else FileError(printable_path(path), "bad-name", problem)


def printable_path(path: str) -> str:
    """``path`` with undecodable bytes shown as U+FFFD, safe to print or store in a message."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def file_hash(path: str) -> str:
    """Content hash (BLAKE2b-128) used to recognise unchanged and moved files.

    Opened non-blocking and checked to be a regular file, so a FIFO or device swapped in
    after the scan cannot stall the indexer. Files over ``HASH_FULL_LIMIT`` are hashed from
    their size and three ``HASH_SAMPLE`` windows."""
    digest = hashlib.blake2b(digest_size=16)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with open(fd, "rb", buffering=0) as fh:
        st = os.fstat(fd)
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
