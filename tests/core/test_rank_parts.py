"""The pure parts of what a search shows: content weights and readable text (search.junk), which
documents are shown in which order (search.arrange), snippets without leaders or letter-spacing,
and the command line's "Related" group and "also at" lines."""

from __future__ import annotations

from memex.core.cli.output import format_hits, hit_dict
from memex.core.search.arrange import RELATED_FLOOR, Evidence, shown
from memex.core.search.junk import content_weight, readable
from memex.core.search.snippets import make_snippet
from memex.core.types import ChunkHit, Hit

PROSE = ("Ownership is how a program manages memory. Each value has an owner; when the owner goes out "
         "of scope the value is dropped.")


def test_near_empty_and_table_text_weigh_little_and_prose_weighs_fully() -> None:
    assert content_weight(PROSE) == 1.0
    assert content_weight("医疗保险制度改革：从明年起，门诊费用的报销比例提高到百分之六十。"
                          "参保人需要携带社保卡就医。") == 1.0
    for junk in ["EXAMPLE", "foo 1", "1", "Whatever 1", "a b c d e f g h i", "12/03/2019", "1 2 3 4 5 6 7 8 9 10",
                 "Page 1 of 1", "— — — — —", ""]:
        assert content_weight(junk) < 0.2, junk
    leaders = "Contents\nIntroduction ........ 1\nBackground ........ 4\nMethods ........ 9"
    assert content_weight(leaders) < 0.5


def test_readable_text_shortens_leaders_and_joins_letter_spacing() -> None:
    assert readable("Introduction ............ 1") == "Introduction … 1"
    assert readable("Methods . . . . . . . 9") == "Methods … 9"
    assert readable("T H E   A N N U A L   R E P O R T") == "THE   ANNUAL   REPORT"
    assert readable("S U M M A R Y of the year") == "SUMMARY of the year"
    assert readable("a b c d e f g h i") == "a b c d e f g h i"  # a list of letters stays one
    assert readable("1 2 3 4 5") == "1 2 3 4 5"
    assert readable("Wait... what?") == "Wait... what?"


def test_snippets_show_leaders_short_and_letter_spaced_words_whole() -> None:
    snippet, highlights = make_snippet("C O N T E N T S\nIntroduction .................. 1", ["contents"])
    assert snippet == "CONTENTS Introduction … 1"
    assert [snippet[h.start:h.end] for h in highlights] == ["CONTENTS"]


def _evidence(doc: int, score: float, coverage: float = 0.0, all_words: bool = False, words: int = 0,
              meaning: float = 0.0) -> Evidence:
    return Evidence(document=doc, score=score, coverage=coverage, all_words=all_words,
                    some_words=words > 0 or all_words, words=words, meaning=meaning)


def test_word_matches_come_first_and_related_ones_after_them() -> None:
    evidence = [_evidence(1, 0.9, meaning=0.7), _evidence(2, 0.6, coverage=1.0, all_words=True, words=2,
                                                          meaning=0.5),
                _evidence(3, 0.5, coverage=0.6, words=1, meaning=0.3)]
    assert [e.document for e in shown(evidence)] == [2, 3, 1]


def test_nothing_is_shown_when_nothing_fits() -> None:
    # One common word of four, and meanings all alike and far off: a nonsense query.
    evidence = [_evidence(i, 0.7 - i / 100, coverage=0.11, words=1, meaning=0.3) for i in range(10)]
    evidence += [_evidence(20 + i, 0.5, meaning=0.29 - i / 1000) for i in range(10)]
    assert shown(evidence) == []


def test_weak_partial_matches_and_far_related_ones_are_left_out() -> None:
    evidence = [_evidence(1, 0.9, coverage=1.0, all_words=True, words=3, meaning=0.6),
                _evidence(2, 0.5, coverage=0.1, words=1, meaning=0.2),  # one common word
                _evidence(3, 0.5, coverage=0.2, words=2, meaning=0.2),  # two words of a long query
                _evidence(4, 0.4, meaning=RELATED_FLOOR - 0.01),  # meaning too far off
                _evidence(5, 0.4, meaning=0.58)]  # close in meaning: related
    assert [e.document for e in shown(evidence)] == [1, 3, 5]


def test_a_clear_meaning_winner_is_shown_when_no_document_holds_a_word() -> None:
    lone = [_evidence(1, 0.6, meaning=0.33), _evidence(2, 0.2, meaning=0.12), _evidence(3, 0.2, meaning=0.1)]
    assert [e.document for e in shown(lone)] == [1]
    alike = [_evidence(1, 0.6, meaning=0.33), _evidence(2, 0.58, meaning=0.31)]
    assert shown(alike) == []


def _hit(path: str, related: bool = False, also_at: tuple[str, ...] = ()) -> Hit:
    chunk = ChunkHit(chunk_id=1, page=1, char_start=0, char_end=5, text="hello", snippet="hello",
                     highlights=(), score=1.0)
    return Hit(document_id=1, path=path, title=None, kind="text", mtime=0.0, score=1.0, chunks=(chunk,),
               related=related, also_at=also_at)


def test_command_line_shows_the_related_group_and_where_copies_are() -> None:
    copies = ("/d/b.txt", "/d/c.txt", "/d/e.txt", "/d/f.txt")
    lines = format_hits([_hit("/d/a.txt", also_at=copies), _hit("/d/r.txt", related=True),
                         _hit("/d/s.txt", related=True)], color=False)
    assert lines.count("Related (found by meaning, without your words):") == 1
    assert lines.index("Related (found by meaning, without your words):") > lines.index(" 1. /d/a.txt")
    assert lines.index("Related (found by meaning, without your words):") < lines.index(" 2. /d/r.txt")
    assert [line for line in lines if "also at" in line] == [
        "    also at /d/b.txt", "    also at /d/c.txt", "    also at /d/e.txt", "    also at 1 more place"]
    record = hit_dict(1, _hit("/d/a.txt", related=True, also_at=("/d/b.txt",)))
    assert record["related"] is True and record["also_at"] == ["/d/b.txt"]
