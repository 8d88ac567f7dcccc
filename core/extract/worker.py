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
from memex.core.errors import ExtractionError, ExtractionTimeout, ExtractorCrashed
from memex.core.types import Extraction

DEFAULT_TARGET = "memex.core.extract:extract_file"


class ExtractionWorker(IsolatedWorker):
    """Runs ``extract_file`` (or ``target``, a "module:function" path taking (path, max_chars))
    in a child process. Calls are serialised; the worker may be shared between threads."""

    def __init__(self, timeout_s: float = 60.0, memory_mb: int = 2048, target: str = DEFAULT_TARGET) -> None:
        spec = ChildSpec(
            target=target, process_name="memex-extract", load_failed="the extractor",
            out_of_memory="the file needs too much memory to extract",
            reply_too_large="the extracted text is too large", unreadable="the file could not be read",
            warm_up="memex.core.extract.worker:warm_up",
            skip_modules=PYMUPDF_ADDONS)
        super().__init__(spec, timeout_s, memory_mb)

    def extract(self, path: Path, max_chars: int = 5_000_000) -> Extraction:
        return self._request((Path(os.fspath(path)), max_chars), Path(path).name)

    def _timeout_error(self, name: str) -> ExtractionError:
        return ExtractionTimeout(f"extraction took longer than {self.timeout_s:g} s and was stopped")

    def _crash_error(self, name: str, detail: str) -> ExtractionError:
        return ExtractorCrashed(f"extraction process crashed ({detail})")

    def _start_error(self) -> ExtractionError:
        return ExtractorCrashed("the extraction process did not start")


def warm_up() -> None:
    """Import the format modules (in the child), so their import time is not charged to a file."""
    for name in ("pdf", "office", "html", "text"):
        # A failure here is reported by the first file that needs the module.
        with contextlib.suppress(Exception):
            importlib.import_module(f"memex.core.extract.{name}")
