"""Switching a library's embedding model: searches keep working from the old space while the
new one fills, one transaction swaps them, cancelling and killing leave the old index intact,
and every restart resumes instead of starting over. Real models: the bundled int8 embedder
made the library; the fp32 folder is the new model (its id differs)."""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import apsw
import pytest
from memex.core.cli.models_use import add_use_arguments, run_use
from memex.core.config import Settings
from memex.core.errors import LibraryError, ModelError
from memex.core.library import Library
from memex.core.store import open_connection

TOPICS = {
    "rocket": "rocket engine thrust nozzle propellant combustion chamber turbopump oxidiser orbit launch",
    "bread": "sourdough bread dough starter flour knead oven crust yeast proof bake",
    "garden": "tomato garden soil compost mulch seedling watering harvest greenhouse pruning",
    "ocean": "ocean tide current reef coral salinity wave plankton whale deep sea",
    "music": "violin orchestra symphony melody harmony rhythm concert conductor score tempo",
    "chess": "chess opening gambit endgame bishop knight rook checkmate tournament pawn",
}
QUERIES = ["how do rocket engines produce thrust", "baking bread with a sourdough starter",
           "coral reefs and ocean currents", "a chess endgame with a rook"]


def _corpus(folder: Path, per_topic: int, words: int = 90, seed: int = 3) -> Path:
    """Small text files, one topic each (``words`` words ≈ one chunk per file)."""
    rnd = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for topic, vocab in TOPICS.items():
        terms = vocab.split()
        for i in range(per_topic):
            text = " ".join(rnd.choice(terms) for _ in range(words))
            (folder / f"{topic}-{i}.txt").write_text(f"Notes on {topic}. {text}.\n", encoding="utf-8")
    return folder


def _signature(lib: Library) -> list[list[tuple]]:
    """What dense search answers for QUERIES: documents, best chunks and their scores."""
    out = []
    for q in QUERIES:
        hits = lib.search(q, k=5, mode="dense", rerank=False)
        out.append([(Path(h.path).name, h.best.char_start, round(h.score, 5),
                     tuple(round(c.score, 5) for c in h.chunks)) for h in hits])
    return out


def _close(a: list[list[tuple]], b: list[list[tuple]], tol: float = 1e-4) -> bool:
    """Same documents and chunks in the same order, scores within ``tol`` (separately loaded
    copies of one model may differ in the last float bits)."""
    if [[h[:2] for h in hits] for hits in a] != [[h[:2] for h in hits] for hits in b]:
        return False
    return all(abs(x[2] - y[2]) <= tol and len(x[3]) == len(y[3])
               and all(abs(c - d) <= tol for c, d in zip(x[3], y[3], strict=True))
               for hits_a, hits_b in zip(a, b, strict=True) for x, y in zip(hits_a, hits_b, strict=True))


def _one(conn: apsw.Connection, sql: str, params: tuple = ()) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


def _spaces(db: Path) -> list[tuple[int, str, int]]:
    conn = open_connection(db)
    try:
        return [tuple(r) for r in conn.execute("SELECT id, model_id, active FROM vector_spaces ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def indexed(tmp_path, open_library):
    """A library of 12 one-chunk documents, indexed with the default embedder."""
    folder = _corpus(tmp_path / "docs", per_topic=2)
    lib = open_library("lib.db")
    report = lib.index([folder])
    assert report.embedded == report.chunks >= 12
    return lib, folder


def test_estimate_measures_the_new_model_on_the_librarys_chunks(indexed, fp32_embedder_dir):
    lib, _ = indexed
    chunks = lib.status().chunks
    est = lib.estimate_embedder_switch(str(fp32_embedder_dir))
    assert est.needed
    assert est.current_model_id == "all-MiniLM-L6-v2-int8"
    assert est.model_id.startswith("local:all-MiniLM-L6-v2:") and est.dim == 384
    assert est.chunks_total == est.chunks_to_embed == chunks and est.chunks_done == 0
    assert 0 < est.sample <= chunks and est.chunks_per_s > 0
    assert est.seconds == pytest.approx(chunks / est.chunks_per_s)
    assert lib.pending_embedder_switch() is None  # measuring changes nothing
    same = lib.estimate_embedder_switch(None)
    assert not same.needed and same.chunks_to_embed == 0


def test_bad_model_names_fail_clearly_and_change_nothing(indexed, tmp_path):
    lib, _ = indexed
    with pytest.raises(ModelError, match="No embedder named"):
        lib.estimate_embedder_switch("no-such-model")
    with pytest.raises(ModelError, match="not a usable model"):
        lib.switch_embedder(tmp_path)  # a folder without model files
    assert [m for _, m, _ in _spaces(lib.path)] == ["all-MiniLM-L6-v2-int8"]


@pytest.mark.slow
def test_searches_use_the_old_space_until_the_swap_then_the_new_model(indexed, fp32_embedder_dir, open_library,
                                                                      tmp_path):
    lib, folder = indexed
    before = _signature(lib)
    during: list[tuple[str | None, list]] = []

    def progress(p) -> None:
        if p.phase != "embedding":
            return
        seen: list = []
        reader = threading.Thread(target=lambda: seen.append((lib.status().embedder, _signature(lib))))
        reader.start()
        reader.join(60)
        during.append(seen[0])

    result = lib.switch_embedder(fp32_embedder_dir, progress=progress, batch_size=2)
    assert result.switched and not result.cancelled
    assert result.previous_model_id == "all-MiniLM-L6-v2-int8"
    assert len(during) >= 4  # several batches, each followed by a search from another thread
    assert all(model == "all-MiniLM-L6-v2-int8" and sig == before for model, sig in during)

    # One space now: the new model's, holding every chunk; the old tables and triggers are gone.
    (space_id, model_id, active), = _spaces(lib.path)
    assert model_id == result.model_id and active == 1
    conn = open_connection(lib.path)
    try:
        chunks = _one(conn, "SELECT count(*) FROM chunks")
        assert result.total == result.done == result.embedded == chunks
        assert _one(conn, f"SELECT count(*) FROM vec_chunks_{space_id}") == chunks
        assert _one(conn, f"SELECT count(*) FROM vec_i8_{space_id}") == chunks
        assert _one(conn, "SELECT count(*) FROM chunks WHERE embedded = 0") == 0
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not {"vec_chunks_1", "vec_chunks_1_ad", "vec_bits_1", "vec_bits_1_ad", "vec_i8_1"} & names
        assert not [n for n in names if n.startswith("vec_chunks_1_")]  # vec0's shadow tables
        assert _one(conn, "SELECT count(*) FROM vector_index_state WHERE space_id = 1") == 0
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    assert Settings.load().embedder == str(fp32_embedder_dir.resolve())
    assert lib.status().embedder == result.model_id

    # Dense search now answers exactly like a library built with the new model from the start.
    after = _signature(lib)
    reference = open_library("reference.db", embedder=str(fp32_embedder_dir))
    reference.index([folder])
    assert _close(after, _signature(reference))
    assert not _close(after, before, tol=1e-3)
    # Deleting chunks still works (no trigger points at a dropped table), and indexing embeds
    # new files with the new model.
    (folder / "bread-0.txt").unlink()
    (folder / "extra.txt").write_text("Violin concerto notes: the soloist and the orchestra.", encoding="utf-8")
    report = lib.index()
    assert report.removed == 1 and report.added == 1 and report.embedded == report.chunks


def test_cancel_keeps_the_old_index_and_a_new_call_resumes(indexed, fp32_embedder_dir):
    lib, folder = indexed
    before = _signature(lib)
    cancel = threading.Event()
    batches: list[int] = []

    def stop_after_two(p) -> None:
        if p.phase == "embedding":
            batches.append(p.done)
            if len(batches) == 2:
                cancel.set()

    first = lib.switch_embedder(fp32_embedder_dir, progress=stop_after_two, cancel=cancel, batch_size=3)
    assert first.cancelled and not first.switched and first.done == 6 == first.embedded
    assert lib.status().embedder == "all-MiniLM-L6-v2-int8"
    assert Settings.load().embedder is None and lib.settings.embedder is None
    assert _signature(lib) == before
    pending = lib.pending_embedder_switch()
    assert pending is not None and pending.model_id == first.model_id and pending.done == 6
    pending_id = [sid for sid, _, active in _spaces(lib.path) if not active][0]

    # A file indexed while the switch waits goes into the old space now and the new one later.
    (folder / "late.txt").write_text("Late notes on the harbour lighthouse and its foghorn keeper.",
                                     encoding="utf-8")
    report = lib.index([folder])
    assert report.added == 1 and report.embedded == report.chunks >= 1
    conn = open_connection(lib.path)
    late_ids = [r[0] for r in conn.execute(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.name = 'late.txt'")]
    assert _one(conn, f"SELECT count(*) FROM vec_i8_{pending_id} WHERE id IN ({','.join(map(str, late_ids))})") == 0
    total = _one(conn, "SELECT count(*) FROM chunks")
    conn.close()

    resumed_at: list[int] = []
    second = lib.switch_embedder(fp32_embedder_dir, batch_size=3,
                                 progress=lambda p: resumed_at.append(p.done) if p.phase == "embedding" else None)
    assert second.switched
    assert second.embedded == total - 6  # the six done before the cancel were not embedded again
    assert resumed_at[0] == 6 + 3
    (space_id, model_id, _), = _spaces(lib.path)
    assert space_id == pending_id  # the same space, filled up, not a new one
    conn = open_connection(lib.path)
    try:
        assert _one(conn, f"SELECT count(*) FROM vec_i8_{space_id}") == total
        assert _one(conn, f"SELECT count(*) FROM vec_i8_{space_id} WHERE id IN ({','.join(map(str, late_ids))})") \
            == len(late_ids)
    finally:
        conn.close()
    assert Path(lib.search("lighthouse foghorn keeper", k=1, mode="dense")[0].path).name == "late.txt"


def test_a_file_indexed_during_the_switch_ends_in_both_spaces(indexed, fp32_embedder_dir):
    lib, folder = indexed
    new_file = folder / "during.txt"
    seen: dict[str, int] = {}

    def index_midway(p) -> None:
        if p.phase != "embedding" or "old" in seen:
            return
        new_file.write_text("Notes written mid-switch about glacier ice cores and climate records.",
                            encoding="utf-8")
        assert lib.index().embedded >= 1
        conn = open_connection(lib.path)
        try:
            active = conn.execute("SELECT id FROM vector_spaces WHERE active = 1").fetchone()[0]
            seen["old"] = _one(conn, f"SELECT count(*) FROM vec_i8_{active} WHERE id IN (SELECT c.id FROM chunks c "
                                     "JOIN documents d ON d.id = c.document_id WHERE d.name = 'during.txt')")
        finally:
            conn.close()

    result = lib.switch_embedder(fp32_embedder_dir, progress=index_midway, batch_size=3)
    assert result.switched and seen["old"] >= 1
    (space_id, _, _), = _spaces(lib.path)
    conn = open_connection(lib.path)
    try:
        missing = _one(conn, f"SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                             f"(SELECT 1 FROM vec_i8_{space_id} v WHERE v.id = c.id)")
        assert missing == 0
    finally:
        conn.close()
    assert Path(lib.search("glacier ice cores", k=1, mode="dense")[0].path).name == "during.txt"


@pytest.mark.slow
def test_another_model_without_a_switch_never_re_embeds(indexed, fp32_embedder_dir, tmp_path):
    lib, folder = indexed
    before = _signature(lib)
    lib.close()
    # Named explicitly: indexing is refused with the clear message, searching uses the library's model.
    explicit = Library.open(lib.path, embedder=str(fp32_embedder_dir), reranker=False)
    try:
        with pytest.raises(LibraryError, match="vectors were made with the model 'all-MiniLM-L6-v2-int8'"):
            explicit.index()
        assert _close(_signature(explicit), before)
    finally:
        explicit.close()
    # Set in the settings (as after a switch made elsewhere): the library keeps its own model.
    settings = Settings(embedder=str(fp32_embedder_dir))
    configured = Library.open(lib.path, settings=settings, reranker=False)
    try:
        assert _close(_signature(configured), before)
        (folder / "more.txt").write_text("More notes on bread crust and oven spring.", encoding="utf-8")
        report = configured.index()
        assert report.added == 1 and report.embedded == report.chunks
        assert [m for _, m, _ in _spaces(lib.path)] == ["all-MiniLM-L6-v2-int8"]
        conn = open_connection(lib.path)
        try:  # the new file's vectors came from the library's model, into its only space
            assert _one(conn, "SELECT count(*) FROM vec_i8_1") == _one(conn, "SELECT count(*) FROM chunks")
        finally:
            conn.close()
    finally:
        configured.close()


def test_switching_to_the_model_in_use_discards_an_unfinished_switch(indexed, fp32_embedder_dir):
    lib, _ = indexed
    cancel = threading.Event()
    cancel.set()
    stopped = lib.switch_embedder(fp32_embedder_dir, cancel=cancel)
    assert stopped.cancelled and lib.pending_embedder_switch() is not None
    same = lib.switch_embedder("default")
    assert same.already_active and same.discarded_pending == stopped.model_id
    assert lib.pending_embedder_switch() is None
    assert [m for _, m, _ in _spaces(lib.path)] == ["all-MiniLM-L6-v2-int8"]
    lib.switch_embedder(fp32_embedder_dir, cancel=cancel)
    assert lib.cancel_embedder_switch() == stopped.model_id
    assert lib.cancel_embedder_switch() is None


# -- the command line ---------------------------------------------------------------------
def _use_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="memex models use")
    add_use_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_refuses_without_yes_when_not_interactive(indexed, fp32_embedder_dir, monkeypatch, capsys):
    lib, _ = indexed
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = run_use(_use_args(str(fp32_embedder_dir), "--library", str(lib.path)))
    err = capsys.readouterr().err
    assert code == 1
    assert "passages to embed" in err and "passages/s" in err and "--yes" in err
    assert [m for _, m, _ in _spaces(lib.path)] == ["all-MiniLM-L6-v2-int8"]
    assert lib.pending_embedder_switch() is None


def test_cli_switches_with_yes_and_reports_json(indexed, fp32_embedder_dir, capsys):
    lib, _ = indexed
    chunks = lib.status().chunks
    code = run_use(_use_args(str(fp32_embedder_dir), "--library", str(lib.path), "--yes", "--json"))
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["estimate"]["chunks_to_embed"] == chunks and out["estimate"]["chunks_per_s"] > 0
    assert out["result"]["switched"] and out["result"]["embedded"] == chunks
    assert [m for _, m, _ in _spaces(lib.path)] == [out["result"]["model_id"]]
    assert Settings.load().embedder == str(fp32_embedder_dir.resolve())


def test_cli_reports_an_unknown_model(indexed, capsys):
    lib, _ = indexed
    assert run_use(_use_args("no-such-model", "--library", str(lib.path), "--yes")) == 1
    assert "No embedder named 'no-such-model'" in capsys.readouterr().err


# -- interruptions ------------------------------------------------------------------------
def _wait_for(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    assert proc.poll() is None, "the switch ended before it could be interrupted: " + proc.communicate()[1]


# A switch that stops for good after its third batch (and says so in the file argv[3]): the
# kill always lands mid-switch, however slow or fast the machine is.
_SWITCH_THEN_HANG = """
import sys, threading
from pathlib import Path
from memex.core.library import Library
lib = Library.open(sys.argv[1], reranker=False)
def progress(p):
    if p.phase == "embedding" and p.done >= 6:
        Path(sys.argv[3]).touch()
        threading.Event().wait()
lib.switch_embedder(sys.argv[2], batch_size=2, progress=progress)
"""

# ``memex models use``; with MEMEX_TEST_HOLD set, the switch stops after its first batch (and
# touches that file) until Ctrl-C asks it to stop, so the interrupt always lands mid-switch.
_CLI_USE = """
import argparse, os, signal, sys
from pathlib import Path
# Ctrl-C raises KeyboardInterrupt here even when this test runs in a background job, whose
# children start with SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
from memex.core.models import switch as model_switch
from memex.core.cli.models_use import add_use_arguments, run_use
hold = os.environ.get("MEMEX_TEST_HOLD")
if hold:
    emit = model_switch.ModelSwitch._emit
    def held_emit(self, phase):
        emit(self, phase)
        if phase == "embedding":
            Path(hold).touch()
            self.job.cancel.wait()
    model_switch.ModelSwitch._emit = held_emit
parser = argparse.ArgumentParser()
add_use_arguments(parser)
sys.exit(run_use(parser.parse_args(sys.argv[1:])))
"""


@pytest.fixture
def bigger(tmp_path, open_library):
    """A library of 36 one-chunk documents (more than one batch of the default size)."""
    folder = _corpus(tmp_path / "docs", per_topic=6)
    lib = open_library("lib.db")
    lib.index([folder])
    return lib


@pytest.mark.slow
def test_sigkill_during_a_switch_leaves_the_old_index_and_a_rerun_completes(bigger, fp32_embedder_dir):
    lib = bigger
    before = _signature(lib)
    held = lib.path.with_name("switch-held")
    proc = subprocess.Popen([sys.executable, "-c", _SWITCH_THEN_HANG, str(lib.path), str(fp32_embedder_dir),
                             str(held)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(proc, held.exists)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    conn = open_connection(lib.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        total = _one(conn, "SELECT count(*) FROM chunks")
    finally:
        conn.close()
    assert _spaces(lib.path) == [(1, "all-MiniLM-L6-v2-int8", 1), (2, lib.pending_embedder_switch().model_id, 0)]
    done = lib.pending_embedder_switch().done
    assert 6 <= done < total
    assert Settings.load().embedder is None
    assert _signature(lib) == before  # searching still works, from the old space

    result = lib.switch_embedder(fp32_embedder_dir, batch_size=8)
    assert result.switched and result.embedded == total - done
    assert [(sid, active) for sid, _, active in _spaces(lib.path)] == [(2, 1)]


@pytest.mark.slow
def test_ctrl_c_in_the_cli_cancels_and_the_same_command_resumes(bigger, fp32_embedder_dir):
    lib = bigger
    total = lib.status().chunks
    argv = [sys.executable, "-c", _CLI_USE, str(fp32_embedder_dir), "--library", str(lib.path), "--yes"]
    held = lib.path.with_name("switch-held")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MEMEX_TEST_HOLD": str(held)})
    # The switch has written its first batch and waits for the interrupt (see _CLI_USE).
    _wait_for(proc, held.exists)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Cancelled: the library still uses all-MiniLM-L6-v2-int8" in out
    pending = lib.pending_embedder_switch()
    assert pending is not None and 0 < pending.done < total
    assert lib.status().embedder == "all-MiniLM-L6-v2-int8"

    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{total - pending.done:,} passages embedded" in again.stdout
    assert f"({pending.done:,} already done)" in again.stderr
    assert lib.status().embedder == pending.model_id
