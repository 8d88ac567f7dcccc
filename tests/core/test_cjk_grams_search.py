"""A long run of CJK text (a question written without spaces) is searched by its overlapping
three-character pieces, not as one whole phrase: a note that says most of it, or answers it
in other words, is found and ranked by how much of the run it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTES = {
    # holds 退休后 and 每月领取 but not the question's own wording
    "pension.txt": "参加基本养老保险的职工，达到法定退休年龄。退休后每月领取的养老金由两部分组成。",
    "rail.txt": "乘坐高速铁路列车需要携带身份证件，提前到达车站检票。",
    "waste.txt": "垃圾分类可以减少环境污染，厨余垃圾要单独投放。",
    "cooking.txt": "红烧肉的做法：五花肉切块，加冰糖和酱油慢炖一个小时。",
}


def names(found) -> list[str]:
    return [Path(h.path).name for h in found.hits]


@pytest.fixture
def notes(tmp_path: Path, open_library):
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    library = open_library(reranker=False)
    report = library.index([folder])
    assert report.failed == 0 and report.added == len(NOTES)
    return library


def test_a_question_sharing_most_but_not_all_of_a_notes_characters_finds_it(notes) -> None:
    query = "退休后每月能领取多少养老金"  # 能, 多少 are not in the note; most of the rest is
    assert query not in NOTES["pension.txt"]
    assert names(notes.find(query, mode="bm25")) == ["pension.txt"]  # and nothing else
    assert names(notes.find(query, mode="hybrid"))[:1] == ["pension.txt"]
    assert not notes.find(query, mode="hybrid").hits[0].related  # found by its words, not only by meaning


def test_the_note_holding_more_of_the_run_ranks_first(tmp_path: Path, open_library) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "more.txt").write_text("高速铁路列车需要身份证件。\n", encoding="utf-8")
    (folder / "less.txt").write_text("城市铁路列车很快。\n", encoding="utf-8")
    library = open_library(reranker=False)
    library.index([folder])
    assert names(library.find("高速铁路列车身份", mode="bm25")) == ["more.txt", "less.txt"]


def test_a_run_none_of_whose_pieces_the_library_holds_finds_nothing(notes) -> None:
    assert notes.find("今天天气非常晴朗", mode="bm25").hits == ()
    assert names(notes.find("垃圾分类", mode="bm25")) == ["waste.txt"]  # a word held as it is
    assert names(notes.find("冰糖", mode="bm25")) == ["cooking.txt"]  # short words as before


def test_the_pieces_of_a_run_and_their_quorum() -> None:
    from memex.core.store.fts import gram_quorum, word_grams

    assert word_grams("退休后每月") == ["退休后", "休后每", "后每月"]
    assert word_grams("哈哈哈哈哈") == ["哈哈哈"]
    assert len(word_grams("".join(chr(0x4E00 + i) for i in range(100)))) == 64  # at most
    assert [gram_quorum(n) for n in (0, 1, 2, 3, 8)] == [1, 1, 1, 2, 4]
