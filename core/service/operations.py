"""The operations Memex answers for other programs (the CLI through the resident service, the
MCP server, the HTTP API): one entry, :meth:`Operations.call`, over an open Library.

Everything in a request is hostile: each parameter is checked for type and size, ``k`` is
capped, a document is read only from the library's own stored text and only when it lies
inside an indexed source, and every failure is a :class:`RequestError` with a short code and
one line (never a traceback). Writes (``add_source``, ``index``) are refused unless the
operations were made with ``allow_write=True``; one write runs at a time.

Results carry a stable ``id`` per passage, ``"<document id>:<passage id>"``, that ``read``
takes back: the passage itself, or with ``page`` that page's text. A bare ``"<document id>"``
reads the document's pages. Ids last as long as the file's content is unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MemexError
from ..extract.registry import SUPPORTED_KINDS, kind_named
from ..types import Changes, Document, Hit, SearchFilters, SearchResults
from .params import MAX_PATH_CHARS, Params
from .protocol import RequestError

if TYPE_CHECKING:
    from ..library import Library

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_READ_CHARS = 200_000  # characters of page text one read returns (the rest: truncated)
MAX_FAILED_LISTED = 100_000
MODES = ("hybrid", "bm25", "dense")
READ_OPERATIONS = ("search", "read", "sources", "status")
WRITE_OPERATIONS = ("add_source", "index")
_ID = re.compile(r"^([0-9]{1,18})(?::([0-9]{1,18}))?$")


class Operations:
    """The service's operations over ``library``; thread-safe for reads (the library keeps one
    connection per thread), one write at a time."""

    def __init__(self, library: Library, *, allow_write: bool = False,
                 on_write: Callable[[Changes], None] | None = None) -> None:
        self.library = library
        self.allow_write = allow_write
        self.on_write = on_write  # told what a write changed (the window refreshes that)
        self._write = threading.Lock()
        self._handlers: dict[str, Callable[[Params], dict[str, object]]] = {
            "search": self._search, "read": self._read, "sources": self._sources,
            "status": self._status, "add_source": self._add_source, "index": self._index,
        }

    def with_writes(self, allowed: bool) -> Operations:
        """The same operations over the same library with writes allowed or not; both share
        one write slot (one writer)."""
        twin = Operations(self.library, allow_write=allowed, on_write=self.on_write)
        twin._write = self._write
        return twin

    @property
    def names(self) -> tuple[str, ...]:
        """The operations this instance answers (writes only when allowed)."""
        return READ_OPERATIONS + (WRITE_OPERATIONS if self.allow_write else ())

    def call(self, name: str, params: Mapping[str, object] | None) -> dict[str, object]:
        """Run operation ``name``; a JSON-ready dict, or RequestError."""
        if not isinstance(name, str) or name not in self._handlers:
            shown = name[:40] if isinstance(name, str) else type(name).__name__
            raise RequestError("unknown-operation", f"Unknown operation {shown!r}; known: "
                                                    f"{', '.join(self.names)}.")
        if name in WRITE_OPERATIONS and not self.allow_write:
            raise RequestError("read-only", f"{name} changes the library and this service is read-only "
                                            "(start it with --allow-write to permit it).")
        try:
            return self._handlers[name](Params(name, params))
        except RequestError:
            raise
        except MemexError as exc:
            raise RequestError("failed", str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - a request never takes the service down
            log.exception("memex service: %s failed", name)
            raise RequestError("internal", f"{name} failed: {type(exc).__name__}: {exc}") from exc

    # -- read operations -------------------------------------------------------------------
    def _search(self, p: Params) -> dict[str, object]:
        query = (p.text("query", required=True, limit=MAX_QUERY_CHARS) or "").strip()
        if not query:
            raise p.bad("'query' is empty; give the words to search for.")
        k = p.integer("k", 10, 1, MAX_K) or 10
        mode = p.choice("mode", "hybrid", MODES)
        rerank = p.flag("rerank", None)
        filters = _filters(p)
        p.done()
        results = self.library.find(query, k, filters=filters, mode=mode, rerank=rerank)
        return results_dict(results)

    def _read(self, p: Params) -> dict[str, object]:
        ident, path = p.text("id", limit=40), p.text("path", limit=MAX_PATH_CHARS)
        page = p.integer("page", None, 1, 1_000_000)
        p.done()
        if (ident is None) == (path is None):
            raise p.bad("give either 'id' (from search results) or 'path'.")
        if ident is not None:
            document, chunk_id = self._by_id(ident)
        else:
            document, chunk_id = self._by_path(path or ""), None
        if chunk_id is not None and page is None:
            return self._passage(document, chunk_id)
        number = page or 1
        if number > max(document.pages, 1):
            raise RequestError("not-found", f"{_shown(document.path)} has {document.pages} page(s); "
                                            f"there is no page {number}.")
        text = self.library.page_text(document.id, number)
        return {**_document_dict(document), "id": str(document.id), "page": number,
                "text": text[:MAX_READ_CHARS], "truncated": len(text) > MAX_READ_CHARS}

    def _passage(self, document: Document, chunk_id: int) -> dict[str, object]:
        passage = self.library.passage(chunk_id)
        if passage is None or passage.document_id != document.id:
            raise RequestError("not-found", "That passage is gone (the file changed since the search); "
                                            "search again.")
        return {**_document_dict(document), "id": f"{document.id}:{chunk_id}", "page": passage.page,
                "char_start": passage.char_start, "char_end": passage.char_end,
                "text": passage.text[:MAX_READ_CHARS], "truncated": len(passage.text) > MAX_READ_CHARS}

    def _by_id(self, ident: str) -> tuple[Document, int | None]:
        match = _ID.match(ident.strip())
        if match is None:
            raise RequestError("bad-request", "read: 'id' must be an id from search results, "
                                              "such as '12:345' or '12'.")
        document = self.library.document_by_id(int(match.group(1)))
        if document is None or self.library.source_covering(document.path) is None:
            raise RequestError("not-found", f"No document {ident!r} in any indexed source; search again.")
        return document, int(match.group(2)) if match.group(2) else None

    def _by_path(self, raw: str) -> Document:
        if not os.path.isabs(os.path.expanduser(raw)):
            raise RequestError("bad-request", "read: 'path' must be an absolute path.")
        try:
            path = str(Path(raw).expanduser().resolve())
        except (OSError, RuntimeError, ValueError) as exc:
            raise RequestError("bad-request", "read: 'path' cannot be used as a path.") from exc
        document = self.library.document(path) if self.library.source_covering(path) else None
        if document is None:
            raise RequestError("outside-sources", f"{_shown(raw)} is not an indexed document in any "
                                                  "source; only indexed files can be read.")
        return document

    def _sources(self, p: Params) -> dict[str, object]:
        p.done()
        return {"sources": [dataclasses.asdict(s) for s in self.library.sources()]}

    def _status(self, p: Params) -> dict[str, object]:
        limit = p.integer("failed_limit", 20, 0, MAX_FAILED_LISTED) or 0
        p.done()
        status = self.library.status()
        failures = self.library.failures(limit=min(limit, status.failed)) if limit and status.failed else []
        return {**dataclasses.asdict(status), "chunks_pending": status.chunks_pending,
                "sources": [dataclasses.asdict(s) for s in self.library.sources()],
                "failed_files": [dataclasses.asdict(f) for f in failures],
                "writable": self.allow_write and not self.library.readonly}

    # -- write operations ------------------------------------------------------------------
    def _add_source(self, p: Params) -> dict[str, object]:
        paths = p.texts("path") or []
        p.done()
        if not paths:
            raise p.bad("'path' is required (a folder or file).")
        with self._writing():
            added = self.library.add_sources(paths)
        self._changed(Changes(sources=True))
        return {"sources": [dataclasses.asdict(s) for s in added]}

    def _index(self, p: Params) -> dict[str, object]:
        paths = p.texts("paths")
        p.done()
        with self._writing():
            report = self.library.index(paths or None)
        self._changed(report.changes)
        return {**dataclasses.asdict(report), "failed_in_library": self.library.status().failed}

    def _changed(self, changes: Changes) -> None:
        if self.on_write is not None and changes.any:
            try:
                self.on_write(changes)
            except Exception:  # noqa: BLE001 - the write is done; a listener's fault is only logged
                log.exception("memex service: the write listener failed")

    @property
    def write_lock(self) -> threading.Lock:
        """Held while an operation writes; hold it to write beside them (a watcher's refresh)."""
        return self._write

    def _writing(self) -> _WriteSlot:
        return _WriteSlot(self._write)


WRITE_WAIT_S = 30.0  # a write waits this long for another (a watcher's refresh) to finish


class _WriteSlot:
    """One write at a time: a second waits a little (a short refresh), then is refused rather
    than queued behind a long run."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        if not self._lock.acquire(timeout=WRITE_WAIT_S):
            raise RequestError("busy", "The library is being written to (an index run); try again "
                                       "when it is done.")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _filters(p: Params) -> SearchFilters | None:
    kinds = tuple(dict.fromkeys(_kind(p, text) for text in (p.texts("type", limit=40) or [])))
    folder = p.text("folder", limit=MAX_PATH_CHARS)
    after, before = p.date("after"), p.date("before")
    if after is not None and before is not None and after >= before:
        raise p.bad("'after' must be earlier than 'before'.")
    if folder is not None:
        if not os.path.isabs(os.path.expanduser(folder)):
            raise p.bad("'folder' must be an absolute path.")
        folder = str(Path(folder).expanduser().resolve())
    filters = SearchFilters(folder=folder, kinds=kinds, modified_after=after, modified_before=before)
    return filters if filters.active else None


def _kind(p: Params, text: str) -> str:
    kind = kind_named(text)
    if kind is None:
        raise p.bad(f"'type' {text[:40]!r} is not a file type Memex indexes; known: "
                    f"{', '.join(sorted(SUPPORTED_KINDS))}.")
    return kind


def results_dict(results: SearchResults) -> dict[str, object]:
    """A search's results as JSON: each hit with its passage id, path, page, snippet, score,
    whether it was found by meaning alone (``related``), its duplicates (``also_at``), its
    named fields (a message's from, to, date; its subject is the title) and, for a document
    inside a file (a message in a mailbox, an attachment), the file on disk (``container``)."""
    return {"query": results.query, "showing_results_for": results.showing_results_for,
            "results": [hit_dict(hit) for hit in results.hits]}


def hit_dict(hit: Hit) -> dict[str, object]:
    passages = [{"id": f"{hit.document_id}:{c.chunk_id}", "page": c.page, "char_start": c.char_start,
                 "char_end": c.char_end, "score": c.score, "snippet": c.snippet, "ocr": c.ocr,
                 "highlights": [[h.start, h.end] for h in c.highlights]} for c in hit.chunks]
    return {"id": passages[0]["id"] if passages else str(hit.document_id), "document_id": hit.document_id,
            "path": hit.path, "title": hit.title, "kind": hit.kind, "page": hit.page if hit.chunks else None,
            "snippet": hit.snippet if hit.chunks else "", "score": hit.score, "reranked": hit.reranked,
            "related": hit.related, "also_at": list(hit.also_at), "mtime": hit.mtime,
            "fields": dict(hit.fields), "container": hit.container, "passages": passages}


def _document_dict(document: Document) -> dict[str, object]:
    return {"document_id": document.id, "path": document.path, "title": document.title,
            "kind": document.kind, "pages": document.pages}


def _shown(text: str) -> str:
    return repr(text[:200])
