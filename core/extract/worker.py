"""Extraction in a separate, long-lived process, so a hostile file cannot take Memex down.

A file that hangs the parser is cut off after ``timeout_s``; one that crashes it (or runs
into the memory cap) kills only the child. Either way the next file gets a fresh child
(:mod:`memex.core.child_process`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

from memex.core.child_process import PYMUPDF_ADDONS, ChildSpec, IsolatedWorker
from memex.core.types import Extraction

DEFAULT_TARGET = "memex.core.extract:extract_file"


class ExtractionWorker(IsolatedWorker):
    """Runs ``extract_file`` (or ``target``, a "module:function" path taking (path, max_chars,
    kind)) in a child process. Calls are serialised; the worker may be shared between threads."""

    SPEC = ChildSpec(
        target=DEFAULT_TARGET, process_name="memex-extract", load_failed="the extractor",
        out_of_memory="the file needs too much memory to extract",
        reply_too_large="the extracted text is too large", unreadable="the file could not be read",
        timed_out="extraction took longer than {timeout:g} s and was stopped",
        crashed="extraction process crashed ({detail})", not_started="the extraction process did not start",
        closed="The worker was closed before the request was done.",
        warm_up="memex.core.extract.worker:warm_up", skip_modules=PYMUPDF_ADDONS)

    def extract(self, path: Path, max_chars: int = 5_000_000, kind: str | None = None) -> Extraction:
        """The text of ``path``; ``kind``, when the caller knows it, is not detected again."""
        return self._request((Path(os.fspath(path)), max_chars, kind), Path(path).name)


def warm_up() -> None:
    """Import the format modules (in the child), so their import time is not charged to a file."""
    for name in ("pdf", "office", "html", "text"):
        # A failure here is reported by the first file that needs the module.
        with contextlib.suppress(Exception):
            importlib.import_module(f"memex.core.extract.{name}")
