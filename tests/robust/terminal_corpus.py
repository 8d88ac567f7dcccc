"""Hostile file names and text for the terminal tests, and a pseudo-terminal runner.

(The bench row ``memex.core.bench.promise_terminal`` builds the same corpus; the tests keep
their own copy so that they also run against older code that lacks the bench.)"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

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

def build_corpus(root: Path) -> Path:
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(NAMES):
        text = f"{WORD} note {i}: " + " ".join(PAYLOADS) + f" {WORD} again.\n"
        (folder / name).write_text(text, encoding="utf-8")
    return folder


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
