"""The CLI's fast path: when a resident service (the window, or ``memex serve``) owns the
library, ``search`` and ``status`` ask it and print its answer exactly as they print their own,
and ``index`` is handed to it (one writer). Otherwise each function answers None and the
command opens the library itself.

Imports stay light on purpose (no Library, no SQLite, no models): a call answered by the
service costs a Python start and a socket round trip. ``MEMEX_NO_SERVICE=1`` makes every
command open the library itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config
from ..errors import MemexError
from ..service.address import socket_file
from ..types import FileError, IndexReport, LibraryStatus, SearchFilters, SearchResults, Source
from .output import FAILED_SHOWN, say

if TYPE_CHECKING:
    from ..library import Library
    from ..service.client import ServiceClient

NO_SERVICE_ENV = "MEMEX_NO_SERVICE"
SERVICE_MAX_K = 100  # the service's own cap; a larger --k opens the library itself
MAX_FAILED = 100_000
# Answers that mean "nobody is really serving": fall back to opening the library.
_GONE = frozenset({"unreachable", "stopping", "bad-reply"})
_resident = threading.local()


@contextlib.contextmanager
def resident(library: Library) -> Iterator[None]:
    """While the block runs on this thread, ``find`` and ``status`` answer from ``library``, the
    service's own open library (the service running a command for the quick client)."""
    _resident.library = library
    try:
        yield
    finally:
        _resident.library = None


def _resident_library() -> Library | None:
    return getattr(_resident, "library", None)


def local_status(lib: Library, every: bool) -> tuple[LibraryStatus, list[Source], list[FileError]]:
    """Status, sources and failed files (all with ``every``, else the first shown) from an
    open library."""
    status, sources = lib.status(), lib.sources()
    limit = status.failed if every else min(status.failed, FAILED_SHOWN)
    return status, sources, lib.failures(limit=limit) if limit > 0 else []


def library_target(args: argparse.Namespace) -> Path | None:
    """The resolved library path the command means, as ``Library.open`` resolves it; None
    when it cannot be told here (``Library.open`` then says what is wrong)."""
    try:
        chosen = getattr(args, "library", None) or config.Settings.load().library
        raw = os.fspath(chosen) if chosen else str(config.default_library_path())
        if "\0" in raw:
            return None
        raw.encode("utf-8")
        return Path(raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError, TypeError):
        return None


def service_for(args: argparse.Namespace) -> ServiceClient | None:
    """A connection to the service of the command's library, or None: no service runs, the
    user turned it off, or the command asks for models of its own (--embedder/--reranker)."""
    if os.environ.get(NO_SERVICE_ENV) or getattr(args, "embedder", None) or getattr(args, "reranker", None):
        return None
    target = library_target(args)
    if target is None or socket_file(str(target)) is None:
        return None  # nobody serves it: the socket machinery need not even load
    from ..service.client import connect

    return connect(target)


def _ask(client: ServiceClient, op: str, params: dict[str, object], *,
         timeout: float | None = 40.0) -> dict[str, object] | None:
    """The service's answer; None when it went away (the caller opens the library); its
    refusal as a MemexError (the same line the library would give)."""
    from ..service.protocol import RequestError

    try:
        return client.call(op, params, timeout=timeout)
    except RequestError as exc:
        if exc.code in _GONE:
            return None
        raise MemexError(exc.message) from None


def find(args: argparse.Namespace, query: str, filters: SearchFilters, rerank: bool) -> SearchResults | None:
    """``Library.find``'s answer from the service, or None when it cannot give it."""
    lib = _resident_library()
    if lib is not None:
        return lib.find(query, k=args.k, filters=filters, mode=args.mode, rerank=rerank)
    if args.k > SERVICE_MAX_K:
        return None
    client = service_for(args)
    if client is None:
        return None
    params: dict[str, object] = {"query": query, "k": args.k, "mode": args.mode}
    if not rerank:
        params["rerank"] = False
    if filters.kinds:
        params["type"] = list(filters.kinds)
    if filters.folder:
        params["folder"] = filters.folder
    if filters.modified_after is not None:
        params["after"] = filters.modified_after
    if filters.modified_before is not None:
        params["before"] = filters.modified_before
    with client:
        answer = _ask(client, "search", params)
    from ..service.client import results_from_dict

    return results_from_dict(answer) if answer is not None else None


def status(args: argparse.Namespace, every: bool) -> tuple[LibraryStatus, list[Source], list[FileError]] | None:
    """Status, sources and failed files (all with ``every``, else the first ``shown``)."""
    lib = _resident_library()
    if lib is not None:
        return local_status(lib, every)
    client = service_for(args)
    if client is None:
        return None
    with client:
        answer = _ask(client, "status", {"failed_limit": MAX_FAILED if every else FAILED_SHOWN})
    from ..service.client import status_from_dict

    return status_from_dict(answer) if answer is not None else None


def index(args: argparse.Namespace, paths: Sequence[str], quiet: bool
          ) -> tuple[IndexReport, int, list[FileError]] | None:
    """Hand an index run to the service: its report, the library's failed count and every
    failed file (for the earlier-failures lines); None when no service runs."""
    client = service_for(args)
    if client is None:
        return None
    absolute = [str(Path(p).expanduser().absolute()) for p in paths]
    with client:
        if not quiet:
            say("memex: Memex is running for this library (the window or memex serve); "
                "it does this indexing run.", err=True)
        try:
            answer = _ask(client, "index", {"paths": absolute} if absolute else {}, timeout=None)
        except KeyboardInterrupt:
            say("memex: stopped waiting; the running Memex goes on with the indexing run.", err=True)
            raise
        if answer is None:
            return None
        still_failed = answer.get("failed_in_library")
        failed = still_failed if isinstance(still_failed, int) else 0
        listed = _ask(client, "status", {"failed_limit": min(failed, MAX_FAILED)}) if failed else None
    from ..service.client import status_from_dict

    failures = status_from_dict(listed)[2] if listed else []
    return report_from_dict(answer), failed, failures


def report_from_dict(data: dict[str, object]) -> IndexReport:
    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) else 0

    raw_errors, seconds = data.get("errors"), data.get("seconds")
    errors = tuple(FileError(path=str(e.get("path")), reason=str(e.get("reason")), message=str(e.get("message")))
                   for e in (raw_errors if isinstance(raw_errors, list) else []) if isinstance(e, dict))
    return IndexReport(
        added=count("added"), updated=count("updated"), moved=count("moved"), removed=count("removed"),
        unchanged=count("unchanged"), failed=count("failed"), chunks=count("chunks"),
        embedded=count("embedded"), seconds=float(seconds) if isinstance(seconds, int | float) else 0.0,
        cancelled=data.get("cancelled") is True, errors=errors, sources_added=count("sources_added"),
        sources_removed=count("sources_removed"), sources_checked=count("sources_checked"),
        files_skipped=count("files_skipped"))
