"""A page renderer for ``PreviewWorker`` tests that misbehaves on request: files named hang*,
crash* or oom* hang, segfault, or allocate far past the worker's memory cap — what a hostile
PDF can do to MuPDF, without needing one. Other files are drawn normally."""

from __future__ import annotations

from typing import Any

from memex_bench.robustness import misbehave_by_name

TARGET = "hostile_pages:misbehaving_handle"


def misbehaving_handle(op: str, args: tuple[Any, ...]) -> Any:
    misbehave_by_name(args[0])
    from memex.core.preview.render import handle

    return handle(op, args)
