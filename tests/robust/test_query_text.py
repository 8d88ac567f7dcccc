"""Any text is a query: characters no text can hold (lone surrogates, which is how Python
carries undecodable bytes) never reach the tokenizer or the embedder as an error."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_a_query_with_lone_surrogates_finds_the_words_around_them(tmp_path: Path, embedder, mode: str) -> None:
    from memex.core.config import Settings
    from memex.core.library import Library

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "heron.txt").write_text("The grey heron stands in the reeds, waiting for fish.\n")
    (folder / "other.txt").write_text("Quarterly budget figures for the office move.\n")
    with Library.open(tmp_path / "library.db", settings=Settings(), embedder=embedder, reranker=False) as lib:
        lib.index([folder])
        hits = lib.search("grey heron \udcff\ud800 reeds", mode=mode)
        assert hits and Path(hits[0].path).name == "heron.txt"
        assert lib.search("\udcff \udfff", mode=mode) == []
