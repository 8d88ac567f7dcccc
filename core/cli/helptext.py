"""What ``memex --help`` and ``memex --version`` say beyond argparse's own lines."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

DISTRIBUTION = "memex-desktop"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # a source checkout's
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"', re.MULTILINE)


def memex_version() -> str:
    """The installed distribution's version; in a source tree that is not installed, the one
    its pyproject.toml declares ("unknown" when neither can be read)."""
    from importlib import metadata  # read only when the version is asked for

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:
        found = _VERSION_LINE.search(PYPROJECT.read_text(encoding="utf-8"))
    except OSError:
        found = None
    return found.group(1) if found else "unknown"


class VersionAction(argparse.Action):
    """``--version``: like argparse's own, but the version is looked up only when asked for
    (reading the installed distributions' metadata costs every other command time)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str = "show program's version number and exit") -> None:  # noqa: A002
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"memex {memex_version()}", file=sys.stdout)
        parser.exit()


def developer_commands(sub: argparse._SubParsersAction, names: list[str]) -> str:
    """The help section listing ``names`` (commands added without ``help=``, so argparse leaves
    them out of the user commands), each with its parser's description, aligned like argparse's
    own command list."""
    lines = ["developer commands:"]
    for name in names:
        description = sub.choices[name].description or ""
        lines.append(f"    {name:<9} {description}".rstrip())
    return "\n".join(lines)
