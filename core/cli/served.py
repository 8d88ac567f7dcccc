"""The command line run inside the resident service for the quick client (:mod:`.quick`):
the same parser, command functions and output code as ``memex`` itself, over the service's
own open library, with what the output depends on taken from the client (whether its stdout
is a terminal, NO_COLOR, its current folder). What the command writes is kept per thread and
sent back in order; the client writes it and exits with the command's status.

Whatever this cannot run exactly as the client's own process would is answered
``{"fallback": why}`` and the client runs the full command line: another library or
environment, a parse error, --help or --version (argparse words them for the client's
terminal), any command but search and status, models of the call's own.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from ..service.protocol import RequestError
from . import via_service
from .quick import ENVIRONMENT, QUICK_COMMANDS

if TYPE_CHECKING:
    from ..library import Library

MAX_ARGS = 256
MAX_ARG_CHARS = 65_536
_captured = threading.local()  # .writes: [(fd, text)] in order; .tty: (stdout, stderr) are terminals
_install = threading.Lock()


class _Routed:
    """Stands in for sys.stdout or sys.stderr: a thread running a command for a client writes
    into that client's answer; every other thread writes where the stream went before."""

    def __init__(self, original: TextIO | None, fd: int) -> None:
        self._original = original
        self._fd = fd

    def write(self, text: str) -> int:
        writes = getattr(_captured, "writes", None)
        if writes is None:
            return self._original.write(text) if self._original is not None else len(text)
        writes.append((self._fd, text))
        return len(text)

    def flush(self) -> None:
        if getattr(_captured, "writes", None) is None and self._original is not None:
            self._original.flush()

    def isatty(self) -> bool:
        tty = getattr(_captured, "tty", None)
        if tty is not None:
            return bool(tty[self._fd - 1])
        return self._original is not None and self._original.isatty()

    def __getattr__(self, name: str) -> object:
        return getattr(self._original, name)


def _route_streams() -> None:
    with _install:
        # cast: a _Routed does what the standard streams are used for (write, flush, isatty)
        # and hands every other attribute to the stream it stands in for
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = cast(TextIO, _Routed(sys.stdout, 1))
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = cast(TextIO, _Routed(sys.stderr, 2))


def _merged(writes: list[tuple[int, str]]) -> list[list[object]]:
    """Consecutive writes to one stream as one piece: [[fd, text], ...]."""
    merged: list[list[object]] = []
    pieces: list[str] = []
    for number, (fd, text) in enumerate(writes):
        pieces.append(text)
        if number + 1 == len(writes) or writes[number + 1][0] != fd:
            merged.append([fd, "".join(pieces)])
            pieces = []
    return merged


@contextmanager
def _capturing(tty: tuple[bool, bool]) -> Iterator[list[tuple[int, str]]]:
    _route_streams()
    writes: list[tuple[int, str]] = []
    _captured.writes, _captured.tty = writes, tty
    try:
        yield writes
    finally:
        _captured.writes = _captured.tty = None


class CliAnswers:
    """Runs quick clients' commands over ``library`` (the service's open library)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._parser: argparse.ArgumentParser | None = None
        self._parsing = threading.Lock()

    def answer(self, params: Mapping[str, object]) -> dict[str, object]:
        argv, cwd, tty, no_color, env = _request(params)
        differs = [name for name in ENVIRONMENT if env.get(name) != os.environ.get(name)]
        if differs:
            return {"fallback": f"the service runs with another {differs[0]}"}
        if tty[0] and no_color != ("NO_COLOR" in os.environ):
            return {"fallback": "NO_COLOR differs"}
        with _capturing(tty) as writes:
            args = self._parse(argv)
            why = self._refusal(args, cwd)
            if why is not None or args is None:
                return {"fallback": why or "the command line does not parse"}
            from .main import run_parsed

            with via_service.resident(self.library):
                code = run_parsed(self._built(), args)
        return {"writes": _merged(writes), "code": code}

    def _built(self) -> argparse.ArgumentParser:
        if self._parser is None:
            from .main import build_parser

            self._parser = build_parser(plugins=False)
        return self._parser

    def _parse(self, argv: list[str]) -> argparse.Namespace | None:
        with self._parsing:
            try:
                return self._built().parse_args(argv)
            except SystemExit:  # an error, --help, --version: worded for the client's terminal
                return None

    def _refusal(self, args: argparse.Namespace | None, cwd: str) -> str | None:
        if args is None:
            return None
        if args.command not in QUICK_COMMANDS:
            return f"{args.command} runs in the client"
        if getattr(args, "embedder", None) or getattr(args, "reranker", None):
            return "the command asks for models of its own"
        for name in ("library", "folder"):  # relative to the client's folder, not the service's
            value = getattr(args, name, None)
            if isinstance(value, str) and "\0" not in value and not os.path.isabs(os.path.expanduser(value)):
                setattr(args, name, os.path.join(cwd, value))
        target = via_service.library_target(args)
        if target is None or target != Path(self.library.path):
            return "another library"
        return None


def _request(params: Mapping[str, object]) -> tuple[list[str], str, tuple[bool, bool], bool, dict[str, str | None]]:
    argv, cwd, tty = params.get("argv"), params.get("cwd"), params.get("tty")
    no_color, env = params.get("no_color"), params.get("env")
    if not (isinstance(argv, list) and len(argv) <= MAX_ARGS
            and all(isinstance(a, str) and len(a) <= MAX_ARG_CHARS for a in argv)):
        raise RequestError("bad-request", f"cli: 'argv' must be a list of at most {MAX_ARGS} strings.")
    if not (isinstance(cwd, str) and os.path.isabs(cwd) and "\0" not in cwd):
        raise RequestError("bad-request", "cli: 'cwd' must be an absolute path.")
    if not (isinstance(tty, list) and len(tty) == 2 and all(isinstance(t, bool) for t in tty)):
        raise RequestError("bad-request", "cli: 'tty' must be two true/false values.")
    if not isinstance(no_color, bool):
        raise RequestError("bad-request", "cli: 'no_color' must be true or false.")
    if not (isinstance(env, dict) and all(isinstance(v, str | None) for v in env.values())):
        raise RequestError("bad-request", "cli: 'env' must map names to strings or null.")
    return argv, cwd, (tty[0], tty[1]), no_color, {k: v for k, v in env.items() if k in ENVIRONMENT}
