"""Talking to the resident service of a library, when one runs.

This is the CLI's fast path, so it imports only the standard library, the frame protocol
and the plain value types: no Library, no SQLite, no models. :func:`connect` answers None
when no service serves the library (no socket, or a stale one nobody listens on).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from ..types import ChunkHit, FileError, Highlight, Hit, LibraryStatus, SearchResults, Source
from .address import socket_file
from .place import ServiceUnavailable, service_folder, supported
from .protocol import MAX_FRAME, MAX_REPLY, FrameError, RequestError, receive, send

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 40.0  # the server's own limit per read request (30 s) and some slack


class ServiceClient:
    """One connection to a running service; ``call`` may be used many times. Closes with
    :meth:`close` or as a context manager."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self._sock = sock
        self.path = path

    def call(self, op: str, params: Mapping[str, object] | None = None, *,
             timeout: float | None = READ_TIMEOUT_S) -> dict[str, object]:
        """The operation's result, as :meth:`Operations.call` returns it; RequestError when the
        service refuses it, and RequestError("unreachable") when the connection fails."""
        try:
            self._sock.settimeout(timeout)
            send(self._sock, {"op": op, "params": dict(params or {})}, MAX_FRAME)
            reply = receive(self._sock, MAX_REPLY)
        except (OSError, FrameError) as exc:
            raise RequestError("unreachable", f"The Memex service stopped answering ({exc}).") from exc
        if reply is None:
            raise RequestError("unreachable", "The Memex service closed the connection.")
        result = reply.get("result")
        if reply.get("ok") is True and isinstance(result, dict):
            return result
        error = reply.get("error")
        if isinstance(error, dict):
            raise RequestError(str(error.get("code", "failed")), str(error.get("message", "")))
        raise RequestError("bad-reply", "The Memex service sent a reply Memex cannot read.")

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(library: Path, *, timeout: float = CONNECT_TIMEOUT_S) -> ServiceClient | None:
    """A connection to the service of ``library`` (absolute, resolved), or None when none runs
    (or this system has no Unix sockets, or the socket's place is not safely the user's)."""
    if not supported():
        return None
    try:
        service_folder(create=False)  # a folder of ours left open to others is closed first
    except (OSError, ServiceUnavailable):
        return None
    found = socket_file(str(library))
    if found is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(found)
    except OSError:  # refused (stale), gone, timed out
        sock.close()
        return None
    return ServiceClient(sock, Path(found))


# -- results back into the core's value types (the CLI prints them as it prints its own) ------
def results_from_dict(data: Mapping[str, object]) -> SearchResults:
    hits = tuple(_hit(h) for h in _objects(data.get("results")))
    shown = data.get("showing_results_for")
    return SearchResults(query=str(data.get("query", "")), hits=hits,
                         showing_results_for=shown if isinstance(shown, str) else None)


def _hit(h: Mapping[str, object]) -> Hit:
    chunks = tuple(
        ChunkHit(chunk_id=_int(str(p.get("id")).rpartition(":")[2]), page=_int(p.get("page")),
                 char_start=_int(p.get("char_start")), char_end=_int(p.get("char_end")), text="",
                 snippet=str(p.get("snippet", "")), score=_float(p.get("score")), ocr=p.get("ocr") is True,
                 highlights=tuple(Highlight(_int(span[0]), _int(span[1]))
                                  for span in _spans(p.get("highlights"))))
        for p in _objects(h.get("passages")))
    title = h.get("title")
    also_at = h.get("also_at")
    fields = h.get("fields")
    container = h.get("container")
    return Hit(document_id=_int(h.get("document_id")), path=str(h.get("path", "")),
               title=title if isinstance(title, str) else None, kind=str(h.get("kind", "")),
               mtime=_float(h.get("mtime")), score=_float(h.get("score")), chunks=chunks,
               reranked=h.get("reranked") is True, related=h.get("related") is True,
               also_at=tuple(str(p) for p in also_at) if isinstance(also_at, list) else (),
               fields=tuple((str(k), str(v)) for k, v in fields.items()) if isinstance(fields, dict) else (),
               container=container if isinstance(container, str) else None)


def status_from_dict(data: Mapping[str, object]) -> tuple[LibraryStatus, list[Source], list[FileError]]:
    """The status operation's reply as the CLI's three values."""
    sources = [Source(id=_int(s.get("id")), path=str(s.get("path")), kind=str(s.get("kind")),
                      added_at=_float(s.get("added_at")), documents=_int(s.get("documents")),
                      chunks=_int(s.get("chunks")), errors=_int(s.get("errors")),
                      last_indexed_at=_optional_float(s.get("last_indexed_at")))
               for s in _objects(data.get("sources"))]
    failures = [FileError(path=str(f.get("path")), reason=str(f.get("reason")), message=str(f.get("message")))
                for f in _objects(data.get("failed_files"))]
    embedder, reranker, hint = data.get("embedder"), data.get("reranker"), data.get("language_hint")
    status = LibraryStatus(
        path=str(data.get("path")), size_bytes=_int(data.get("size_bytes")), sources=len(sources),
        documents=_int(data.get("documents")), failed=_int(data.get("failed")),
        chunks=_int(data.get("chunks")), chunks_embedded=_int(data.get("chunks_embedded")),
        embedder=embedder if isinstance(embedder, str) else None,
        reranker=reranker if isinstance(reranker, str) else None,
        schema_version=_int(data.get("schema_version")),
        language_hint=hint if isinstance(hint, str) else None)
    return status, sources, failures


def _objects(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _spans(value: object) -> list[list[object]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, list) and len(item) == 2]


def _int(value: object) -> int:
    if isinstance(value, int | float | str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
