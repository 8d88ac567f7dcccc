"""Freed heap memory goes back to the system (the window calls this when indexing settles)."""

from __future__ import annotations

import sys

from memex.core.memory import release_free_heap


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return int(next(line for line in fh if line.startswith("VmRSS:")).split()[1]) / 1024


def test_freed_heap_memory_goes_back_to_the_system():
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # ~128 MB in blocks glibc keeps on its heap
    before = _rss_mb()
    del blocks
    released = release_free_heap()
    assert released is sys.platform.startswith("linux")
    if released:
        assert _rss_mb() < before - 64
