"""Promise: the command line never writes a control byte it did not mean.

A folder (itself named with an OSC title sequence) holds files whose names and text carry ESC
sequences (CSI clear-screen and colours, OSC 52 clipboard writes, OSC 0 titles, hidden text),
C1 controls written as characters, bidi overrides and isolates, zero-width and tag characters,
DEL, BEL, tabs, and a newline that would forge a result line. Real ``memex`` processes index
it and search, show the status, remove a file and fail on a missing one, once with pipes and
once on a pseudo-terminal (colour and the progress line on). Every byte written is counted
against what Memex means: its own bold/reset (colour on), ``\\r\\033[K`` before the progress
line and line ends. ``--json`` must give back the very names on disk.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .robustness import _row

PART = "promise: terminal"
WORD = "zanzibar"
PAYLOADS = (
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # OSC 52: write the clipboard
    "\x1b]0;pwned title\x07",  # OSC 0: retitle the terminal
    "\x1b[2J\x1b[H",  # CSI: clear the screen, cursor home
    "\x1b[8mhidden\x1b[0m",  # concealed text
    "\x1b[1mbold\x1b[0m",  # Memex's own highlight bytes, forged
    "\u009b31m",  # C1 CSI as a character
    "\u202eexe.txt",  # right-to-left override
    "\u2066iso\u2069",  # isolates
    "zero\u200bwidth\ufeff",
    "\U000e0041\U000e0042",  # tag characters (invisible text)
    "del\x7f bell\x07 back\x08",
)
NAMES = (
    "osc52-\x1b]52;c;ZXZpbA==\x07.txt",
    "title-\x1b]0;owned\x07.md",
    "csi-\x1b[2J\x1b[31mred.txt",
    "forged-\n 2. fake-result.txt",
    "c1-\u009b31m-\u0085nel.txt",
    "bidi-\u202eexe.txt",
    "isolate-\u2066x\u2069.txt",
    "del-\x7f-bell-\x07.txt",
    "tab\tname.txt",
    "zero\u200bwidth.txt",
    "tags-\U000e0041.txt",
    "bold-\x1b[1mfake\x1b[0m.txt",
    "plain.txt",
)
FOLDER = "docs-\x1b]0;folder title\x07"

# Characters a terminal acts on or that hide/reorder text: none may reach the screen unescaped.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u180e\u200b\u2028\u2029\u202a-\u202e\u2060-\u2064"
                       "\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")
MEANT = ("\r\033[K", "\033[1m", "\033[0m", "\r\n", "\n")


def build_corpus(root: Path) -> Path:
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(NAMES):
        text = f"{WORD} note {i}: " + " ".join(PAYLOADS) + f" {WORD} again.\n"
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def unmeant(text: str) -> int:
    """How many characters of ``text`` Memex did not mean to send to the terminal."""
    for sequence in MEANT:
        text = text.replace(sequence, "")
    return len(FORBIDDEN.findall(text))


def _run(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "memex.core", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def run_on_pty(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> tuple[int, str]:
    """Run ``memex ARGS`` with stdout and stderr on a pseudo-terminal; all it wrote, decoded."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "memex.core", *args], cwd=cwd,
                                env={k: v for k, v in env.items() if k != "NO_COLOR"},
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child side is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
    return code, b"".join(chunks).decode("utf-8", "replace")


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None) -> list[dict]:
    say = progress or (lambda _msg: None)
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "terminal-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "MEMEX_HOME": str(home), "NO_COLOR": "1"}
    env.pop("MEMEX_DEBUG", None)
    folder = build_corpus(workdir)
    single = workdir / "single-\x1b]0;single title\x07\u202e.txt"  # a source of its own, removed below
    single.write_text(f"{WORD} " + " ".join(PAYLOADS), encoding="utf-8")
    library = str(home / "library.db")
    base = ["--library", library]
    missing = str(folder / "gone-\x1b]52;c;Z29uZQ==\x07.txt")

    say("terminal: indexing and searching through pipes")
    outputs: list[tuple[str, str]] = []
    piped = [["index", str(folder), str(single), *base], ["search", WORD, "--mode", "bm25", "--k", "50", *base],
             ["search", WORD, "--k", "50", *base], ["status", *base], ["doctor", *base],
             ["remove", str(single), *base], ["remove", missing, *base], ["remove", str(folder / NAMES[0]), *base],
             ["search", WORD, "--folder", str(folder), "--type", "bogus\x1b[2J", *base]]
    for i, args in enumerate(piped, start=1):
        code, out, err = _run(args, env, workdir)
        outputs.append((f"{i}:{args[0]}", out + err))  # labels hold no names: they are printed
    say("terminal: the same on a pseudo-terminal (colour, progress line)")
    code, text = run_on_pty(["index", str(folder), *base], env, workdir)
    outputs.append(("index (pty)", text))
    for args in (["search", WORD, "--mode", "bm25", "--k", "50", *base], ["status", *base]):
        code, text = run_on_pty(args, env, workdir)
        outputs.append((f"{args[0]} (pty)", text))
    bad = {label: unmeant(text) for label, text in outputs}
    total = sum(bad.values())
    worst = ", ".join(f"{label}: {n}" for label, n in bad.items() if n) or "none"

    say("terminal: --json")
    _, out, _ = _run(["search", WORD, "--mode", "bm25", "--k", "50", "--json", *base], env, workdir)
    try:
        found = {Path(h["path"]).name for h in json.loads(out)}
    except ValueError:
        found = set()
    _, out, _ = _run(["status", "--json", *base], env, workdir)
    try:
        sources = {s["path"] for s in json.loads(out)["sources"]}
    except (ValueError, KeyError, TypeError):
        sources = set()
    on_disk = {p.name for p in folder.iterdir()}
    exact = found == on_disk and sources == {str(folder)}
    lines = sum(len(text.splitlines()) for _, text in outputs)
    return [
        _row(PART, "control bytes in human output", total, "0", total == 0,
             f"{len(outputs)} runs (pipes and a pty), {lines} lines, {len(NAMES)} hostile names; unmeant: {worst}"),
        _row(PART, "--json exact", "yes" if exact else "no", "yes", exact,
             f"{len(found & on_disk)}/{len(on_disk)} file names and the folder name round-trip byte for byte"),
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in measure(Path(tmp), progress=lambda m: print(m, file=sys.stderr)):
            print(row)
