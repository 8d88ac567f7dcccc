"""The ``memex`` command as a user runs it: a real process over a real library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docgen
import pytest


def memex(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("memex")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "memex.core"]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "NO_COLOR": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"memex {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    folder = root / "papers"
    folder.mkdir()
    docgen.make_pdf(folder / "wings.pdf", ["Cover page.", "Lift and drag on swept wings.",
                                           "Shock waves form near the wing tip at high speed."])
    (folder / "soup.md").write_text("# Soup\n\nSimmer onions slowly in butter.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    library = root / "lib.db"
    proc = memex("index", "--library", str(library), "--json", str(folder))
    return library, folder, json.loads(proc.stdout)


def test_index_reports_added_and_failed(indexed):
    _, _, report = indexed
    assert report["added"] == 2 and report["failed"] == 1
    assert report["errors"][0]["reason"] == "corrupt"


@pytest.mark.slow
def test_search_json_has_page_and_snippet(indexed):
    library, folder, _ = indexed
    proc = memex("search", "--library", str(library), "--json", "--k", "1", "shock waves")
    [hit] = json.loads(proc.stdout)
    assert hit["path"] == str(folder / "wings.pdf") and hit["page"] == 3
    assert "Shock" in hit["snippet"] and hit["highlights"]


@pytest.mark.slow
def test_search_human_output_marks_terms(indexed):
    library, _, _ = indexed
    out = memex("search", "--library", str(library), "--no-rerank", "onions").stdout
    assert "soup.md" in out and "«onions»" in out.lower()


@pytest.mark.slow
def test_search_with_reranker_folder(indexed, reranker_dir):
    library, _, _ = indexed
    proc = memex("search", "--library", str(library), "--json", "--reranker", str(reranker_dir),
                 "wing")
    hits = json.loads(proc.stdout)
    assert hits and all(h["reranked"] for h in hits)


@pytest.mark.slow
def test_status_and_doctor(indexed):
    library, folder, _ = indexed
    status = json.loads(memex("status", "--library", str(library), "--json").stdout)
    assert status["documents"] == 2 and status["failed"] == 1
    assert status["sources"][0]["path"] == str(folder)
    checks = json.loads(memex("doctor", "--library", str(library), "--json").stdout)
    assert {c["name"]: c["ok"] for c in checks}["sqlite-vec"] is True
    assert all(c["ok"] for c in checks), checks


def test_errors_exit_non_zero_with_one_line(tmp_path):
    proc = memex("index", "--library", str(tmp_path / "x.db"), str(tmp_path / "missing"),
                 check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 50)
    proc = memex("status", "--library", str(bad), check=False)
    assert proc.returncode == 1 and "memex:" in proc.stderr


@pytest.mark.slow
def test_remove_then_search_finds_nothing(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_text("Zebras graze on the savannah.\n")
    lib = str(tmp_path / "l.db")
    memex("index", "--library", lib, str(folder))
    assert json.loads(memex("search", "--library", lib, "--json", "--mode", "bm25", "zebras").stdout)
    memex("remove", "--library", lib, str(folder))
    assert json.loads(memex("search", "--library", lib, "--json", "--mode", "bm25", "zebras").stdout) == []


def _beir(folder: Path) -> Path:
    folder.mkdir()
    corpus = [
        {"_id": "d1", "title": "Boundary layers", "text": "Laminar boundary layer separation on plates."},
        {"_id": "d2", "title": "Heat", "text": "Heat transfer from hot gas to a cooled wall."},
        {"_id": "d3", "title": "Buckling", "text": "Buckling of thin cylindrical shells under load."},
        {"_id": "d/4", "title": "", "text": ""},
    ]
    queries = [{"_id": "1", "text": "boundary layer separation"},
               {"_id": "2", "text": "cylindrical shell buckling"},
               {"_id": "3", "text": "no judgments for this one"}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t2\n2\td3\t1\n2\td2\t0\n")
    return folder


@pytest.mark.slow
def test_eval_json_reports_metrics_and_reuses_library(tmp_path):
    collection = _beir(tmp_path / "beir")
    lib = str(tmp_path / "eval.db")
    first = json.loads(memex("eval", str(collection), "--mode", "bm25", "--json",
                             "--library", lib).stdout)
    assert set(first) >= {"ndcg@10", "recall@100", "mrr@10", "queries", "index_seconds",
                          "query_ms_p50", "query_ms_p95"}
    assert first["queries"] == 2
    assert first["ndcg@10"] == pytest.approx(1.0) and first["mrr@10"] == pytest.approx(1.0)
    again = json.loads(memex("eval", str(collection), "--mode", "hybrid", "--json",
                             "--library", lib).stdout)
    assert again["ndcg@10"] == pytest.approx(1.0)
    status = json.loads(memex("status", "--library", lib, "--json").stdout)
    assert status["documents"] == 3 and status["failed"] == 1  # d/4 is empty


@pytest.mark.slow
def test_eval_table_compares_modes(tmp_path):
    collection = _beir(tmp_path / "beir")
    out = memex("eval", str(collection), "--mode", "bm25", "--mode", "dense").stdout
    assert out.splitlines()[0].split()[:2] == ["mode", "nDCG@10"]
    assert {line.split()[0] for line in out.splitlines()[1:]} == {"bm25", "dense"}


@pytest.mark.slow
def test_models_use_switches_to_a_model_folder(tmp_path, fp32_embedder_dir, reranker_dir):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "cat.txt").write_text("The kitten chased a ball of yarn across the floor.\n")
    (folder / "flow.txt").write_text("Boundary layer flow over a flat plate at supersonic speed.\n")
    library = str(tmp_path / "lib.db")
    memex("index", "--library", library, str(folder))
    refused = memex("models", "use", str(fp32_embedder_dir), "--library", library, check=False)
    assert refused.returncode != 0  # no terminal to confirm on, and no --yes
    memex("models", "use", str(fp32_embedder_dir), "--yes", "--library", library)
    status = json.loads(memex("status", "--library", library, "--json").stdout)
    assert "all-MiniLM-L6-v2" in json.dumps(status) and "int8" not in json.dumps(status.get("embedder", ""))
    hits = json.loads(memex("search", "young cat", "--mode", "dense", "--library", library, "--json").stdout)
    assert Path(hits[0]["path"]).name == "cat.txt"
    memex("models", "use", str(reranker_dir), "--kind", "reranker", "--library", library)
    assert json.loads(memex("status", "--library", library, "--json").stdout)["reranker"]
