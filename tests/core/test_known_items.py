"""The known-item evaluation: its queries file, its figures, and one run on a tiny real folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.known_items import (
    QueryFileError,
    QueryOutcome,
    evaluate_known_items,
    figures,
    first_rank,
    is_near_empty,
    letter_words,
    mean,
    read_queries,
    reciprocal_rank,
    repeated_contents,
    success_at,
)

HEADER = "query\tkind\texpected\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queries.tsv"
    path.write_text(text, encoding="utf-8")
    return path


# -- the queries file -------------------------------------------------------------------------
def test_reads_queries_skipping_header_comments_and_blank_lines(tmp_path):
    path = _write(tmp_path, HEADER + "# a comment\n\nowl at night\tknown\tbirds/owl.txt | b/copy.txt\n"
                                     "zzqx\tnonsense\t\n保险\tLANG\tzh/保险.txt\n")
    queries = read_queries(path)
    assert [(q.text, q.kind, q.expected, q.line) for q in queries] == [
        ("owl at night", "known", ("birds/owl.txt", "b/copy.txt"), 4),
        ("zzqx", "nonsense", (), 5),
        ("保险", "lang", ("zh/保险.txt",), 6),
    ]


@pytest.mark.parametrize(("line", "words"), [
    ("only one column", "3 tab-separated columns"),
    ("a\tknown\tx.txt\textra", "found 4"),
    ("\tknown\tx.txt", "query is empty"),
    ("a\tguess\tx.txt", "unknown kind 'guess'"),
    ("a\tknown\t", "needs at least one expected file"),
    ("a\tnonsense\tx.txt", "expects no files"),
    ("a\tknown\t../outside.txt", "relative to the folder"),
    ("a\tknown\t/etc/passwd", "relative to the folder"),
])
def test_a_bad_line_is_one_line_error_naming_the_line(tmp_path, line, words):
    path = _write(tmp_path, HEADER + "fine\tknown\tx.txt\n" + line + "\n")
    with pytest.raises(QueryFileError) as caught:
        read_queries(path)
    message = str(caught.value)
    assert f"{path}:3:" in message and words in message and "\n" not in message


def test_an_empty_or_unreadable_queries_file_is_refused(tmp_path):
    with pytest.raises(QueryFileError, match="no queries"):
        read_queries(_write(tmp_path, HEADER + "# nothing\n"))
    with pytest.raises(QueryFileError, match="Cannot read"):
        read_queries(tmp_path / "missing.tsv")
    bad = tmp_path / "latin1.tsv"
    bad.write_bytes("caf\xe9\tknown\tx.txt\n".encode("latin-1"))
    with pytest.raises(QueryFileError, match="Cannot read"):
        read_queries(bad)


# -- metrics ----------------------------------------------------------------------------------
def test_rank_success_and_reciprocal_rank():
    assert first_rank([False, False, True, True]) == 3
    assert first_rank([False, False]) is None and first_rank([]) is None
    assert success_at(1, 1) == 1.0 and success_at(2, 1) == 0.0 and success_at(None, 5) == 0.0
    assert success_at(5, 5) == 1.0 and success_at(6, 5) == 0.0
    assert reciprocal_rank(4) == 0.25 and reciprocal_rank(None) == 0.0 and reciprocal_rank(11) == 0.0
    assert mean([]) is None and mean([1.0, 0.0]) == 0.5


def test_near_empty_counts_words_of_letters_in_any_script():
    assert is_near_empty("") and is_near_empty("foo 1") and is_near_empty("EXAMPLE")
    assert is_near_empty("Chapter 1 ........ 7\n" * 9)  # 9 words of letters
    assert is_near_empty("a b c d e f g h i " * 10)  # single letters are no words
    assert is_near_empty("1 2 3 4 5 6 7 8 9 10 " * 20)
    assert not is_near_empty("The kitten chased a ball of yarn across the kitchen floor while "
                             "the old dog slept in the warm sun by the open garden door.")
    assert letter_words("医疗保险制度") == 3  # two CJK characters make a word
    assert is_near_empty("我国的医疗保险制度由单位和个人共同缴费。")  # 9 words
    assert not is_near_empty("我国的医疗保险制度由单位和个人共同缴费。单位缴费的一部分划入个人账户，"
                             "其余进入统筹基金。")


def _outcome(kind: str, rank: int | None, shown: int = 5, near_empty: int = 0,
             stable: bool = True) -> QueryOutcome:
    right = [i + 1 == rank for i in range(shown)]
    empties = [i >= shown - near_empty for i in range(shown)]
    return QueryOutcome(query="q", kind=kind, line=1, expected=() if kind == "nonsense" else ("x",),
                        rank=rank, shown=[f"f{i}" for i in range(shown)], right=right,
                        near_empty=empties, related=[False] * shown, stable=stable,
                        showing_results_for=None, milliseconds=10.0)


def test_figures_from_outcomes():
    outcomes = [
        _outcome("known", 1), _outcome("known", 3), _outcome("known", None),
        _outcome("typo", 2), _outcome("typo", None, stable=False),
        _outcome("lang", 1), _outcome("name", 7, shown=10),
        _outcome("nonsense", None, shown=2, near_empty=2), _outcome("nonsense", None, shown=0),
    ]
    got = figures(outcomes)
    assert got["success@1"] == pytest.approx(2 / 7)
    assert got["success@5"] == pytest.approx(4 / 7)
    assert got["mrr@10"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2 + 0 + 1 + 1 / 7) / 7)
    assert got["typo_success@5"] == 0.5 and got["language_success@5"] == 1.0
    assert got["name_success@5"] == 0.0 and got["known_success@5"] == pytest.approx(2 / 3)
    assert got["nonsense_results"] == 2
    # 7 queries × 5 shown + the nonsense query's 2: two near-empty, neither of them wanted
    assert got["near_empty_in_top5"] == pytest.approx(2 / 37)
    assert got["k_stability"] == pytest.approx(8 / 9)
    assert got["duplicate_results"] == 0


def test_a_near_empty_file_that_is_the_answer_is_not_junk():
    outcome = _outcome("name", 1, shown=1, near_empty=1)
    assert figures([outcome])["near_empty_in_top5"] == 0.0


def test_a_kind_with_no_queries_has_no_figure():
    got = figures([_outcome("known", 1)])
    assert got["typo_success@5"] is None and got["language_success@5"] is None


# -- a run on a tiny folder ---------------------------------------------------------------------
def _tiny_folder(root: Path) -> Path:
    folder = root / "folder"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "heron.txt").write_text(
        "Grey herons stand motionless in shallow water for a long time, then strike fish "
        "with their long sharp bill. They nest together in tall trees near lakes and rivers.\n")
    (folder / "notes" / "bread.txt").write_text(
        "Knead the dough for ten minutes, let it rise in a warm place until doubled, shape "
        "the loaf and bake it in a hot oven until the crust sounds hollow when tapped.\n")
    (folder / "copy of bread.txt").write_bytes((folder / "notes" / "bread.txt").read_bytes())
    (folder / "empty.txt").write_text("1\n")
    return folder


def test_evaluation_runs_every_query_through_find(tmp_path, embedder):
    folder = _tiny_folder(tmp_path)
    queries = _write(tmp_path, HEADER + "bird standing still in water catching fish\tknown\tnotes/heron.txt\n"
                                        "baking a loaf of bread\tknown\tcopy of bread.txt\n"
                                        "herons\tname\tnotes/heron.txt\n"
                                        "gone\tknown\tnot/here.txt\n"
                                        "qqzx vvbnm\tnonsense\t\n")
    report = evaluate_known_items(queries, folder, library_path=tmp_path / "lib.db", embedder=embedder)
    assert report.documents >= 3 and report.skipped == ["line 5: gone"]
    by_query = {q.query: q for q in report.queries}
    assert by_query["bird standing still in water catching fish"].rank == 1
    # the original or its copy both count: the same content
    assert by_query["baking a loaf of bread"].rank == 1
    assert by_query["qqzx vvbnm"].rank is None
    bread = by_query["baking a loaf of bread"]
    # the two copies are one result when duplicates collapse, else the second one is counted
    assert bread.duplicates == (1 if sum(s.endswith("bread.txt") for s in bread.shown) == 2 else 0)
    got = report.figures()
    assert got["success@1"] == 1.0 and got["k_stability"] == 1.0
    data = json.loads(json.dumps(report.as_dict()))
    assert data["figures"]["success@5"] == 1.0 and len(data["per_query"]) == 4
    assert data["targets"]["success@1"] == 0.80


@pytest.mark.slow
def test_memex_eval_known_items_prints_figures_and_per_query_lines(tmp_path):
    folder = _tiny_folder(tmp_path)
    queries = _write(tmp_path, HEADER + "bird standing still in water catching fish\tknown\tnotes/heron.txt\n"
                                        "qqzx vvbnm\tnonsense\t\n")
    script = Path(sys.executable).with_name("memex")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "memex.core"]
    run = subprocess.run([*command, "eval", "--known-items", str(queries), str(folder), "-v"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "[known] 'bird standing still in water catching fish' (line 2): rank 1" in lines
    assert any(line.split()[:2] == ["1", "*"] and line.endswith("notes/heron.txt") for line in lines)
    assert any(line.split()[:1] == ["success@1"] and line.endswith("met") for line in lines)
    assert any(line.strip().startswith("typo success@5") and line.split()[-1] == "n/a" for line in lines)
    bad = _write(tmp_path, "owl\tknown\n")
    refused = subprocess.run([*command, "eval", "--known-items", str(bad), str(folder)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        f"memex: {bad}:1: a known query needs at least one expected file."]


def test_repeated_contents_counts_results_that_show_the_same_content_again():
    assert repeated_contents(["a", "b", "a", "a", None, None, "b"]) == 3
    assert repeated_contents([]) == 0


def test_the_command_line_refuses_beir_options_with_known_items():
    from memex.core.cli.failures import UsageError
    from memex.core.cli.known_items import scored_mode
    from memex.core.cli.main import build_parser

    def mode(*extra: str) -> str:
        args = build_parser(plugins=False).parse_args(["eval", "--known-items", "q.tsv", "folder", *extra])
        return scored_mode(args)

    assert mode() == "hybrid" and mode("--mode", "bm25") == "bm25"
    for extra, words in ((["--fusion", "rrf"], "--fusion: for BEIR collections only"),
                         (["--per-query"], "--per-query: for BEIR"),
                         (["--mode", "bm25", "--mode", "dense"], "one mode"),
                         (["--mode", "rerank"], "one mode")):
        with pytest.raises(UsageError, match=words):
            mode(*extra)
