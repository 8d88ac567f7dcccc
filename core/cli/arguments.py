"""The ``memex`` command line's arguments: every built-in command, its options and their
checks (the commands themselves run in ``main``)."""

from __future__ import annotations

import argparse
from typing import NoReturn

from . import output
from .argument_types import whole_number
from .filters import DATE_FORMAT
from .helptext import VersionAction, developer_commands
from .mcp_command import add_mcp_parser
from .models import add_models_parser
from .output import safe
from .plugins import add_plugin_commands
from .serve import add_serve_parser
from .skipped import add_skipped_parser

MAX_K = 1000  # documents one search may return


class Parser(argparse.ArgumentParser):
    """argparse whose error line shows the offending text safely (it echoes arguments as typed)."""

    def error(self, message: str) -> NoReturn:
        super().error(safe(message))


_count = whole_number(f"give a whole number from 1 to {MAX_K}, not {{text}}", 1, MAX_K)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"give a number from 0 to 1, not {safe(text)}")
    return value


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``plugins=False`` leaves out installed plugin commands (finding
    them reads every installed distribution's metadata: only worth it when one may be run)."""
    scripted = Parser(add_help=False)  # for commands that do not touch a library
    scripted.add_argument("--json", action="store_true", help="machine-readable output")
    common = Parser(add_help=False)
    common.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    models = Parser(add_help=False)
    models.add_argument("--embedder", metavar="MODEL", help="embedder name or model folder")
    models.add_argument("--reranker", metavar="MODEL", help="reranker model folder (model.onnx + tokenizer.json)")

    parser = Parser(prog="memex", description="Find anything you have read.",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=VersionAction)
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", parents=[common, models], help="index files and folders (and keep them as sources)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; none: refresh every source")

    p = sub.add_parser("search", parents=[common, models], help="search the library")
    p.add_argument("query", help='the words to search for (quote several: "tax return")')
    p.add_argument("--k", type=_count, default=10, help=f"number of documents, 1 to {MAX_K} (default 10)")
    p.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid",
                   help="hybrid: words and meaning (default); bm25: the words only; dense: the meaning only")
    p.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder")
    p.add_argument("--folder", help="only documents inside this folder")
    p.add_argument("--type", dest="kinds", action="append", default=[], metavar="KIND",
                   help="only this file type, in any case: pdf, text (txt), markdown (md), html (htm), "
                        "docx (word), code, … or a file extension; repeatable")
    p.add_argument("--after", metavar=DATE_FORMAT,
                   help=f"modified on or after this date ({DATE_FORMAT}, local time)")
    p.add_argument("--before", metavar=DATE_FORMAT, help=f"modified before this date ({DATE_FORMAT}, local time)")

    p = sub.add_parser("status", parents=[common], help="what the library holds, and the files it could not read")
    p.add_argument("--failed", action="store_true",
                   help=f"list every file that could not be read (default: the first {output.FAILED_SHOWN})")
    p = sub.add_parser("remove", parents=[common], help="forget a source folder or file (files on disk are untouched)")
    p.add_argument("path", help="a folder or file given to memex index before")
    add_skipped_parser(sub, common)
    sub.add_parser("doctor", parents=[common, models], help="check the installation and the library")
    add_serve_parser(sub, common)
    add_mcp_parser(sub)

    # developer commands: no help= keeps them out of the user commands; listed apart below
    p = sub.add_parser("eval", parents=[common, models],
                       description="evaluate retrieval on a BEIR collection, or on a folder of real "
                                   "files with --known-items")
    p.add_argument("dir", metavar="DIR", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv; "
                                              "with --known-items: the folder of files to search")
    p.add_argument("--known-items", metavar="QUERIES.tsv",
                   help="known-item queries (query, kind, expected files) to run against DIR")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="--known-items: print each query's first results")
    p.add_argument("--mode", action="append", choices=["bm25", "dense", "hybrid", "rerank"],
                   help="mode to score (repeatable; default hybrid)")
    p.add_argument("--fusion", choices=["convex", "rrf"], help="how hybrid fuses the two rankings")
    p.add_argument("--lexical-weight", type=_share, metavar="W", help="hybrid: BM25 share, 0..1")
    p.add_argument("--per-query", action="store_true", help="also print each query's figures")

    add_models_parser(sub, common, scripted)

    p = sub.add_parser("gui", help="open the Memex window")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to index and watch")
    p.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    p.add_argument("--minimized", action="store_true", help="start in the tray (or minimised)")

    added = add_plugin_commands(sub, [common], Parser) if plugins else []  # e.g. `memex bench` (tests/bench)
    parser.epilog = developer_commands(sub, ["eval", *added])
    return parser
