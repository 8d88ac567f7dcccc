"""``memex mcp``: the library as MCP tools for AI assistants, on stdin/stdout (see
``service.mcp_server``). The MCP SDK loads only when this command runs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..errors import MemexError
from . import via_service
from .output import say


def add_mcp_parser(sub: Any) -> None:
    p = sub.add_parser("mcp", help="serve the library to AI assistants over MCP (stdio)",
                       description="Serve the library to an MCP client (Claude Desktop, VS Code, Cursor, ...) on "
                                   "stdin/stdout. Read-only unless --allow-write. Uses the running Memex (the "
                                   "window or memex serve) when there is one, else opens the library itself.")
    p.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    p.add_argument("--allow-write", action="store_true",
                   help="also offer add_source and index (adding folders and indexing)")


def cmd_mcp(args: argparse.Namespace) -> int:
    from ..service.mcp_server import Backend, run_stdio, sdk_missing

    missing = sdk_missing()
    if missing is not None:
        raise MemexError(missing)
    if sys.stdin.isatty():  # run by hand: say what it is waiting for (an MCP client talks on stdin)
        say("memex mcp: waiting for an MCP client on stdin (register this command in the client; "
            "Ctrl-D stops).", err=True)
    backend = Backend(args.library, via_service.library_target(args), allow_write=args.allow_write,
                      use_service=not os.environ.get(via_service.NO_SERVICE_ENV))
    run_stdio(backend)
    return 0
