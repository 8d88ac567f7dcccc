"""``memex skipped``: the files and folders indexing passed over without reading them, with
why, and the line ``memex index`` ends with when there were any.

Entries skipped because the settings say so (hidden ones, names matching an ignore pattern) are
counted everywhere but listed only with ``--all``: a person asked for them to be left out, and
a home folder holds thousands (``.git``, ``node_modules``), which would bury the few files of a
type Memex does not read. Links leading out of a folder are not here: ``memex status`` lists
them with the files that could not be read, so each file is counted once.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping

from ..types import FileError
from .output import files, safe, say, say_lines, to_json

ON_PURPOSE = ("hidden", "ignored")  # as store.skipped.ON_PURPOSE (the store loads only when used)
# How each reason reads after a count ("3 not a supported type"), one and many, in the order shown.
PHRASES = {
    "unsupported": ("not a supported type", "not a supported type"),
    "not-a-file": ("not a regular file", "not regular files"),
    "unreadable-folder": ("folder that cannot be opened", "folders that cannot be opened"),
    "broken-link": ("broken link", "broken links"),
    "bad-name": ("name that cannot be read", "names that cannot be read"),
    "unreadable": ("cannot be read", "cannot be read"),
}
ON_PURPOSE_PHRASE = "hidden or ignored on purpose"


def add_skipped_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("skipped", parents=[common],
                       help="list the files indexing passed over without reading them, and why")
    p.add_argument("--all", action="store_true",
                   help="also hidden files and folders and names matching an ignore pattern")


def cmd_skipped(args: argparse.Namespace) -> int:
    from ..library import Library

    with Library.open(args.library, reranker=False) as lib:
        if lib.recovered is not None:
            say(f"memex: {lib.recovered.message}", err=True)
        counts = lib.skipped_counts()
        listed = lib.skipped_files(limit=max(1, sum(counts.values())), on_purpose=args.all)
    if args.json:
        print(to_json({"counts": counts, "skipped_files": [dataclasses.asdict(f) for f in listed]}))
        return 0
    say_lines(format_skipped(listed, counts, args.all))
    return 0


def format_skipped(listed: list[FileError], counts: Mapping[str, int], everything: bool) -> list[str]:
    """The listing: one line per entry (path and why, made safe), and a closing line for the
    entries skipped on purpose when they are not listed."""
    on_purpose = sum(counts.get(r, 0) for r in ON_PURPOSE)
    if not listed and not on_purpose:
        return ["Nothing was skipped: every file the last scans found was read "
                "(memex status lists the files that could not be read)."]
    lines = [f"{files(len(listed))} passed over without being read:"] if listed else []
    lines += [f"  {safe(f.path)}: {safe(f.message)}" for f in listed]
    if on_purpose and not everything:
        if listed:
            lines.append(f"{on_purpose:,} more {_were(on_purpose)} skipped on purpose (hidden, or matching an "
                         "ignore pattern): memex skipped --all lists them.")
        else:
            lines.append(f"Only what your settings leave out was skipped: {on_purpose:,} hidden or matching an "
                         "ignore pattern (memex skipped --all lists them).")
    return lines


def report_line(total: int, counts: Mapping[str, int] | None) -> str | None:
    """``memex index``'s closing line for ``total`` skipped entries, broken down by reason when
    ``counts`` (what the library keeps for the sources of the run) adds up to it; None when
    nothing was skipped."""
    if total <= 0:
        return None
    parts: list[str] = []
    if counts is not None and sum(counts.values()) == total:
        parts = [f"{counts[r]:,} {one if counts[r] == 1 else many}" for r, (one, many) in PHRASES.items()
                 if counts.get(r)]
        parts += [f"{n:,} {r}" for r, n in counts.items() if n and r not in PHRASES and r not in ON_PURPOSE]
        on_purpose = sum(counts.get(r, 0) for r in ON_PURPOSE)
        if on_purpose:
            parts.append(f"{on_purpose:,} {ON_PURPOSE_PHRASE}")
        only_on_purpose = on_purpose == total
    else:
        only_on_purpose = False
    command = "memex skipped --all" if only_on_purpose else "memex skipped"
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{files(total)} skipped{detail} — {command} lists them."


def _were(n: int) -> str:
    return "was" if n == 1 else "were"
