"""Walking sources on disk: which files Memex should index, with their stat (hashing and
holding a file open for its read live in ``file_access``; the indexer and the readers still
reach them through this module).

Links are judged here and nowhere else (:func:`judge_path`): a path whose target lies outside
its source is never read (it is listed as an "outside-link" failure), and a link whose target
lies inside the source is not a document of its own (the target is indexed once, at its real
place). The scan, the folder watcher, a refresh and the read of a file all ask the same judge.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat as stat_mod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..extract import detect_kind
from ..types import FileError
from .file_access import PinnedFile as PinnedFile
from .file_access import as_scanned as as_scanned
from .file_access import checked_hash as checked_hash
from .file_access import file_hash as file_hash
from .file_access import pin_folder as pin_folder

OUTSIDE_LINK = "outside-link"
OUTSIDE_LINK_MESSAGE = "Link outside the folder: what it points at is not indexed"

# Why the scan passed over an entry without reading it (kept in the library: ``store.skipped``).
UNSUPPORTED = "unsupported"  # a regular file of a type Memex does not read
NOT_A_FILE = "not-a-file"  # a named pipe, socket or device
UNREADABLE_FOLDER = "unreadable-folder"
BROKEN_LINK = "broken-link"
HIDDEN = "hidden"  # skipped on purpose: the settings leave hidden entries out…
IGNORED = "ignored"  # … and names that match an ignore pattern
_SPECIAL_NAMES = ((stat_mod.S_ISFIFO, "a named pipe"), (stat_mod.S_ISSOCK, "a socket"),
                  (stat_mod.S_ISCHR, "a device"), (stat_mod.S_ISBLK, "a device"))


@dataclass(frozen=True)
class DiskFile:
    """A file to index: ``path`` as found under its source ``root`` (``""``: not known). When
    ``outside`` is set, ``path`` is a link whose target lies outside ``root``: the stat is the
    link's own, and nothing behind it is ever read.

    What a run learns about the file once travels with it: ``kind``, the extractor kind the
    scan detected (None: not detected), and ``content_hash``, the hash taken while looking for
    moved files (None: not taken), which the read reuses while the file is :func:`as_scanned`."""

    path: str
    size: int
    mtime_ns: int
    root: str = ""
    outside: bool = False
    kind: str | None = None
    content_hash: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What :func:`judge_path` decided. ``kind`` is "direct" (no link between the source and
    the file: ``real`` is where to read it), "inside-link" (a link, or a path through one, that
    stays inside the source: its target is indexed at its own place, so this path is skipped),
    or "outside-link" (leaves the source: never read; ``link`` is the path to list)."""

    kind: str
    real: str | None
    link: str | None = None


def inside_source(path: str, source_root: str) -> str | None:
    """The real path of ``path``, every link on the way followed (relative, absolute, chains),
    when it lies inside the source ``source_root`` (itself resolved: the user chose it, even
    as a link); None when it leads outside. The one test of "outside" in Memex."""
    real_root = os.path.realpath(source_root)
    real = os.path.realpath(path)
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return real
    return None


def first_link(path: str, source_root: str) -> str | None:
    """The first part of ``path`` below ``source_root`` that is a symbolic link (``path``
    itself included), or None. The root itself is never counted: the user chose it."""
    rel = os.path.relpath(path, source_root)
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    current = source_root
    for part in rel.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            return current
    return None


def judge_path(path: str, source_root: str) -> Verdict:
    """Whether ``path`` (inside the source folder or file ``source_root``, as a person sees
    it) may be read, and where; see :class:`Verdict`. A path under a folder link is judged by
    that link, so a file seen through ``docs/etc -> /etc`` is listed once, as ``docs/etc``."""
    rel = os.path.relpath(path, source_root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return Verdict("outside-link", None, path)  # not under the source at all
    link = first_link(path, source_root)
    if link is None:
        real_root = os.path.realpath(source_root)
        return Verdict("direct", real_root if rel == os.curdir else os.path.join(real_root, rel))
    real = inside_source(link, source_root)
    if real is None:
        return Verdict("outside-link", None, link)
    return Verdict("inside-link", real, link)


def judge_file(f: DiskFile) -> Verdict:
    """:func:`judge_path` for a file found by the scan (an ``outside`` entry stays outside)."""
    if f.outside:
        return Verdict("outside-link", None, f.path)
    return judge_path(f.path, f.root) if f.root else Verdict("direct", f.path)


def outside_entry(link: str, root: str) -> DiskFile:
    """The scan's record of a link that leads out of its source: the link's own stat only."""
    try:
        st = os.lstat(link)
        size, mtime_ns = st.st_size, st.st_mtime_ns
    except OSError:
        size, mtime_ns = 0, 0
    return DiskFile(link, size, mtime_ns, root, outside=True)


class IgnoreRules:
    """Hidden entries and name patterns (``node_modules``, ``*.tmp``…) that are never indexed."""

    def __init__(self, patterns: Sequence[str], include_hidden: bool = False) -> None:
        self.patterns = tuple(patterns)
        self.include_hidden = include_hidden
        # One expression for all the patterns (fnmatch's own translation): a scan asks for
        # every name it meets.
        either = "|".join(f"(?:{fnmatch.translate(os.path.normcase(p))})" for p in self.patterns)
        self._match = re.compile(either).match if self.patterns else None

    def ignored(self, name: str) -> bool:
        if not self.include_hidden and name.startswith("."):
            return True
        return self._match is not None and self._match(os.path.normcase(name)) is not None

    def skipped_entry(self, path: str, is_folder: bool) -> FileError:
        """Why the scan passes over ``path``, whose name :meth:`ignored` (hidden, or the first
        pattern it matches)."""
        name = os.path.basename(path)
        inside = "; nothing in this folder is indexed" if is_folder else ""
        if not self.include_hidden and name.startswith("."):
            return FileError(path, HIDDEN, f"Hidden (the name starts with a dot){inside}")
        key = os.path.normcase(name)
        pattern = next((p for p in self.patterns if fnmatch.fnmatchcase(key, os.path.normcase(p))), "")
        return FileError(path, IGNORED, f"Matches the ignore pattern {pattern}{inside}")

    def ignored_path(self, path: str, root: str) -> bool:
        """True when any part of ``path`` below ``root`` is ignored."""
        rel = os.path.relpath(path, root)
        return any(self.ignored(part) for part in rel.split(os.sep) if part not in ("", "."))


def walk_files(
    root: str,
    rules: IgnoreRules,
    on_error: Callable[[FileError], None],
    kind_of: Callable[[str], str | None] | None = None,
    source_root: str | None = None,
    on_skip: Callable[[FileError], None] | None = None,
) -> Iterator[DiskFile]:
    """Regular, indexable files under ``root`` (a folder inside the source ``source_root``,
    by default the source itself), each with its kind (``kind_of``, by default
    ``detect_kind``; a file of no kind is not indexable). Links are judged by
    :func:`judge_path`: one leading out of the source comes back as an ``outside`` entry (to
    be listed, never read), one staying inside is skipped (its target is found at its real
    place: no duplicates, no loops); FIFOs, sockets and devices are skipped; unreadable
    folders are reported and skipped. ``on_skip`` hears of every entry passed over without
    being read, with why (see :func:`passed_over`): no more is read to tell it than the walk
    itself reads."""
    detect = kind_of or (lambda p: detect_kind(Path(p)))
    skip = on_skip or (lambda _entry: None)
    source = root if source_root is None else source_root
    start = judge_path(root, source)
    if start.kind == "outside-link" and start.link is not None:
        yield outside_entry(start.link, source)
        return
    if start.kind == "inside-link":
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                listing = list(entries)
        except OSError as exc:
            on_error(FileError(folder, "unreadable", f"Cannot read folder: {exc.strerror or exc}"))
            skip(FileError(printable_path(folder), UNREADABLE_FOLDER,
                           f"Cannot open this folder ({exc.strerror or exc}); nothing in it is indexed"))
            continue
        for entry in sorted(listing, key=lambda e: e.name):
            if rules.ignored(entry.name):
                skip(rules.skipped_entry(printable_path(entry.path), _is_folder(entry)))
                continue
            bad_name = name_error(entry.path)
            if bad_name is not None:
                on_error(bad_name)
                skip(bad_name)
                continue
            link = False
            try:
                link = entry.is_symlink()
                if link:
                    if inside_source(entry.path, source) is None:
                        yield outside_entry(entry.path, source)
                    else:  # counted at its target; a broken one is still worth a word
                        os.stat(entry.path)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as exc:
                on_error(FileError(entry.path, "unreadable", f"Cannot read file: {exc.strerror or exc}"))
                if link or exc.errno != errno.ENOENT:  # not merely gone since the listing
                    skip(_unreadable_entry(entry.path, exc, link))
                continue
            kind = detect(entry.path) if stat_mod.S_ISREG(st.st_mode) else None
            if kind is not None:
                yield DiskFile(entry.path, st.st_size, st.st_mtime_ns, source, kind=kind)
            else:
                skip(passed_over(entry.path, st.st_mode))


def passed_over(path: str, mode: int) -> FileError:
    """Why a file the scan found (``mode`` from its stat, not following a link) is not read:
    a regular file of a type Memex does not read, or no regular file at all."""
    if stat_mod.S_ISREG(mode):
        suffix = os.path.splitext(os.path.basename(path))[1]
        shown = suffix if suffix else "no extension, and not plain text"
        return FileError(path, UNSUPPORTED, f"This type of file is not supported ({shown})")
    what = next((name for test, name in _SPECIAL_NAMES if test(mode)), "not a file")
    return FileError(path, NOT_A_FILE, f"Not a regular file ({what}): there is nothing to read")


def lstat_mode(path: str) -> int:
    """The file type and mode bits of ``path`` itself (0 when it cannot be read)."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _unreadable_entry(path: str, exc: OSError, link: bool) -> FileError:
    if link:
        return FileError(path, BROKEN_LINK, "A link to something that is not there")
    return FileError(path, "unreadable", f"Cannot read file: {exc.strerror or exc}")


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


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


def detect_kind_safe(path: str) -> str | None:
    """``detect_kind`` of a file that may have gone or become unreadable since the scan (None then)."""
    try:
        return detect_kind(Path(path))
    except OSError:
        return None
