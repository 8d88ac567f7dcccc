"""Checking a request's parameters: every value from outside is hostile until it has the
right type and size. Each check raises ``RequestError("bad-request", one line)``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from .protocol import RequestError

MAX_PATH_CHARS = 4096
MAX_STRING_CHARS = 4096
MAX_LIST_ITEMS = 100


class Params:
    """A request's parameters, read once each; :meth:`done` refuses any left unread (a typo
    such as ``querry`` is an error, not silently ignored)."""

    def __init__(self, op: str, raw: object) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise RequestError("bad-request", f"{op}: params must be a JSON object.")
        for key in raw:
            if not isinstance(key, str):
                raise RequestError("bad-request", f"{op}: parameter names must be text.")
        self.op = op
        self._raw: dict[str, object] = dict(raw)
        self._read: set[str] = set()

    def _get(self, name: str) -> object:
        self._read.add(name)
        return self._raw.get(name)

    def bad(self, message: str) -> RequestError:
        return RequestError("bad-request", f"{self.op}: {message}")

    def text(self, name: str, *, required: bool = False, limit: int = MAX_STRING_CHARS) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                raise self.bad(f"'{name}' is required.")
            return None
        if not isinstance(value, str):
            raise self.bad(f"'{name}' must be text, not {_json_type(value)}.")
        if len(value) > limit:
            raise self.bad(f"'{name}' is {len(value):,} characters; the limit is {limit:,}.")
        if "\0" in value:
            raise self.bad(f"'{name}' holds a NUL character.")
        return value

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self._get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(f"'{name}' must be a whole number from {low} to {high}, not {_json_type(value)}.")
        if not low <= value <= high:
            raise self.bad(f"'{name}' must be from {low} to {high}, not {value}.")
        return value

    def flag(self, name: str, default: bool | None) -> bool | None:
        value = self._get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.bad(f"'{name}' must be true or false, not {_json_type(value)}.")
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.text(name) or default
        if value not in choices:
            raise self.bad(f"'{name}' must be one of {', '.join(choices)}.")
        return value

    def texts(self, name: str, limit: int = MAX_PATH_CHARS) -> list[str] | None:
        """A list of strings; a single string counts as a list of one."""
        value = self._get(name)
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list):
            raise self.bad(f"'{name}' must be text or a list of text, not {_json_type(value)}.")
        if len(items) > MAX_LIST_ITEMS:
            raise self.bad(f"'{name}' has {len(items)} items; the limit is {MAX_LIST_ITEMS}.")
        for item in items:
            if not isinstance(item, str) or len(item) > limit or "\0" in item:
                raise self.bad(f"each of '{name}' must be text up to {limit:,} characters.")
        return list(items)

    def date(self, name: str) -> float | None:
        """``YYYY-MM-DD`` (local midnight; a time may follow) or a Unix timestamp."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise self.bad(f"'{name}' must be a finite timestamp.")
            return float(value)
        if isinstance(value, str) and len(value) <= 64:
            try:
                return datetime.fromisoformat(value.strip()).timestamp()
            except (ValueError, OverflowError, OSError):
                pass
        raise self.bad(f"'{name}' must be a date (YYYY-MM-DD) or a Unix timestamp.")

    def done(self) -> None:
        unknown = sorted(set(self._raw) - self._read)
        if unknown:
            shown = ", ".join(repr(name[:40]) for name in unknown[:5])
            raise self.bad(f"unknown parameter(s) {shown}.")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"
