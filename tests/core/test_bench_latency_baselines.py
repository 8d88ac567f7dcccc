"""The bm25s baseline of the latency benchmark on a tiny generated library: same text, same
queries, rows that compare FTS5's BM25 with it, and a ranking that largely agrees."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("bm25s")

from memex.core.search.hybrid import candidate_depth  # noqa: E402
from memex.core.search.query import query_terms  # noqa: E402
from memex.core.store import open_connection  # noqa: E402
from memex_bench import latency  # noqa: E402
from memex_bench.bm25s_baseline import Bm25sIndex  # noqa: E402

CHUNKS = 400


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return latency.build_library(tmp_path_factory.mktemp("latency"), CHUNKS)


def test_bm25s_rows_compare_fts5_on_the_same_queries(built):
    index = Bm25sIndex(built.path)
    assert len(index) == CHUNKS
    texts = [text for text, _ in latency.queries_for(np.random.default_rng(3), np.asarray(built.vectors), 40)]
    conn = open_connection(built.path)
    try:
        m = latency.bm25_figures(conn, texts, candidate_depth(latency.K), index)
        fts_bytes = latency._table_bytes(conn)["fts"]
    finally:
        conn.close()
    rows = {row.figure.split(" ", 1)[1]: row for row in latency.bm25s_rows("0.4k", m, fts_bytes)}
    depth = candidate_depth(latency.K)

    p50 = rows[f"BM25 top-{depth} p50, FTS5 as searched"]
    assert p50.unit == "ms" and p50.baseline.startswith("bm25s")
    assert 0 < p50.value < 1000 and 0 < p50.baseline_value < 1000
    qps = rows["BM25 queries/s, one at a time, FTS5 as searched"]
    assert qps.value > 1 and qps.baseline_value > 1
    assert (qps.value, qps.baseline_value) == (m["bm25_qps"], m["bm25s_qps"])
    overlap = rows["bm25s top-10 overlap with FTS5, every term scored"]
    assert 0.5 < overlap.value <= 1.0, overlap
    assert 0.5 < overlap.baseline_value <= 1.0
    assert rows["bm25s index build"].value > 0
    size = rows["FTS5 index on disk"]
    assert math.isclose(size.value, fts_bytes / 1e6) and 0 < size.baseline_value < 50


def test_bm25s_finds_the_chunk_holding_a_rare_word_and_nothing_for_unknown_words(built):
    index = Bm25sIndex(built.path)
    conn = open_connection(built.path)
    try:
        words = {w for (t,) in conn.execute("SELECT text FROM chunks") for w in query_terms(t) if len(w) > 6}
        rare = []  # words whose stem only one chunk holds, as FTS5 sees it
        for word in sorted(words):
            found = conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?", (f'"{word}"',)).fetchall()
            if len(found) == 1:
                rare.append((word, int(found[0][0])))
            if len(rare) == 5:
                break
    finally:
        conn.close()
    assert rare
    for word, chunk in rare:
        assert index.search([word], 10)[0] == chunk
    assert index.search(["zzzqqqxxnotaword"], 10) == []


def test_run_reports_bm25s_rows_within_the_cap_and_notes_the_skip_above_it(built, monkeypatch, capsys):
    workdir = built.path.parent
    rows = latency.run([CHUNKS], 5, workdir)
    assert any("bm25s top-10 overlap" in row["figure"] for row in rows)
    monkeypatch.setattr(latency, "BM25S_MAX_CHUNKS", CHUNKS - 1)
    rows = latency.run([CHUNKS], 5, workdir)
    assert not any("bm25s" in row["figure"] for row in rows)
    assert "bm25s baseline skipped at 400 chunks" in capsys.readouterr().err
