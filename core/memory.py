"""Giving freed heap memory back to the system.

glibc keeps memory that was freed (embedding batches, extraction results, parsed pages) in its
arenas for reuse, so an app that indexed a thousand files stays as large as its busiest moment.
``malloc_trim`` returns the free parts; it is cheap (milliseconds) and safe beside other threads."""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any


@cache
def c_library() -> Any:
    """The C library, opened once. By its glibc name first: ``ctypes.util.find_library`` runs
    ``ldconfig -p`` in a forked copy of this (large) process."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        from ctypes import util  # here: it loads subprocess, which a search never needs

        name = util.find_library("c")
        return ctypes.CDLL(name) if name else None


def release_free_heap() -> bool:
    """Return free heap memory to the system; True when some was released (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = c_library()
        return bool(libc is not None and libc.malloc_trim(0))
    except (OSError, AttributeError):  # another C library (musl) has no malloc_trim
        return False
