"""Sentences for the failures a person can cause or fix that do not arrive as MemexError:
a full disk, a read-only or unopenable library, arguments that are not UTF-8 text."""

from __future__ import annotations

import argparse
import errno
from pathlib import Path

from ..errors import MemexError
from .output import safe

FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
AGAIN = "Nothing was lost; free some space and run the same command again."


class UsageError(MemexError):
    """The command line itself is wrong (exit status 2, like argparse's own errors)."""


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling (no loops)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def describe(exc: BaseException, library: Path | None) -> str | None:
    """A one-line sentence for ``exc`` when it is something the person can act on, else None."""
    from ..store.failures import database_failure

    where = f" at {library}" if library is not None else ""
    for e in _chain(exc):
        said = database_failure(e, where)
        if said is not None:
            return said
        if isinstance(e, OSError) and e.errno in FULL_ERRNOS:
            target = f" while writing {e.filename}" if e.filename else ""
            return f"The disk is full{target}: {e.strerror or e}. {AGAIN}"
        if isinstance(e, PermissionError):
            target = f" to {e.filename}" if e.filename else ""
            return f"Permission denied{target}: check who owns it, or choose another place."
        if isinstance(e, OSError) and e.errno == errno.EROFS:
            target = f" ({e.filename})" if e.filename else ""
            return f"The file system is read-only{target}; choose a library elsewhere with --library."
    return None


POSITIONAL_NAMES = {"query": "The query", "path": "The path", "paths": "A path", "name": "The model name",
                    "folder": "The folder", "dir": "The folder", "suite": "The suite"}


def _chosen_actions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[argparse.Action]:
    """The actions of ``parser`` and of the subcommand parsers ``args`` went through."""
    actions: list[argparse.Action] = []
    current: argparse.ArgumentParser | None = parser
    while current is not None:
        actions += current._actions
        chosen = None
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(args, action.dest, None) or "")
        current = chosen
    return actions


def _shown_bytes(text: str) -> str:
    return safe(text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))


def undecodable_argument(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """A sentence for the first argument that is not UTF-8 text (Python hands such bytes over as
    lone surrogates, which no file name in the library, no query and no setting can hold)."""
    names: dict[str, str] = {}
    for action in _chosen_actions(parser, args):
        longs = [o for o in action.option_strings if o.startswith("--")] or action.option_strings
        names.setdefault(action.dest, longs[0] if longs else POSITIONAL_NAMES.get(action.dest, action.dest))
    for dest, value in vars(args).items():
        for text in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                what = names.get(dest, dest)
                return (f"{what} is not valid UTF-8 text: {_shown_bytes(text)}. Memex reads names, "
                        "paths and queries only as UTF-8; rename the file or folder, or type it again.")
    return None
