"""Argument types for the command line and its plugins: bad values get one line saying what to give."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .output import safe


def whole_number(message: str, low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: the text as a whole number from ``low`` to ``high`` (no upper bound
    when None), else an error saying ``message`` with ``{text}``, the text as typed, shown safely."""
    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(message.format(text=safe(text)))
        return value

    return parse
