"""``memex eval --known-items QUERIES.tsv FOLDER``: the known-item figures, next to their targets,
and with ``-v`` every query's first page of results (what ranked where, and why it counts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..known_items import TARGETS, KnownItemReport, QueryOutcome, evaluate_known_items
from . import output
from .failures import UsageError
from .output import say, say_lines

_LABELS = {
    "success@1": "success@1",
    "success@5": "success@5",
    "mrr@10": "MRR@10",
    "typo_success@5": "typo success@5",
    "language_success@5": "language success@5",
    "known_success@5": "known-item success@5",
    "name_success@5": "file-name success@5",
    "nonsense_results": "results for nonsense",
    "near_empty_in_top5": "near-empty in top 5",
    "k_stability": "k-stability (k=10 vs 100)",
    "duplicate_results": "duplicates shown",
    "query_ms_p50": "query ms (median)",
}


def _value(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in ("nonsense_results", "duplicate_results"):
        return f"{value:.0f}"
    if name == "query_ms_p50":
        return f"{value:.0f}"
    return f"{value:.3f}"


def _target(name: str, value: float | None) -> str:
    if name not in TARGETS or name == "mrr@10" or value is None:
        return ""
    target, higher = TARGETS[name]
    met = value is not None and (value >= target if higher else value <= target)
    sign = "≥" if higher else "≤"
    return f"target {sign} {_value(name, target)}  {'met' if met else 'NOT MET'}"


def figure_lines(report: KnownItemReport) -> list[str]:
    lines = [f"{report.folder}: {report.documents} documents indexed in {report.index_seconds:.0f} s, "
             f"{len(report.queries)} queries"]
    lines += [f"skipped (expected files not in the folder): {s}" for s in report.skipped]
    for name, value in report.figures().items():
        lines.append(f"  {_LABELS[name]:<26} {_value(name, value):>7}   {_target(name, value)}".rstrip())
    return lines


def query_lines(outcome: QueryOutcome) -> list[str]:
    """One query: its verdict, then the shown results marked * right, ~ near-empty, R related."""
    if outcome.kind == "nonsense":
        verdict = "ok" if not outcome.shown else f"{len(outcome.shown)} results"
    else:
        verdict = f"rank {outcome.rank}" if outcome.rank else "MISSED"
    lines = [f"[{outcome.kind}] {outcome.query!r} (line {outcome.line}): {verdict}"
             + (f"; showing results for {outcome.showing_results_for!r}"
                if outcome.showing_results_for else "")
             + ("" if outcome.stable else "; top 10 differs at k=100")]
    if outcome.expected and not outcome.rank:
        lines.append(f"      expected: {' | '.join(outcome.expected)}")
    for i, path in enumerate(outcome.shown[:SHOWN_LINES]):
        marks = ("*" if outcome.right[i] else " ") + ("~" if outcome.near_empty[i] else " ") \
            + ("R" if outcome.related[i] else " ")
        lines.append(f"  {i + 1:>2} {marks} {path}")
    return lines


SHOWN_LINES = 5


def scored_mode(args: argparse.Namespace) -> str:
    """The one search mode to score; the BEIR-only options are refused, not ignored."""
    unused = [name for name, given in (("--fusion", args.fusion), ("--lexical-weight", args.lexical_weight),
                                       ("--per-query", args.per_query)) if given not in (None, False)]
    if unused:
        raise UsageError(f"{', '.join(unused)}: for BEIR collections only; --known-items scores what "
                         "the window shows (-v lists each query's results).")
    modes = args.mode or ["hybrid"]
    if len(modes) > 1 or modes[0] == "rerank":
        raise UsageError("--known-items scores one mode: bm25, dense or hybrid (hybrid reranks when a "
                         "reranker is set, as the window does).")
    return str(modes[0])


def cmd_known_items(args: argparse.Namespace) -> int:
    mode = scored_mode(args)
    report = evaluate_known_items(
        Path(args.known_items), Path(args.dir),
        library_path=Path(args.library) if args.library else None,
        embedder=args.embedder, reranker=args.reranker, mode=mode,
        progress=None if args.json else (lambda msg: say(msg, err=True)))
    if args.json:
        print(output.to_json(report.as_dict(per_query=True)))
        return 0
    if args.verbose:
        for outcome in report.queries:
            say_lines(query_lines(outcome))
        say("marks: * the expected file (or the same content)  ~ near-empty  R related (meaning only)")
        say()
    say_lines(figure_lines(report))
    return 0
