"""What ``memex --help`` and ``memex --version`` say beyond argparse's own lines."""

from __future__ import annotations

import argparse
import re
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "memex-desktop"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"  # a source checkout's
_VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"', re.MULTILINE)


def memex_version() -> str:
    """The installed distribution's version; in a source tree that is not installed, the one
    its pyproject.toml declares ("unknown" when neither can be read)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    try:
        found = _VERSION_LINE.search(PYPROJECT.read_text(encoding="utf-8"))
    except OSError:
        found = None
    return found.group(1) if found else "unknown"


def developer_commands(sub: argparse._SubParsersAction, names: list[str]) -> str:
    """The help section listing ``names`` (commands added without ``help=``, so argparse leaves
    them out of the user commands), each with its parser's description, aligned like argparse's
    own command list."""
    lines = ["developer commands:"]
    for name in names:
        description = sub.choices[name].description or ""
        lines.append(f"    {name:<9} {description}".rstrip())
    return "\n".join(lines)
