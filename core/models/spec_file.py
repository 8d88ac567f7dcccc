"""The checks on ``memex-model.json``, the optional settings file in a model folder of one's
own: each key's type and range, so a bad value is a one-line ModelError naming the file and
the key before anything is loaded (never a failure deep inside the tokenizer or ONNX)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelError


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= limit


def _sha256(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdefABCDEF" for c in v)


# key -> (is the value usable, what is allowed). Other keys are ignored: a folder's name,
# kind, source and files are Memex's to say.
LOCAL_SPEC_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "dim": (_whole(1, 65536), "a whole number from 1 to 65536"),
    "pooling": (lambda v: v in ("mean", "cls"), '"mean" or "cls"'),
    "normalize": (lambda v: isinstance(v, bool), "true or false"),
    "max_tokens": (_whole(8, 32768), "a whole number from 8 to 32768"),
    "query_prefix": (_text(1000), "text of at most 1000 characters"),
    "passage_prefix": (_text(1000), "text of at most 1000 characters"),
    "sha256": (_sha256, "64 hexadecimal digits"),
    "description": (_text(10_000), "text"),
    "license": (lambda v: v is None or _text(200)(v), "text or null"),
}


def check_local_spec(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """The usable settings of the memex-model.json at ``path`` (already parsed into ``raw``)."""
    values = {}
    for key, (usable, allowed) in LOCAL_SPEC_KEYS.items():
        if key not in raw:
            continue
        if not usable(raw[key]):
            shown = json.dumps(raw[key])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise ModelError(f'{path}: "{key}" is {shown}; it must be {allowed}.')
        values[key] = raw[key]
    return values
