"""``memex``: the command line over the same Library the window uses."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config
from ..display_text import UNSAFE
from ..errors import MemexError
from ..types import FileError, IndexProgress, IndexReport, SearchFilters
from . import output, via_service
from .arguments import build_parser
from .failures import UsageError, describe, undecodable_argument
from .filters import parse_date, resolve_kinds
from .mcp_command import cmd_mcp
from .models import cmd_models
from .output import say, say_lines
from .plugins import plugin_run
from .quick import quiet_stdout
from .serve import cmd_serve
from .skipped import cmd_skipped, report_line

if TYPE_CHECKING:
    from ..library import Library

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a reader that stopped early


def _open(args: argparse.Namespace, rerank: bool = True):
    from ..library import Library

    reranker = getattr(args, "reranker", None)
    lib = Library.open(args.library, embedder=getattr(args, "embedder", None),
                       reranker=reranker if rerank else False)
    if lib.recovered is not None:  # a damaged library was set aside: say so, once
        say(f"memex: {lib.recovered.message}", err=True)
    return lib


def cmd_index(args: argparse.Namespace) -> int:
    """On a terminal, progress is one updating line; elsewhere (a pipe, ``nohup``'s log) it is
    a plain line at each phase and every few seconds. ``--json`` keeps stderr quiet."""
    show = not args.json and sys.stderr.isatty()
    log = output.PlainProgress() if not args.json and not show else None

    def progress(p) -> None:
        if p.phase == "waiting":  # said once, whatever stderr is: the run is not stuck
            if show:
                output.clear_progress()
            say(_waiting_message(), err=True)
        elif show:
            output.progress_line(output.format_progress(p))
        elif log is not None:
            log(p)

    handed = via_service.index(args, args.paths, quiet=args.json)  # the running owner writes
    skipped_counts: dict[str, int] | None = None  # the breakdown, known when the library is open here
    if handed is not None:
        report, still_failed, failed_files = handed
        earlier = _earlier_of(failed_files, report) if not args.json else []
    else:
        with _open(args, rerank=False) as lib:
            if not args.json:  # a device asked for and not used (no CUDA, say) is said first
                for warning in getattr(lib.embedder, "warnings", ()):
                    say(f"Note: {warning}.", err=True)
            try:
                report = lib.index(args.paths or None, progress=progress)
            finally:
                if show:
                    output.clear_progress()
            still_failed = lib.status().failed  # the whole library's, not only this run's
            if report.files_skipped and not args.json:
                skipped_counts = lib.skipped_counts(args.paths)
            earlier = _earlier_failures(lib, report, still_failed) if not args.json else []
    if args.json:
        print(output.to_json({**output.dataclasses.asdict(report), "failed_in_library": still_failed}))
        return 0
    say_lines(output.format_report(report))
    skipped_line = report_line(report.files_skipped, skipped_counts)
    if skipped_line:
        say(skipped_line)
    if still_failed:
        say(output.failed_in_library_line(still_failed))
        say_lines(output.format_failures(earlier, max(still_failed - len(report.errors), len(earlier))))
    return 0


def _earlier_failures(lib: Library, report: IndexReport, still_failed: int) -> list[FileError]:
    """Failed files this run did not report (they failed before and are unchanged), as many as
    fit beside this run's own under ``output.FAILED_SHOWN``."""
    room = output.FAILED_SHOWN - len(report.errors)
    if room <= 0 or still_failed <= len(report.errors):
        return []
    return _earlier_of(lib.failures(limit=still_failed), report)


def _earlier_of(failures: list[FileError], report: IndexReport) -> list[FileError]:
    room = output.FAILED_SHOWN - len(report.errors)
    if room <= 0:
        return []
    this_run = {err.path for err in report.errors}
    return [err for err in failures if err.path not in this_run][:room]


def _waiting_message() -> str:
    from ..store.writer_lock import WAITING_MESSAGE  # the store (SQLite) loads only when it is used

    return WAITING_MESSAGE


def search_words(query: str) -> str:
    """The query with control and invisible format characters turned into spaces; refused
    when nothing is left to search for."""
    words = UNSAFE.sub(" ", query).strip()
    if not words:
        raise UsageError("The query is empty: type the words to search for, e.g. memex search \"tax return\".")
    return words


def cmd_search(args: argparse.Namespace) -> int:
    query = search_words(args.query)
    after, before = parse_date(args.after, "--after"), parse_date(args.before, "--before")
    if after is not None and before is not None and after >= before:
        raise UsageError("--after must be an earlier date than --before: no document can be modified "
                         "on or after the one and before the other.")
    filters = SearchFilters(
        folder=str(Path(args.folder).expanduser().resolve()) if args.folder else None,
        kinds=resolve_kinds(args.kinds), modified_after=after, modified_before=before)
    results = via_service.find(args, query, filters, rerank=not args.no_rerank)
    if results is None:  # no service owns the library: open it here
        with _open(args, rerank=not args.no_rerank) as lib:
            results = lib.find(query, k=args.k, filters=filters, mode=args.mode,
                               rerank=not args.no_rerank)
    hits = list(results.hits)
    if args.json:
        print(output.to_json([output.hit_dict(i, h, results.showing_results_for)
                              for i, h in enumerate(hits, start=1)]))
    else:
        color = output.use_color()
        say_lines(output.format_results(results, color), styled=color)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Totals, sources, and the files that could not be read: the first ``FAILED_SHOWN``, or
    all with ``--failed`` (``--json`` always lists all in ``failed_files``)."""
    every = args.json or args.failed
    served = via_service.status(args, every)
    if served is not None:
        status, sources, failures = served
    else:
        with _open(args, rerank=False) as lib:
            status, sources, failures = via_service.local_status(lib, every)
    if args.json:
        print(output.to_json({**output.dataclasses.asdict(status), "sources": sources,
                              "failed_files": failures}))
        return 0
    say_lines(output.format_status(status))
    for s in sources:
        say(f"  {s.kind:<6} {s.path}: {s.documents} documents, {s.chunks} chunks, {s.errors} errors")
    if status.failed:
        say(f"Could not be read ({output.files(status.failed)}):")
        say_lines(output.format_failures(failures, status.failed))
    return 0


def _say_when_waiting(progress: IndexProgress) -> None:
    if progress.phase == "waiting":  # another writer holds the library: the run is not stuck
        say(_waiting_message(), err=True)


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args, rerank=False) as lib:
        removed = lib.remove(args.path, progress=_say_when_waiting).removed
    if args.json:
        print(output.to_json({"removed": removed}))
    else:
        say(f"Removed {args.path} ({removed} documents forgotten; files on disk untouched).")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    with _open(args) as lib:
        checks = lib.doctor()
    if args.json:
        print(output.to_json(checks))
    else:
        for c in checks:
            say(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<12} {c.detail}")
    return 0 if all(c.ok for c in checks) else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from ..evaluation import evaluate

    if args.known_items:
        from .known_items import cmd_known_items

        return cmd_known_items(args)
    modes = args.mode or ["hybrid"]
    report = None if args.json else (lambda msg: say(msg, err=True))
    options = {k: v for k, v in (("fusion", args.fusion), ("lexical_weight", args.lexical_weight))
               if v is not None}
    results = evaluate(Path(args.dir), modes, library_path=Path(args.library) if args.library else None,
                       reranker=args.reranker, embedder=args.embedder, progress=report,
                       search_options=options)
    if args.json:
        slim = {m: {k: v for k, v in r.items() if k != "per_query" or args.per_query}
                for m, r in results.items()}
        print(output.to_json(slim[modes[0]] if len(modes) == 1 else slim))
        return 0
    if args.per_query:
        say(f"{'query':<12} " + " ".join(f"{m:>10}" for m in results))
        first = next(iter(results.values()))
        for qid in first["per_query"]:
            say(f"{qid:<12} " + " ".join(f"{r['per_query'][qid]['ndcg@10']:>10.4f}"
                                        for r in results.values()))
        say()
    say(f"{'mode':<8} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'queries':>8} "
        f"{'index s':>8} {'p50 ms':>7} {'p95 ms':>7}")
    for m, r in results.items():
        say(f"{m:<8} {r['ndcg@10']:>8.4f} {r['recall@100']:>7.4f} {r['mrr@10']:>7.4f} "
            f"{r['queries']:>8} {r['index_seconds']:>8.1f} {r['query_ms_p50']:>7.1f} "
            f"{r['query_ms_p95']:>7.1f}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from memex.desktop.app import main as gui_main
    except ImportError as exc:
        raise MemexError(f"The desktop window is not available ({exc}). "
                         "Install it with: pip install 'memex-desktop[gui]'") from exc
    forwarded = [*args.paths, *(["--library", args.library] if args.library else []),
                 *(["--minimized"] if args.minimized else [])]
    return int(gui_main(forwarded) or 0)


COMMANDS = {"index": cmd_index, "search": cmd_search, "status": cmd_status, "remove": cmd_remove,
            "doctor": cmd_doctor, "eval": cmd_eval, "gui": cmd_gui, "serve": cmd_serve,
            "mcp": cmd_mcp, "skipped": cmd_skipped,
            "models": cmd_models}


def _library_path(args: argparse.Namespace) -> Path | None:
    """The library file the command works on, for messages (None when it cannot be told)."""
    try:
        chosen = getattr(args, "library", None) or config.Settings.load().library
        return Path(chosen).expanduser() if chosen else config.default_library_path()
    except Exception:  # noqa: BLE001 - only used to word a message
        return None


def _tolerant_streams() -> None:
    """Text that the terminal's encoding cannot show is written escaped, never an error."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


class _SafeLogLines(logging.Handler):
    """Warnings logged by the library reach stderr as safe ``memex: …`` lines (Python's
    fallback handler would print them raw, file names and all)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            say(f"memex: {text}", err=True)
        except Exception:  # noqa: BLE001 - logging must never end the command
            self.handleError(record)


def _safe_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = _SafeLogLines(logging.WARNING)
        root.addHandler(handler)


def _may_name_plugin(argv: Sequence[str]) -> bool:
    """False when the command is plainly a built-in one (its name first): plugins are then not
    looked for. Anything else (help, an option first, another word) looks for them."""
    return not argv or argv[0] not in COMMANDS


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_streams()
    _safe_logging()
    parser = build_parser(plugins=_may_name_plugin(sys.argv[1:] if argv is None else argv))
    return run_parsed(parser, parser.parse_args(argv))


def run_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command ``args`` names (parsed by ``parser``); its exit status. Every failure is
    a ``memex: …`` line on stderr. The resident service runs this too, for the quick client."""
    try:
        problem = undecodable_argument(parser, args)
        if problem:
            raise UsageError(problem)
        if args.command != "gui":  # the window shows them itself
            for warning in config.Settings.load_checked()[1]:
                say(f"memex: warning: {warning}", err=True)
        run = plugin_run(args) or COMMANDS[args.command]
        code = run(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        quiet_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        say(f"memex: {exc}", err=True)
        return 2
    except MemexError as exc:
        say(f"memex: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        say("memex: interrupted", err=True)
        return 130
    except Exception as exc:
        sentence = describe(exc, _library_path(args))
        if sentence is not None:
            say(f"memex: {sentence}", err=True)
            return 1
        if os.environ.get("MEMEX_DEBUG"):
            raise
        say(f"memex: unexpected error: {type(exc).__name__}: {exc} (set MEMEX_DEBUG=1 for details)", err=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
