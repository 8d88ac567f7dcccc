"""Typos, compound parts and CJK words, found lexically: a misspelled query finds what the
spelled one finds and says what it ran; a word the library holds is never corrected; 保险 is
found inside 医疗保险制度 and Versicherung inside Krankenversicherung; a library made before the
word index gets it from its migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from memex.core.cli.output import format_results, format_status, hit_dict
from memex.core.search.language import chunk_language
from memex.core.search.spelling import closest_word, corrected_text, edit_distance
from memex.core.store import migrate, write_transaction
from memex.core.store.fts import integrity_check
from memex.core.store.vocabulary import Vocabulary, library_vocabulary

RUST = ("The borrow checker compares scopes to determine whether all borrows are valid. "
        "Ownership rules: first, each value has an owner; a reference must never outlive its value. ") * 6
GARDEN = ("Tomatoes need full sun, rich soil and steady watering; pinch out the side shoots weekly "
          "and give the tall ones support. ") * 6
HERON = "Project HERON is the codename of the quiet release. The hero of the story is the team. " * 2
GERMAN = ("Die Krankenversicherung übernimmt die Kosten für ärztliche Behandlung. Wer angestellt ist, "
          "zahlt Beiträge zur gesetzlichen Krankenversicherung und zur Rentenversicherung. "
          "Die Kündigungsfrist beträgt drei Monate. ") * 3
CHINESE = "医疗保险制度是社会保障体系的重要组成部分。参加医疗保险的职工按月缴费。" * 4


def _folder(root: Path, texts: dict[str, str]) -> Path:
    folder = root / "docs"
    folder.mkdir()
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def indexed(tmp_path, library):
    library.index([_folder(tmp_path, {"rust.txt": RUST, "garden.txt": GARDEN, "heron.txt": HERON,
                                      "kasse.txt": GERMAN, "baoxian.txt": CHINESE})])
    return library


def _names(results) -> list[str]:
    return [Path(h.path).name for h in results.hits]


def test_a_misspelled_query_finds_what_the_spelled_one_finds_and_says_so(indexed):
    typed = indexed.find("borow chekcer", mode="bm25")
    assert typed.showing_results_for == "borrow checker"
    assert _names(typed)[:1] == ["rust.txt"]
    assert _names(typed) == _names(indexed.find("borrow checker", mode="bm25"))
    assert indexed.find("Borow   chekcer!", mode="hybrid").showing_results_for == "borrow   checker!"


def test_no_correction_for_words_the_library_holds(indexed):
    for query in ("borrow checker", "tomatoes", "heron", "hero", "checkers", "weekly watering"):
        assert indexed.find(query).showing_results_for is None, query
    assert _names(indexed.find("heron", mode="bm25"))[:1] == ["heron.txt"]  # not "hero": it is held


def test_no_correction_when_no_library_word_is_close(indexed):
    found = indexed.find("zqxwvy plorkdang", mode="bm25")
    assert found.showing_results_for is None and found.hits == ()


def test_a_word_being_typed_is_not_corrected(indexed):
    assert indexed.find("borow chekc", prefix_last=True).showing_results_for == "borrow chekc"


def test_a_compound_part_is_found_lexically(indexed):
    found = indexed.find("Versicherung", mode="bm25")
    assert _names(found)[:1] == ["kasse.txt"] and found.showing_results_for is None
    assert _names(indexed.find("rentenversicherung", mode="bm25"))[:1] == ["kasse.txt"]
    assert _names(indexed.find("versicherung", mode="bm25", prefix_last=True))[:1] == ["kasse.txt"]  # as typed
    for part in ("Kosten", "Beiträge", "renten", "Frist"):  # held, or inside longer words: not "first"
        found = indexed.find(part, mode="bm25")
        assert _names(found)[:1] == ["kasse.txt"] and found.showing_results_for is None, part


def test_a_chinese_word_inside_a_run_of_characters_is_found_lexically(indexed):
    for query in ("保险", "医疗保险", "社会保障"):
        for typing in (False, True):
            found = indexed.find(query, mode="bm25", prefix_last=typing)
            assert _names(found)[:1] == ["baoxian.txt"], (query, typing)
            assert found.showing_results_for is None


def test_english_words_do_not_drift_to_longer_words(indexed):
    assert indexed.find("port", mode="bm25").hits == ()  # not held; "support" is another word
    assert _names(indexed.find("owner", mode="bm25")) == ["rust.txt"]  # held: not "ownership" too


def test_the_migrations_build_the_word_and_cjk_indexes_for_a_library_made_before_them(tmp_path, library):
    library.index([_folder(tmp_path, {"kasse.txt": GERMAN, "rust.txt": RUST, "baoxian.txt": CHINESE})])
    conn = library.store.connection()
    with write_transaction(conn):  # as a library written before both
        for index in ("chunks_words", "chunks_grams"):
            for name in ("ai", "ad", "au"):
                conn.execute(f"DROP TRIGGER {index}_{name}")
            conn.execute(f"DROP TABLE {index}_vocab")
            conn.execute(f"DROP TABLE {index}")
        conn.execute("DELETE FROM migrations WHERE name IN ('0005_word_index', '0006_cjk_grams')")
        conn.execute("PRAGMA user_version = 4")
    assert library.find("borow", mode="bm25").showing_results_for is None  # nothing to correct with
    assert library.find("Versicherung", mode="bm25").hits == ()
    assert library.find("保险", mode="bm25").hits == ()
    assert migrate(conn) == ["0005_word_index", "0006_cjk_grams"]
    assert library.find("borow", mode="bm25").showing_results_for == "borrow"
    assert _names(library.find("Versicherung", mode="bm25"))[:1] == ["kasse.txt"]
    assert _names(library.find("保险", mode="bm25")) == ["baoxian.txt"]
    (tmp_path / "docs" / "new.txt").write_text("Haftpflichtversicherung für Radfahrer. 交通保险。", encoding="utf-8")
    library.index()  # the triggers keep both in step
    assert "new.txt" in _names(library.find("haftpflicht", mode="bm25"))
    assert set(_names(library.find("保险", mode="bm25"))) == {"baoxian.txt", "new.txt"}
    (tmp_path / "docs" / "new.txt").unlink()
    library.index()
    assert _names(library.find("保险", mode="bm25")) == ["baoxian.txt"]
    assert integrity_check(conn) is None


def test_only_chunks_with_cjk_text_are_in_the_cjk_index(indexed):
    conn = indexed.store.connection()
    rows = conn.execute("SELECT count(*) FROM chunks_grams_vocab WHERE term GLOB '*[a-z]*'").fetchone()[0]
    assert rows == 0  # no English or German text: three-character pieces of CJK text only
    assert _names(indexed.find("社会保障体系", mode="bm25")) == ["baoxian.txt"]  # three or more: as it is
    assert _names(indexed.find("保", mode="bm25")) == ["baoxian.txt"]  # one character
    assert indexed.find("保险 Krankenversicherung", mode="bm25").hits[0].path.endswith(("baoxian.txt", "kasse.txt"))


def test_edit_distance_counts_a_swap_as_one_edit():
    assert edit_distance("chekcer", "checker", 2) == 1
    assert edit_distance("borow", "borrow", 1) == 1
    assert edit_distance("abc", "xyz", 1) == 2  # past ``most``: most + 1


def test_the_closest_word_is_the_commonest_of_the_nearest():
    vocabulary = Vocabulary(["borrow", "borrows", "burrow", "sorrow"], [50, 5, 1, 40])
    assert closest_word("borow", vocabulary) == "borrow"
    assert closest_word("sorow", vocabulary) == "sorrow"
    assert closest_word("qqqqqq", vocabulary) is None


def test_a_real_word_two_edits_from_another_is_not_turned_into_it():
    vocabulary = Vocabulary(["december", "lifetime", "meeting"], [40, 3, 9])
    assert closest_word("remember", vocabulary) is None  # not "december"
    assert closest_word("lifetme", vocabulary) == "lifetime"
    assert closest_word("meetnig", vocabulary) == "meeting"
    assert corrected_text("a borow,  b", lambda w: {"borow": "borrow"}.get(w)) == "a borrow,  b"


FRENCH = ("La Sécurité sociale est un ensemble de dispositifs et d'institutions qui ont pour but "
          "de protéger les personnes. ") * 3


def test_status_names_the_multilingual_model_when_most_of_the_library_is_not_english(tmp_path, library):
    texts = {f"de{i}.txt": GERMAN for i in range(3)} | {f"zh{i}.txt": CHINESE for i in range(3)}
    library.index([_folder(tmp_path, {**texts, "fr.txt": FRENCH, "rust.txt": RUST, "garden.txt": GARDEN})])
    hint = library.status().language_hint
    assert hint is not None and "multilingual-e5-small" in hint and library.status().embedder in hint
    assert any(line.startswith("Hint:") and "multilingual-e5-small" in line for line in format_status(library.status()))


def test_no_language_hint_for_an_english_library_with_a_few_other_texts(indexed):
    assert indexed.status().language_hint is None  # 3 English files, 1 German, 1 Chinese
    assert not any(line.startswith("Hint:") for line in format_status(indexed.status()))


def test_chunk_languages_are_told_by_script_and_function_words():
    assert chunk_language(RUST) == "en" and chunk_language(GARDEN) == "en"
    assert chunk_language(GERMAN) == "other" and chunk_language(CHINESE) == "other"
    assert chunk_language(FRENCH) == "other"
    assert chunk_language("fn main() { let x = 5; println!(x); }") is None  # code says too little


def test_the_command_line_says_what_it_showed_results_for(indexed):
    results = indexed.find("borow chekcer", mode="bm25")
    lines = format_results(results, color=False)
    assert lines[0] == "Showing results for: borrow checker" and "rust.txt" in lines[2]
    assert hit_dict(1, results.hits[0], results.showing_results_for)["showing_results_for"] == "borrow checker"
    assert not format_results(indexed.find("borrow checker", mode="bm25"), color=False)[0].startswith("Showing")


def test_no_correction_that_turns_a_query_about_something_missing_into_another_query(indexed):
    # "chekcer" alone would become "checker", but "zqxwvy" stays missing: nothing can match
    assert indexed.find("chekcer zqxwvy", mode="bm25").showing_results_for is None
    # both words corrected, but no chunk holds "borrow" and "watering" together
    assert indexed.find("borow watring", mode="bm25").showing_results_for is None
    assert indexed.find("watring", mode="bm25").showing_results_for == "watering"
    assert indexed.find("borow chekcer 2024", mode="bm25").showing_results_for == "borrow checker 2024"


def test_a_very_long_query_is_corrected_no_further_than_the_words_a_search_reads():
    asked: list[str] = []
    text = " ".join(f"wordnumber{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(5000))
    assert corrected_text(text, lambda w: asked.append(w) or None) is None
    assert len(asked) == 64


def test_the_words_kept_for_spelling_are_given_back_when_the_app_goes_quiet(indexed):
    conn = indexed.store.connection()
    kept = library_vocabulary(conn)
    assert library_vocabulary(conn) is kept and "borrow" in kept.words  # kept between queries
    indexed.release_memory()
    assert library_vocabulary(conn) is not kept  # read again
    assert indexed.find("borow", mode="bm25").showing_results_for == "borrow"
