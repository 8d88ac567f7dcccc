"""Extraction in a separate, long-lived process, so a hostile file cannot take Memex down.

A file that hangs the parser is cut off after ``timeout_s``; one that crashes it (or runs
into the memory cap) kills only the child. Either way the next file gets a fresh child
(:mod:`memex.core.child_process`).

Small files travel several to a round trip (:meth:`ExtractionWorker.extract_many`): a folder
of notes does not pay a process switch per file. When such a batch hangs or crashes the child,
its files are read again one by one, so only the guilty file fails. After a large file the
child hands its freed memory back to the system, and a child that still holds more than
``recycle_mb`` is replaced before the next request.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from memex.core.child_process import PYMUPDF_ADDONS, TOO_LARGE, ChildSpec, IsolatedWorker, rebuild_error, resolve
from memex.core.errors import ExtractionError
from memex.core.memory import release_free_heap
from memex.core.types import Extraction

DEFAULT_TARGET = "memex.core.extract:extract_file"
_SERVE = "memex.core.extract.worker:serve"
RECYCLE_MB = 250  # a child holding more than this after a request is replaced
TRIM_AFTER_BYTES = 1_000_000  # after a file this large the child gives freed memory back

# (path, max_chars, kind) or (path, max_chars, kind, start): ``start`` is the byte offset a
# mailbox is read on from (a previous extraction's ``resume_at``), 0 for every other file.
Request: TypeAlias = tuple[Path, int, str | None] | tuple[Path, int, str | None, int]
Outcome: TypeAlias = Extraction | ExtractionError


class ExtractionWorker(IsolatedWorker):
    """Runs ``extract_file`` (or ``target``, a "module:function" path taking (path, max_chars,
    kind)) in a child process. Calls are serialised; the worker may be shared between threads."""

    SPEC = ChildSpec(
        target=_SERVE, process_name="memex-extract", load_failed="the extractor",
        out_of_memory="the file needs too much memory to extract",
        reply_too_large="the extracted text is too large", unreadable="the file could not be read",
        timed_out="extraction took longer than {timeout:g} s and was stopped",
        crashed="extraction process crashed ({detail})", not_started="the extraction process did not start",
        closed="The worker was closed before the request was done.",
        warm_up="memex.core.extract.worker:warm_up", skip_modules=PYMUPDF_ADDONS)

    def __init__(self, timeout_s: float | None = None, memory_mb: int | None = None,
                 target: str | None = None, recycle_mb: int = RECYCLE_MB) -> None:
        super().__init__(timeout_s, memory_mb)
        self.extractor = target or DEFAULT_TARGET
        self.recycle_mb = recycle_mb
        self.recycled = 0  # children replaced for holding too much memory

    @property
    def target(self) -> str:
        return self.extractor

    def extract(self, path: Path, max_chars: int = 5_000_000, kind: str | None = None,
                start: int = 0) -> Extraction:
        """The text of ``path``; ``kind``, when the caller knows it, is not detected again;
        ``start``: the byte offset a mailbox is read on from."""
        outcome = self.extract_many([(Path(path), max_chars, kind, start)])[0]
        if isinstance(outcome, ExtractionError):
            raise outcome
        return outcome

    def extract_many(self, requests: Sequence[Request]) -> list[Outcome]:
        """The text of each (path, max_chars, kind[, start]), or the error that file met, in one
        round trip. A batch that times out or crashes the child is read again file by file."""
        if not requests:
            return []
        sent: list[Request] = [(Path(os.fspath(r[0])), r[1], r[2], _start_of(r)) for r in requests]
        try:
            replies = self._request((self.extractor, sent), Path(sent[0][0]).name)
        except ExtractionError as exc:
            if len(sent) == 1 or exc.reason == "closed":
                return [exc] * len(sent)
            return [self._alone(request) for request in sent]
        outcomes: list[Outcome | None] = []
        for reply in replies:
            if reply is None:
                outcomes.append(None)  # not run: an earlier file left the child's heap untrusted
            elif reply[0] == "ok":
                outcomes.append(reply[1])
            else:
                outcomes.append(rebuild_error(*reply[1:]))
        if any(o is None or (isinstance(o, ExtractionError) and o.reason == TOO_LARGE) for o in outcomes):
            self._replace_child()
        else:
            self._recycle_if_large()
        return [o if o is not None else self._alone(r) for o, r in zip(outcomes, sent, strict=True)]

    def _alone(self, request: Request) -> Outcome:
        try:
            return self.extract_many([request])[0]
        except ExtractionError as exc:
            return exc

    def child_rss_mb(self) -> float | None:
        """The child's resident memory (Linux), or None when unknown or no child runs."""
        pid = self.pid
        if pid is None:
            return None
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return None

    def _recycle_if_large(self) -> None:
        rss = self.child_rss_mb()
        if rss is not None and rss > self.recycle_mb:
            self.recycled += 1
            self._replace_child()

    def _replace_child(self) -> None:
        with self._lock:
            self._stop(kill=True)  # the next request starts a fresh child


# --- child side ----------------------------------------------------------------------------

_extractors: dict[str, Callable[..., Any]] = {}


def serve(extractor: str, requests: list[Request]) -> list[tuple[Any, ...] | None]:
    """(In the child.) Run ``extractor`` on each request; a reply per request: ("ok", result),
    ("err", class name, message, reason), or None for requests left out after a MemoryError."""
    try:
        func = _extractors.get(extractor) or resolve(extractor)
    except Exception as exc:
        failed = ("err", "ExtractionError", f"the extractor {extractor!r} could not be loaded: {exc}", "failed")
        return [failed for _ in requests]
    _extractors[extractor] = func
    replies: list[tuple[Any, ...] | None] = []
    for index, request in enumerate(requests):
        reply = _one(func, request)
        replies.append(reply)
        if reply[0] == "err" and reply[3] == TOO_LARGE:
            replies.extend(None for _ in requests[index + 1:])
            break
        if _bytes_read(request, reply) >= TRIM_AFTER_BYTES:
            give_memory_back()
    return replies


def _bytes_read(request: Request, reply: tuple[Any, ...]) -> int:
    """How much of the file the request read: all of it, or for a mailbox only the part from
    its offset to where the reading stopped (a message at a time must not pay a trim each)."""
    size = _size(request[0])
    start = _start_of(request)
    if not start:
        return size
    from .mailbox import slice_request

    offset = slice_request(start)[0]
    result = reply[1] if reply[0] == "ok" else None
    end = getattr(result, "resume_at", None)
    return (end if isinstance(end, int) else size) - offset


def _start_of(request: Request) -> int:
    return request[3] if len(request) > 3 else 0


def _one(func: Callable[..., Any], request: Request) -> tuple[Any, ...]:
    path, max_chars, kind = request[:3]
    start = _start_of(request)
    try:  # an extractor that reads no mailbox need not take ``start``
        return ("ok", func(path, max_chars, kind, start=start) if start else func(path, max_chars, kind))
    except ExtractionError as exc:
        return ("err", type(exc).__name__, str(exc), exc.reason)
    except MemoryError:
        return ("err", "ExtractionError", ExtractionWorker.SPEC.out_of_memory, TOO_LARGE)
    except Exception as exc:
        detail = str(exc).strip() or type(exc).__name__
        return ("err", "CorruptFile", f"{ExtractionWorker.SPEC.unreadable}: {detail}", "corrupt")


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def give_memory_back() -> None:
    """Collect cycles and return freed heap pages to the system (glibc keeps them otherwise)."""
    gc.collect()
    release_free_heap()


def warm_up() -> None:
    """Import the format modules (in the child), so their import time is not charged to a file."""
    for name in ("pdf", "office", "html", "text", "mail", "mailbox"):
        # A failure here is reported by the first file that needs the module.
        with contextlib.suppress(Exception):
            importlib.import_module(f"memex.core.extract.{name}")
