"""Giving freed heap memory back to the system.

glibc keeps memory that was freed (embedding batches, extraction results, parsed pages) in its
arenas for reuse, so an app that indexed a thousand files stays as large as its busiest moment.
``malloc_trim`` returns the free parts; it is cheap (milliseconds) and safe beside other threads."""

from __future__ import annotations

import sys


def release_free_heap() -> bool:
    """Return free heap memory to the system; True when some was released (glibc only)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes.util  # here: ctypes.util loads subprocess, which a search never needs

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):  # another C library (musl) has no malloc_trim
        return False
