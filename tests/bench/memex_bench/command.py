"""``memex bench SUITE``: the benchmarks as a command of ``memex``, added through the
``memex.commands`` entry point of this distribution (memex-bench; see core/cli/plugins.py).

Only argparse is imported here; a suite's code loads when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from memex.core.cli import output
from memex.core.cli.argument_types import whole_number
from memex.core.cli.output import safe, say, say_lines

SUITES = ["embed", "rerank", "indexing", "latency", "robustness", "ocr", "window", "all"]


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"give library sizes as whole numbers, e.g. 100000,1000000, not {safe(text)}")
    return sizes


_rounds = whole_number("give a whole number of rounds, 1 or more, not {text}")
_pages = whole_number("give a whole number of pages, 1 or more, not {text}")


class BenchCommand:
    help = "speed and memory benchmarks, each against a baseline"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("suite", choices=SUITES, help="what to measure (see the README, Benchmarks)")
        parser.add_argument("--workdir", metavar="DIR",
                            help="where latency, indexing, robustness and ocr build their libraries "
                                 "(default: bench/SUITE in Memex's cache folder, kept between runs)")
        parser.add_argument("--reranker", metavar="MODEL", help="reranker for the rerank benchmark")
        parser.add_argument("--sizes", type=_sizes, default=[100000, 1000000],
                            help="latency: library sizes in chunks")
        parser.add_argument("--rounds", type=_rounds,
                            help="robustness: kill -9 rounds (200); ocr: indexing runs with OCR on and off, each (3)")
        parser.add_argument("--pages", type=_pages, default=12, help="ocr: test pages each engine reads (12)")
        parser.add_argument("--folder", metavar="DIR",
                            help="indexing, ocr, window: a real mixed folder to index (beside Recoll) "
                                 "(default: /tmp/realfolder, built by tests/realfolder/build_folder.py)")

    def run(self, args: argparse.Namespace) -> int:
        from . import suites
        from .table import format_rows

        workdir = Path(args.workdir) if args.workdir else None
        names = suites.ORDER if args.suite == "all" else [args.suite]
        rows = []
        for name in names:
            if not args.json:
                say(f"running {name}…", err=True)
            rows += suites.run(name, workdir=workdir, reranker=args.reranker,
                               sizes=args.sizes, rounds=args.rounds, pages=args.pages,
                               folder=Path(args.folder).resolve() if args.folder else None)
        if args.json:
            print(output.to_json([r.as_dict() for r in rows]))
        elif rows:  # the robustness suite prints its own table
            say_lines(format_rows(rows).split("\n"))
        return 0


command = BenchCommand()
