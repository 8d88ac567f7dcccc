"""Marks beside the library file that say it is open, so the next open can tell whether the
last user closed it cleanly.

Each open library leaves an empty ``<name>.open-<pid>-<token>`` file next to it, removed by a
clean close. A mark whose process is gone means that process ended without closing (a crash,
a kill, a power cut): the next open then checks the whole file, not just its small tables.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from pathlib import Path

_INFIX = ".open-"
_MARK_TAIL = re.compile(r"(\d+)-[0-9a-f]{8}")  # what follows the infix in a mark's name


def mark_open(path: Path) -> Path | None:
    """Leave a mark for this open of ``path``; None when the folder does not take one."""
    mark = path.with_name(f"{path.name}{_INFIX}{os.getpid()}-{secrets.token_hex(4)}")
    try:
        mark.touch(exist_ok=False)
    except OSError:
        return None
    return mark


def clear_mark(mark: Path | None) -> None:
    """Remove the mark of a clean close (missing marks are fine)."""
    if mark is not None:
        with contextlib.suppress(OSError):
            mark.unlink()


def stale_marks(path: Path) -> list[Path]:
    """Marks left for ``path`` by processes that are no longer running (they did not close it)."""
    prefix = f"{path.name}{_INFIX}"
    try:
        with os.scandir(path.parent) as entries:
            names = [e.name for e in entries if e.name.startswith(prefix)]
    except OSError:
        return []
    stale = []
    for name in names:
        tail = _MARK_TAIL.fullmatch(name[len(prefix):])  # only Memex's own marks, nothing else
        if tail is not None and not running(int(tail.group(1))):
            stale.append(path.with_name(name))
    return stale


def clear_stale_marks(path: Path) -> None:
    """Forget unclean ends once the file has been checked (or replaced)."""
    for mark in stale_marks(path):
        clear_mark(mark)


def running(pid: int) -> bool:
    """Whether a process with this id is running (this one included)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _running_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


def _running_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    if sys.platform != "win32":  # ctypes.windll exists only there (the type checker knows this)
        return False
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)
