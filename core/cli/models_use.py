"""``memex models use NAME``: switch a library to another embedding model.

It prints what the switch costs (measured on the library's own passages), asks before it
starts, and shows a progress bar on stderr. Ctrl-C stops after the current batch: the old
index stays as it was and searchable, and running the command again carries on."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any

from ..errors import MemexError
from ..humanize import duration
from . import output
from .output import say, say_lines

if TYPE_CHECKING:
    from ..models.switch import SwitchEstimate, SwitchProgress, SwitchResult

BAR_WIDTH = 28


def add_use_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``use`` (``--library``/``--json`` only where the parser lacks them)."""
    parser.add_argument("name", metavar="MODEL",
                        help="embedder: catalogue name, model folder, or 'default'")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask before switching")
    if "--library" not in parser._option_string_actions:
        parser.add_argument("--library", metavar="PATH", help="library file (default: your user library)")
    if "--json" not in parser._option_string_actions:
        parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_use(args: argparse.Namespace) -> int:
    """0: switched (or already in use); 1: refused or failed; 130: cancelled (resumable)."""
    from ..library import Library

    try:
        with Library.open(args.library, reranker=False) as lib:
            estimate = lib.estimate_embedder_switch(args.name)
            if not args.json:
                say_lines(describe_estimate(estimate), err=True)
            if estimate.needed and estimate.chunks_to_embed and not args.yes and not _confirm():
                return 1
            result = _run_switch(lib, args.name, show=not args.json and sys.stderr.isatty())
    except MemexError as exc:
        say(f"memex: {exc}", err=True)
        return 1
    if args.json:
        print(output.to_json({"estimate": estimate, "result": result}))
    else:
        say(describe_result(result))
    return 130 if result.cancelled else 0


def _confirm() -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        say("memex: not switching without confirmation; add --yes to switch from a script.", err=True)
        return False
    try:
        answer = input("Switch now? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


def _run_switch(lib: Any, name: str, show: bool) -> SwitchResult:
    """Switch on a worker thread, so Ctrl-C here only asks it to stop between batches."""
    cancel, finished = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def progress(p: SwitchProgress) -> None:
        if show:
            output.progress_line(format_progress(p))

    def work() -> None:
        try:
            outcome["result"] = lib.switch_embedder(name, progress=progress, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, name="memex-switch", daemon=True).start()
    while not finished.is_set():
        try:  # an Event, not Thread.join: an interrupted join may report a live thread as ended
            finished.wait(0.2)
        except KeyboardInterrupt:
            cancel.set()
            if show:
                output.clear_progress()
            say("Stopping after the current batch…", err=True)
    if show:
        output.clear_progress()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def describe_estimate(e: SwitchEstimate) -> list[str]:
    """What the switch costs, as lines (print them with ``say_lines``)."""
    if not e.needed:
        return [f"This library already uses {e.model_id}."]
    head = f"Switching from {e.current_model_id or 'no model yet'} to {e.model_id} ({e.dim} dimensions)."
    if e.chunks_to_embed == 0:
        return [head + " Nothing is embedded yet, so there is nothing to redo."]
    lines = [head]
    resumed = f" ({e.chunks_done:,} already done)" if e.chunks_done else ""
    lines.append(f"{e.chunks_to_embed:,} of {e.chunks_total:,} passages to embed{resumed}.")
    if e.chunks_per_s > 0:
        lines.append(f"Measured {e.chunks_per_s:.1f} passages/s on {e.sample} of them: "
                     f"about {duration(e.seconds)}.")
    if e.discards_pending:
        lines.append(f"The unfinished switch to {e.discards_pending} will be discarded.")
    lines.append("Search keeps using the current model until the switch completes.")
    return lines


def format_progress(p: SwitchProgress) -> str:
    share = p.done / p.total if p.total else 1.0
    filled = int(round(BAR_WIDTH * share))
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    bits = [f"[{bar}] {share:4.0%}", f"{p.done:,}/{p.total:,} passages"]
    if p.phase == "paused":
        bits.append("paused")
    elif p.phase == "swapping":
        bits.append("switching over")
    elif p.chunks_per_s > 0:
        bits.append(f"{p.chunks_per_s:.1f}/s")
        left = p.seconds_left
        if left is not None:
            bits.append(f"about {duration(left)} left")
    return "  ".join(bits)[:120]


def describe_result(r: SwitchResult) -> str:
    if r.cancelled:
        return (f"Cancelled: the library still uses {r.previous_model_id}, and search works as before. "
                f"{r.done:,} of {r.total:,} passages are ready; run the same command again to continue.")
    if r.already_active:
        text = f"The library already uses {r.model_id}."
    elif r.previous_model_id is None:
        text = f"The library now uses {r.model_id}; its passages are embedded as they are indexed."
    else:
        text = (f"Switched to {r.model_id}: {r.embedded:,} passages embedded in {duration(r.seconds)}"
                f" ({r.total:,} in all).")
    if r.discarded_pending:
        text += f" The unfinished switch to {r.discarded_pending} was discarded."
    if not r.settings_saved:
        text += " The settings file could not be written: set the embedder to this model yourself."
    return text
