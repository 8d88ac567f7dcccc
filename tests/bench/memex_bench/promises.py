"""The promises part of ``memex bench robustness``: Memex's three promises tried from outside.

Each promise has its own module (``promise_*``) that measures it with real processes and real
files; this one runs them in order and gathers their rows:

* library files: foreign files offered as a library are left byte-identical;
* network: index + search runs under strace make no network attempt and leave no telemetry;
* links: nothing behind a link that leaves a watched folder is indexed;
* terminal: human output carries no control byte taken from names or text;
* writers: concurrent ``memex index`` runs leave no chunk without a vector;
* models: downloads and model folders are bounded by what they declare.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

PARTS = ("library_files", "network", "links", "terminal", "writers", "models")


def run(workdir: Path, *, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Every promise part in its own folder under ``workdir``; their rows in order."""
    rows: list[dict] = []
    for name in PARTS:
        if progress is not None:
            progress(f"promises: {name}")
        module = importlib.import_module(f"{__package__}.promise_{name}")
        folder = Path(workdir) / name
        folder.mkdir(parents=True, exist_ok=True)
        rows += module.measure(folder, progress=progress)
    return rows
