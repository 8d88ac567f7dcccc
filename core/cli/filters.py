"""The search filters as typed on the command line: file types (any case, with aliases and
file extensions) and dates, each refused in one line that says what would be accepted."""

from __future__ import annotations

from datetime import datetime

from ..extract.registry import SUPPORTED_KINDS, kind_named
from .failures import UsageError
from .output import safe

DATE_FORMAT = "YYYY-MM-DD"


def known_kinds() -> list[str]:
    return sorted(SUPPORTED_KINDS)


def resolve_kind(text: str) -> str:
    """The kind name for ``text``: a kind (``pdf``), a file extension (``htm``, ``.md``) or an
    alias (``word``), in any case; a UsageError naming the known kinds otherwise."""
    kind = kind_named(text)
    if kind is None:
        raise UsageError(f"--type '{safe(text)}' is not a file type Memex indexes; known types: "
                         f"{', '.join(known_kinds())} (file extensions such as htm or md work too).")
    return kind


def resolve_kinds(texts: list[str]) -> tuple[str, ...]:
    """Each ``--type`` resolved, once each, in the order given."""
    return tuple(dict.fromkeys(resolve_kind(text) for text in texts))


def parse_date(text: str | None, option: str) -> float | None:
    """``text`` (``YYYY-MM-DD``, local midnight; a time may follow) as a timestamp."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise UsageError(f"{option} '{safe(text)}' is not a date; use {DATE_FORMAT}, "
                         f"e.g. {option} 2024-03-31.") from exc
