"""``memex serve``: the library's resident owner without a window. It answers the CLI (and
MCP, and with ``--http`` a loopback HTTP API) over a socket only the user can open, keeps the
sources in sync as the window does, and stops on Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import MemexError
from .output import safe, say

if TYPE_CHECKING:
    from ..service.host import ServiceHost


def add_serve_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common],
                       help="serve this library to the CLI and other programs, without a window")
    p.add_argument("--no-watch", action="store_true",
                   help="do not watch the source folders for changes (the window's behaviour is to watch)")
    p.add_argument("--http", action="store_true",
                   help="also answer a JSON API on a loopback address (a bearer token is written to a file)")
    p.add_argument("--host", default="127.0.0.1", help="--http: loopback address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="--http: port (default 8383; 0 picks a free one)")
    p.add_argument("--token-file", metavar="PATH", help="--http: where to write the token (default: your Memex folder)")
    p.add_argument("--allow-write", action="store_true",
                   help="--http: allow adding sources and indexing through the API (read-only otherwise)")


def cmd_serve(args: argparse.Namespace) -> int:
    from ..library import Library
    from ..service.host import ServiceHost
    from ..service.place import ServiceUnavailable

    with Library.open(args.library) as lib:
        if lib.recovered is not None:
            say(f"memex: {lib.recovered.message}", err=True)
        host = ServiceHost(lib, watch=not args.no_watch, on_notice=lambda text: say(f"memex: {text}", err=True))
        try:
            host.start()
        except ServiceUnavailable as exc:
            raise MemexError(str(exc)) from None
        try:
            return _serve(args, host)
        finally:
            host.close()


def _serve(args: argparse.Namespace, host: ServiceHost) -> int:
    api = None
    if args.http:
        from ..service.http_api import DEFAULT_PORT, serve_http

        port = DEFAULT_PORT if args.port is None else args.port
        api = serve_http(host.operations.with_writes(args.allow_write), args.host, port,
                         Path(args.token_file).expanduser() if args.token_file else None)
    try:
        say(f"Serving {safe(str(host.library.path))} (Ctrl-C stops).", err=True)
        if api is not None:
            say(f"HTTP API: {api.url} (token in {safe(str(api.token_file))}; "
                f"{'writes allowed' if args.allow_write else 'read-only'}).", err=True)
        _wait_for_stop(host)
    except KeyboardInterrupt:
        pass
    finally:
        if api is not None:
            api.close()
    say("Stopped.", err=True)
    return 0


def _wait_for_stop(host: ServiceHost) -> None:
    """Until Ctrl-C (KeyboardInterrupt) or SIGTERM (the same clean stop)."""
    stop = threading.Event()

    def on_term(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.is_set() and not host.server.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
