"""``memex``: the command line over the same Library the window uses."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ..errors import MemexError
from ..types import SearchFilters
from . import output
from .models import add_models_parser, cmd_models


def _date(text: str) -> float:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (use YYYY-MM-DD): {text}") from exc


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    models = argparse.ArgumentParser(add_help=False)
    models.add_argument("--embedder", metavar="MODEL", help="embedder name or model folder")
    models.add_argument("--reranker", metavar="MODEL", help="reranker model folder (model.onnx + tokenizer.json)")

    parser = argparse.ArgumentParser(prog="memex", description="Find anything you have read.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", parents=[common, models], help="index files and folders (and keep them as sources)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; none: refresh every source")

    p = sub.add_parser("search", parents=[common, models], help="search the library")
    p.add_argument("query")
    p.add_argument("--k", type=int, default=10, help="number of documents (default 10)")
    p.add_argument("--mode", choices=["hybrid", "bm25", "dense"], default="hybrid")
    p.add_argument("--no-rerank", action="store_true", help="skip the cross-encoder")
    p.add_argument("--folder", help="only documents inside this folder")
    p.add_argument("--type", dest="kinds", action="append", default=[], metavar="KIND",
                   help="only this file type (pdf, text, markdown, docx…); repeatable")
    p.add_argument("--after", type=_date, help="modified on or after this date (YYYY-MM-DD)")
    p.add_argument("--before", type=_date, help="modified before this date (YYYY-MM-DD)")

    sub.add_parser("status", parents=[common], help="what the library holds")
    p = sub.add_parser("remove", parents=[common], help="forget a source folder or file (files on disk are untouched)")
    p.add_argument("path")
    sub.add_parser("doctor", parents=[common, models], help="check the installation and the library")

    p = sub.add_parser("eval", parents=[common, models], help="evaluate retrieval on a BEIR collection")
    p.add_argument("dir", metavar="DIR", help="folder with corpus.jsonl, queries.jsonl, qrels.tsv")
    p.add_argument("--mode", action="append", choices=["bm25", "dense", "hybrid", "rerank"],
                   help="mode to score (repeatable; default hybrid)")
    p.add_argument("--fusion", choices=["convex", "rrf"], help="how hybrid fuses the two rankings")
    p.add_argument("--lexical-weight", type=float, metavar="W", help="hybrid: BM25 share, 0..1")
    p.add_argument("--per-query", action="store_true", help="also print each query's figures")

    p = sub.add_parser("bench", parents=[common], help="speed and memory benchmarks, each against a baseline")
    p.add_argument("suite", choices=["embed", "rerank", "indexing", "latency", "robustness", "all"])
    p.add_argument("--workdir", metavar="DIR", help="where to build benchmark libraries (default: a temp dir)")
    p.add_argument("--reranker", metavar="MODEL", help="reranker for the rerank benchmark")
    p.add_argument("--sizes", default="100000,1000000", help="latency: library sizes in chunks")
    p.add_argument("--rounds", type=int, default=200, help="robustness: kill -9 rounds")

    add_models_parser(sub, common)

    p = sub.add_parser("gui", help="open the Memex window")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to index and watch")
    p.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    return parser


def _open(args: argparse.Namespace, rerank: bool = True):
    from ..library import Library

    reranker = getattr(args, "reranker", None)
    return Library.open(args.library, embedder=getattr(args, "embedder", None),
                        reranker=reranker if rerank else False)


def cmd_index(args: argparse.Namespace) -> int:
    show = not args.json and sys.stderr.isatty()

    def progress(p) -> None:
        if show:
            sys.stderr.write("\r\033[K" + output.format_progress(p))
            sys.stderr.flush()

    cancel = threading.Event()
    with _open(args, rerank=False) as lib:
        try:
            report = lib.index(args.paths or None, progress=progress, cancel=cancel)
        finally:
            if show:
                sys.stderr.write("\r\033[K")
    print(output.to_json(report) if args.json else output.format_report(report))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    filters = SearchFilters(
        folder=str(Path(args.folder).expanduser().resolve()) if args.folder else None,
        kinds=tuple(args.kinds), modified_after=args.after, modified_before=args.before)
    with _open(args, rerank=not args.no_rerank) as lib:
        hits = lib.search(args.query, k=args.k, filters=filters, mode=args.mode,
                          rerank=not args.no_rerank)
    if args.json:
        print(output.to_json([output.hit_dict(i, h) for i, h in enumerate(hits, start=1)]))
    else:
        print(output.format_hits(hits, output.use_color()))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args, rerank=False) as lib:
        status, sources = lib.status(), lib.sources()
    if args.json:
        print(output.to_json({**output.dataclasses.asdict(status), "sources": sources}))
    else:
        print(output.format_status(status))
        for s in sources:
            print(f"  {s.kind:<6} {s.path}: {s.documents} documents, {s.chunks} chunks, {s.errors} errors")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args, rerank=False) as lib:
        removed = lib.remove(args.path)
    print(output.to_json({"removed": removed}) if args.json
          else f"Removed {args.path} ({removed} documents forgotten; files on disk untouched).")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        checks = lib.doctor()
    if args.json:
        print(output.to_json(checks))
    else:
        for c in checks:
            print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<12} {c.detail}")
    return 0 if all(c.ok for c in checks) else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate

    modes = args.mode or ["hybrid"]
    say = None if args.json else (lambda msg: print(msg, file=sys.stderr))
    options = {k: v for k, v in (("fusion", args.fusion), ("lexical_weight", args.lexical_weight))
               if v is not None}
    results = evaluate(Path(args.dir), modes, library_path=Path(args.library) if args.library else None,
                       reranker=args.reranker, embedder=args.embedder, progress=say,
                       search_options=options)
    if args.json:
        slim = {m: {k: v for k, v in r.items() if k != "per_query" or args.per_query}
                for m, r in results.items()}
        print(output.to_json(slim[modes[0]] if len(modes) == 1 else slim))
        return 0
    if args.per_query:
        print(f"{'query':<12} " + " ".join(f"{m:>10}" for m in results))
        first = next(iter(results.values()))
        for qid in first["per_query"]:
            print(f"{qid:<12} " + " ".join(f"{r['per_query'][qid]['ndcg@10']:>10.4f}"
                                          for r in results.values()))
        print()
    print(f"{'mode':<8} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'queries':>8} "
          f"{'index s':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for m, r in results.items():
        print(f"{m:<8} {r['ndcg@10']:>8.4f} {r['recall@100']:>7.4f} {r['mrr@10']:>7.4f} "
              f"{r['queries']:>8} {r['index_seconds']:>8.1f} {r['query_ms_p50']:>7.1f} "
              f"{r['query_ms_p95']:>7.1f}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from memex.desktop.app import main as gui_main
    except ImportError as exc:
        raise MemexError(f"The desktop window is not available ({exc}). "
                         "Install it with: pip install 'memex-desktop[gui]'") from exc
    return int(gui_main([*args.paths, *(["--library", args.library] if args.library else [])]) or 0)


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import suites
    from ..bench.table import format_rows

    workdir = Path(args.workdir) if args.workdir else None
    names = suites.ORDER if args.suite == "all" else [args.suite]
    rows = []
    for name in names:
        if not args.json:
            print(f"running {name}…", file=sys.stderr)
        rows += suites.run(name, workdir=workdir, reranker=args.reranker,
                           sizes=[int(x) for x in args.sizes.split(",") if x.strip()], rounds=args.rounds)
    print(output.to_json([r.as_dict() for r in rows]) if args.json else format_rows(rows))
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "status": cmd_status, "remove": cmd_remove,
            "doctor": cmd_doctor, "eval": cmd_eval, "bench": cmd_bench, "gui": cmd_gui,
            "models": cmd_models}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except MemexError as exc:
        print(f"memex: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("memex: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("MEMEX_DEBUG"):
            raise
        print(f"memex: unexpected error: {type(exc).__name__}: {exc} (set MEMEX_DEBUG=1 for details)",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
