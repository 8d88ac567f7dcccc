"""A page renderer for ``PreviewWorker`` tests that misbehaves on request: files named hang*,
crash* or oom* hang, segfault, or allocate far past the worker's memory cap — what a hostile
PDF can do to MuPDF, without needing one. Other files are drawn normally."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

TARGET = "hostile_pages:misbehaving_handle"


def misbehaving_handle(op: str, args: tuple[Any, ...]) -> Any:
    name = Path(args[0]).name
    if name.startswith("hang"):
        time.sleep(3600)
    if name.startswith("crash"):
        import ctypes

        ctypes.string_at(0)  # a real SIGSEGV, as a crashing C parser would give
    if name.startswith("oom"):
        hog = bytearray(8 * 1024**3)
        del hog
    from memex.core.preview_render import handle

    return handle(op, args)
