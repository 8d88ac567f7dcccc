"""Human output never carries a control byte Memex did not mean; --json stays exact.

File names and document text full of ESC/OSC/CSI sequences, C1 controls, bidi overrides,
invisible characters and a newline go through real ``memex`` processes, on pipes and on a
pseudo-terminal (colour and the progress line on)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.cli import output
from memex.core.types import ChunkHit, FileError, Highlight, Hit, IndexProgress, IndexReport
from memex_bench.promise_terminal import NAMES, WORD, build_corpus, run_on_pty

ESC = "\x1b"
# Everything a terminal obeys or that hides/reorders text, written out here on its own (not
# taken from the code under test): C0, DEL, C1, bidi embeddings/overrides/isolates, zero-width
# and invisible operators, BOM, line/paragraph separators, tag characters.
OBEYED = re.compile("[\x00-\x1f\x7f-\x9f\u200b\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069"
                    "\ufeff\U000e0000-\U000e007f]")


def unmeant(text: str, *, terminal: bool) -> list[str]:
    """Characters in ``text`` that Memex did not mean: it means line ends, and on a terminal
    its bold/reset and the progress line's ``\\r ESC [K``."""
    meant = ["\n"] + (["\r\n", "\r\x1b[K", "\x1b[1m", "\x1b[0m"] if terminal else [])
    for sequence in sorted(meant, key=len, reverse=True):
        text = text.replace(sequence, "")
    return OBEYED.findall(text)


def memex(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MEMEX_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "memex.core", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", errors="surrogateescape", timeout=300)


def test_safe_shows_what_a_terminal_would_obey_and_keeps_real_text() -> None:
    assert output.safe("a\x1b]52;c;eA==\x07b") == "a\\x1b]52;c;eA==\\x07b"
    assert output.safe("one\ntwo\r\tthree") == "one\\ntwo\\r\\tthree"
    assert output.safe("\u009b31m \x7f \u202eexe \u2066x\u2069 z\u200bw \ufeff \U000e0041") == (
        "\\x9b31m \\x7f \\u202eexe \\u2066x\\u2069 z\\u200bw \\ufeff \\U000e0041")
    assert output.safe("bad\udcffbyte") == "bad\\xffbyte"  # an undecodable byte, shown as the byte
    assert output.safe("line\nbreak\tand tab", fold_space=True) == "line break and tab"
    real = "Zoë's café, 東京, עברית\u200f, 👩\u200d💻, Ελληνικά, C:\\Users\\me"
    assert output.safe(real) == real


def test_every_human_line_is_printed_safely(capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "a\x1b[2Jb\n 2. forged.txt"
    chunk = ChunkHit(1, 1, 0, 20, "x", f"{WORD} \x1b]0;title\x07 \x1b[1mfake\x1b[0m", (Highlight(0, len(WORD)),), 1.0)
    hits = [Hit(1, f"/docs/{hostile}", None, "text", 0.0, 1.0, (chunk,))]
    output.say_lines(output.format_hits(hits, color=True), styled=True)
    report = IndexReport(errors=(FileError(f"/docs/{hostile}", "x\x1b[31m", "bad\nline"),))
    output.say_lines(output.format_report(report))
    output.say(f"memex: {hostile}", err=True)
    out, err = capsys.readouterr()
    assert out.count("\x1b[1m") == 1 and out.count("\x1b[0m") == 1  # only the highlight of WORD
    assert out.splitlines()[1] == f"    \x1b[1m{WORD}\x1b[0m \\x1b]0;title\\x07 \\x1b[1mfake\\x1b[0m"
    assert len(out.splitlines()) == 4  # head, snippet, report summary, one skipped line: nothing forged
    assert "a\\x1b[2Jb\\n 2. forged.txt" in out
    assert err == "memex: a\\x1b[2Jb\\n 2. forged.txt\n"
    line = output.format_progress(IndexProgress("indexing", 3, 1, current=f"/docs/{hostile}"))
    assert not unmeant(line, terminal=False)


def test_index_search_status_remove_print_no_control_bytes(tmp_path: Path) -> None:
    folder = build_corpus(tmp_path)
    single = tmp_path / "single-\x1b]0;t\x07\u202e.txt"
    single.write_text(f"{WORD} \x1b]52;c;ZXZpbA==\x07", encoding="utf-8")
    runs = {
        "index": memex("index", str(folder), str(single), cwd=tmp_path),
        "search bm25": memex("search", WORD, "--mode", "bm25", "--k", "50", cwd=tmp_path),
        "search hybrid": memex("search", WORD, "--k", "50", cwd=tmp_path),
        "status": memex("status", cwd=tmp_path),
        "remove": memex("remove", str(single), cwd=tmp_path),
        "remove missing": memex("remove", str(folder / "gone\x1b[2J\n.txt"), cwd=tmp_path),
        "models list": memex("models", "list", cwd=tmp_path),
        "unknown argument": memex("status", "\x1b]52;c;eA==\x07", cwd=tmp_path),
    }
    for name, run in runs.items():
        assert not unmeant(run.stdout + run.stderr, terminal=False), name
        assert "unexpected" not in run.stderr and "Traceback" not in run.stderr, name
    assert runs["index"].returncode == 0 and f"{len(NAMES) + 1} added" in runs["index"].stdout
    lines = runs["search bm25"].stdout.splitlines()
    heads = [line for line in lines if re.match(r"^\s*\d+\. ", line)]
    assert len(heads) == len(NAMES) + 1  # the newline in a name forges no result line
    assert len(lines) == 3 * (len(NAMES) + 1) - 1
    assert "forged-\\n 2. fake-result.txt" in runs["search bm25"].stdout
    assert "\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in runs["search bm25"].stdout  # shown, not obeyed
    assert "\\x1b]0;folder title\\x07" in runs["status"].stdout
    assert runs["remove"].returncode == 0 and "\\u202e.txt" in runs["remove"].stdout
    assert runs["remove missing"].returncode == 1 and runs["remove missing"].stderr.count("\n") == 1

    raw = memex("search", WORD, "--mode", "bm25", "--k", "50", "--json", cwd=tmp_path).stdout
    assert not re.search("[\x00-\x09\x0b-\x1f]", raw)  # JSON escapes C0 itself (\u001b), even with ensure_ascii off
    found = json.loads(raw)
    assert sorted(Path(h["path"]).name for h in found) == sorted(NAMES)  # --json: the names as they are
    status = json.loads(memex("status", "--json", cwd=tmp_path).stdout)
    assert [s["path"] for s in status["sources"]] == [str(folder)]


def test_on_a_terminal_only_bold_and_the_progress_line_are_written(tmp_path: Path) -> None:
    folder = build_corpus(tmp_path)
    env = {**os.environ}
    code, indexed = run_on_pty(["index", str(folder)], env, tmp_path)
    assert code == 0 and "\r\x1b[K" in indexed  # the progress line was drawn
    assert not unmeant(indexed, terminal=True)
    code, shown = run_on_pty(["search", WORD, "--mode", "bm25", "--k", "50"], env, tmp_path)
    assert code == 0 and f"\x1b[1m{WORD}\x1b[0m" in shown  # colour on, and safe
    assert not unmeant(shown, terminal=True)
    assert shown.count("\x1b[1m") == shown.count("\x1b[0m") == 2 * len(NAMES)  # none forged by a name or text


def test_library_warnings_reach_stderr_as_safe_lines(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib
    import logging

    cli_main = importlib.import_module("memex.core.cli.main")
    record = logging.LogRecord("memex.core.models.derived", logging.WARNING, __file__, 1,
                               "The optimised %s in %s is damaged; rebuilding it",
                               ("model", "/m/\x1b]52;c;eA==\x07\nx"), None)
    cli_main._SafeLogLines().emit(record)
    said = capsys.readouterr().err
    assert said == "memex: The optimised model in /m/\\x1b]52;c;eA==\\x07\\nx is damaged; rebuilding it\n"
