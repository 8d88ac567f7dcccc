"""``memex mcp``: the library as tools for AI assistants, over MCP on stdio.

Tools: ``search`` (results carry path, page, snippet and a stable ``id``), ``read`` (a
passage or page by that id, or an indexed file's page by path), ``sources`` and ``status``;
with ``--allow-write`` also ``add_source`` and ``index``. Each call goes to the library's
resident service when one runs (the window or ``memex serve``), else to the library opened
here. What a call may ask is checked by :class:`~memex.core.service.operations.Operations`;
this module adds the MCP side: which tools exist, read-only unless allowed, a time limit per
call, and every failure as a tool error with a code and one line (never a traceback).

The MCP SDK is imported only here, and this module only by ``memex mcp``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MemexError
from .protocol import RequestError

if TYPE_CHECKING:
    import mcp_types

    from ..library import Library
    from .operations import Operations

log = logging.getLogger(__name__)

CALL_SECONDS = 60.0  # a read call's answer; an index run takes as long as it needs
# Answers from the service that mean nobody is really serving: ask the library here instead.
_SERVICE_GONE = frozenset({"unreachable", "stopping", "bad-reply"})
_DATE_HELP = "YYYY-MM-DD (local midnight; a time may follow) or a Unix timestamp"
_PATHS = {"description": "absolute paths of folders or files",
          "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 100}]}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    schema: dict[str, Any]
    writes: bool = False


TOOLS = (
    ToolSpec("search", "Search documents", (
        "Search the user's indexed documents (PDF, Word, text, Markdown, HTML, code, ...) by words "
        "and meaning. Each result has 'path', 'page', 'snippet' and an 'id' to pass to read. "
        "The query may hold \"exact phrase\", type:pdf, in:folder, before:2024-03 and after:2023."), {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "the words to search for", "maxLength": 1000},
            "k": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10,
                  "description": "how many documents to return"},
            "mode": {"type": "string", "enum": ["hybrid", "bm25", "dense"], "default": "hybrid",
                     "description": "hybrid: words and meaning; bm25: the words only; dense: the meaning only"},
            "type": {"description": "only these file types (pdf, docx, text, markdown, html, code, ...)",
                     "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "folder": {"type": "string", "description": "only documents inside this absolute folder path"},
            "after": {"type": ["string", "number"],
                      "description": f"only documents modified on or after this date: {_DATE_HELP}"},
            "before": {"type": ["string", "number"],
                       "description": f"only documents modified before this date: {_DATE_HELP}"},
            "rerank": {"type": "boolean", "description": "re-order with the cross-encoder when one is configured"},
        },
        "required": ["query"],
        "additionalProperties": False,
    }),
    ToolSpec("read", "Read a passage or page", (
        "Read text from an indexed document: 'id' from a search result gives that passage; add "
        "'page' for the whole page. A bare document id, or an absolute 'path' of an indexed file, "
        "with 'page' (default 1) gives a page. Files outside the indexed sources cannot be read."), {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "a result's id, such as '12:345', or a document id '12'"},
            "path": {"type": "string", "description": "absolute path of an indexed document (instead of id)"},
            "page": {"type": "integer", "minimum": 1, "description": "page number, from 1"},
        },
        "additionalProperties": False,
    }),
    ToolSpec("sources", "List sources", "The folders and files Memex keeps indexed, with their counts.",
             {"type": "object", "properties": {}, "additionalProperties": False}),
    ToolSpec("status", "Library status", (
        "The library's totals (documents, passages, embedded), its models, its sources and the files "
        "that could not be read."), {
        "type": "object",
        "properties": {"failed_limit": {"type": "integer", "minimum": 0, "default": 20,
                                        "description": "how many unreadable files to list"}},
        "additionalProperties": False,
    }),
    ToolSpec("add_source", "Add a source", (
        "Add folders or files to the library's sources (not indexed until 'index' runs)."), {
        "type": "object", "properties": {"path": _PATHS}, "required": ["path"], "additionalProperties": False,
    }, writes=True),
    ToolSpec("index", "Index", (
        "Bring the given paths (added as sources), or with none every source, in line with the disk. "
        "Blocks until the run ends; returns what changed."), {
        "type": "object", "properties": {"paths": _PATHS}, "additionalProperties": False,
    }, writes=True),
)


def tool_specs(allow_write: bool) -> tuple[ToolSpec, ...]:
    return tuple(t for t in TOOLS if allow_write or not t.writes)


class Backend:
    """Where calls go: the resident service of the library when one runs (asked afresh on each
    call, so a window started later is used), else the library opened here on first need."""

    def __init__(self, library: str | None, target: Path | None, *, allow_write: bool,
                 use_service: bool = True) -> None:
        self._library = library  # as given (None: the settings' or the default library)
        self._target = target  # resolved, to find its service; None: never ask a service
        self.allow_write = allow_write
        self._use_service = use_service and target is not None
        self._lock = threading.Lock()
        self._opened: Library | None = None
        self._operations: Operations | None = None

    def call(self, name: str, params: Mapping[str, object]) -> dict[str, object]:
        if any(t.name == name and t.writes for t in TOOLS) and not self.allow_write:
            raise RequestError("read-only", f"{name} changes the library; this MCP server is read-only "
                                            "(start it with memex mcp --allow-write to permit it).")
        answer = self._from_service(name, params)
        if answer is None:
            answer = self._local().call(name, params)
        if name == "status":  # whether writes are possible through this server, not the service's
            answer["writable"] = answer.get("writable") is True and self.allow_write
        return answer

    def _from_service(self, name: str, params: Mapping[str, object]) -> dict[str, object] | None:
        if not self._use_service or self._target is None:
            return None
        from .client import connect

        client = connect(self._target)
        if client is None:
            return None
        with client:
            try:
                return client.call(name, params, timeout=None if name == "index" else CALL_SECONDS)
            except RequestError as exc:
                if exc.code in _SERVICE_GONE:
                    return None
                raise

    def _local(self) -> Operations:
        with self._lock:
            if self._operations is None:
                from ..library import Library
                from .operations import Operations

                try:
                    self._opened = Library.open(self._library)
                except MemexError as exc:
                    raise RequestError("unavailable", str(exc)) from exc
                except OSError as exc:
                    raise RequestError("unavailable", f"The library could not be opened: {exc}") from exc
                self._operations = Operations(self._opened, allow_write=self.allow_write)
            return self._operations

    def close(self) -> None:
        with self._lock:
            opened, self._opened, self._operations = self._opened, None, None
        if opened is not None:
            opened.close()


# -- the MCP side -----------------------------------------------------------------------------
def _tool_result(value: Mapping[str, object], error: bool = False) -> mcp_types.CallToolResult:
    import mcp_types

    text = json.dumps(value, ensure_ascii=False)
    return mcp_types.CallToolResult(content=[mcp_types.TextContent(type="text", text=text)],
                                    structured_content=dict(value), is_error=error)


def _error_result(code: str, message: str) -> mcp_types.CallToolResult:
    return _tool_result({"error": {"code": code, "message": message}}, error=True)


async def answer_call(backend: Backend, name: str, arguments: Mapping[str, object] | None
                      ) -> mcp_types.CallToolResult:
    """One tool call: the operation's result, or a tool error with a code and one line."""
    import anyio

    if name not in {t.name for t in TOOLS}:
        return _error_result("unknown-tool", f"Unknown tool {name[:40]!r}.")
    params = dict(arguments or {})
    limit = None if name == "index" else CALL_SECONDS
    try:
        with anyio.fail_after(limit):
            result = await anyio.to_thread.run_sync(backend.call, name, params, abandon_on_cancel=True)
    except TimeoutError:
        return _error_result("timeout", f"{name} took longer than {CALL_SECONDS:g} s and was abandoned.")
    except RequestError as exc:
        return _error_result(exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - the assistant gets one line, the log the details
        log.warning("memex mcp: %s failed", name, exc_info=True)
        return _error_result("internal", f"{name} failed: {type(exc).__name__}")
    return _tool_result(result)


def build_server(backend: Backend) -> Any:
    """The MCP server (the SDK's low-level ``Server``) answering tools/list and tools/call."""
    import mcp_types
    from mcp.server.lowlevel import Server

    from ..cli.helptext import memex_version

    tools = [mcp_types.Tool(
        name=t.name, title=t.title, description=t.description, input_schema=t.schema,
        annotations=mcp_types.ToolAnnotations(title=t.title, read_only_hint=not t.writes,
                                              destructive_hint=False, idempotent_hint=True,
                                              open_world_hint=False))
        for t in tool_specs(backend.allow_write)]

    async def list_tools(_ctx: Any, _params: Any) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=tools)

    async def call_tool(_ctx: Any, params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
        return await answer_call(backend, params.name, params.arguments)

    return Server("memex", version=memex_version(), title="Memex",
                  instructions=("Memex searches the user's own documents on this computer. Call search, "
                                "then read with a result's id for the passage or its page."),
                  on_list_tools=list_tools, on_call_tool=call_tool)


def run_stdio(backend: Backend) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin; the library is closed after."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(backend)

    async def serve() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    try:
        anyio.run(serve)
    finally:
        backend.close()


def sdk_missing() -> str | None:
    """A one-line install hint when the MCP SDK is not installed, else None."""
    try:
        import mcp.server.lowlevel  # noqa: F401
    except ImportError:
        return "memex mcp needs the MCP SDK: pip install 'memex-desktop[mcp]'."
    return None
