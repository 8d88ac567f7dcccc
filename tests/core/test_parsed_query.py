"""A search reads its text once (``parse_query``) and every path shares that reading; the hits
are exactly those of the code that read the text once per path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import search_cases
from memex.core.library import Library
from memex.core.search import hybrid, library_search, query
from memex.core.search.hybrid import rerank_hits
from memex.core.search.query import fts_match_expression, parse_query

GOLDEN = Path(__file__).with_name("search_golden.json")
SCORE_KEYS = {"score"}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder, reranker_dir: Path, optimized_models_cache: Path):
    """One library for the module (the tests only search it), under a home of its own."""
    root = tmp_path_factory.mktemp("parsed-query")
    home = root / "home"
    (home / "cache").mkdir(parents=True)
    (home / "cache" / "optimized").symlink_to(optimized_models_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEMEX_HOME", str(home))
        folder = search_cases.build(root)
        lib = Library.open(root / "library.db", embedder=embedder, reranker=str(reranker_dir))
        lib.index([folder])
        yield lib, folder
        lib.close()


def _same(got: Any, want: Any, where: str) -> None:
    """Equal, except that scores may differ in the last bits (a model run on another CPU)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            if key in SCORE_KEYS and want[key] is not None:
                assert got[key] == pytest.approx(want[key], rel=1e-6, abs=1e-9), f"{where}.{key}"
            else:
                _same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def test_hits_are_those_of_the_code_that_parsed_per_path(indexed):
    lib, folder = indexed
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = json.loads(json.dumps(search_cases.run_cases(lib, folder), ensure_ascii=False))
    assert [{k: v for k, v in c.items() if k != "hits"} for c in got] == \
        [{k: v for k, v in c.items() if k != "hits"} for c in want]
    assert sum(len(c["hits"]) for c in want) > 300  # the cases do find things
    for g, w in zip(got, want, strict=True):
        _same(g["hits"], w["hits"], f"{w['query']!r} {w['mode']} prefix={w['prefix_last']} "
                                    f"filter={w['filter']} rerank={w['rerank']}")


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[int]:
    calls = [0]
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
@pytest.mark.parametrize("text, prefix_last", [
    ("heat transfer", False),  # a file name holds both words: the name path and the ideal score run
    ("heat trans", True), ("C++ \"x", False), ("lighthouse keeper", False), ("*** ???", False)])
def test_one_reading_of_the_text_per_search(indexed, monkeypatch, mode, text, prefix_last):
    lib, _ = indexed
    readings = _count_calls(monkeypatch, query, "query_terms")  # what every reading of the text calls
    parses = [_count_calls(monkeypatch, module, "parse_query") for module in (library_search, hybrid)]
    ideals = _count_calls(monkeypatch, hybrid, "ideal_score")
    hits = lib.search(text, k=5, mode=mode, prefix_last=prefix_last, rerank=False)
    assert (readings[0], sum(calls[0] for calls in parses)) == (1, 1)
    assert ideals[0] <= 1
    if text == "heat transfer":
        assert hits and any(h.path.endswith("heat_transfer.py") for h in hits)
        assert ideals[0] == (1 if mode != "dense" else 0)


def test_reranking_takes_the_parsed_query(indexed, monkeypatch):
    lib, _ = indexed
    parsed = parse_query("heat transfer boundary")
    hits = lib.search(parsed.text, k=5, rerank=False)
    readings = _count_calls(monkeypatch, query, "query_terms")
    assert rerank_hits(parsed, hits, lib.reranker) == rerank_hits(parsed.text, hits, lib.reranker)
    assert readings[0] == 1  # only the plain-text call read the text


@pytest.mark.parametrize("text, prefix_last, terms, match_any, match_all", [
    ("heat trans", True, ("heat", "trans"), '"heat" OR "trans"*', '"heat" AND "trans"*'),
    ("heat trans ", True, ("heat", "trans"), '"heat" OR "trans"', '"heat" AND "trans"'),
    ("heat trans", False, ("heat", "trans"), '"heat" OR "trans"', '"heat" AND "trans"'),
    ("heat the", True, ("heat",), '"heat"*', '"heat"*'),  # the last term left is the prefix
    ('C++ "x', True, ("c", "x"), '"c" OR "x"*', '"c" AND "x"*'),
    ("hello-world", False, ("hello", "world"), '"hello" OR "world"', '"hello" AND "world"'),
    ("Café Zürich", False, ("cafe", "zurich"), '"cafe" OR "zurich"', '"cafe" AND "zurich"'),
    ("the and of", False, ("the", "and", "of"), '"the" OR "and" OR "of"', '"the" AND "and" AND "of"'),
    ("😀 ???", True, (), None, None),
    ("", True, (), None, None),
])
def test_parsed_query_holds_the_terms_and_match_expressions(text, prefix_last, terms, match_any, match_all):
    parsed = parse_query(text, prefix_last)
    assert (parsed.text, parsed.prefix_last, parsed.terms) == (text, prefix_last, terms)
    assert (parsed.match_any, parsed.match_all) == (match_any, match_all)
    assert fts_match_expression(text, prefix_last) == match_any
    assert fts_match_expression(text, prefix_last, all_terms=True) == match_all
    with pytest.raises(AttributeError):
        parsed.text = "other"  # type: ignore[misc]
