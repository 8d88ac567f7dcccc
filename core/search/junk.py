"""How much a passage says, and its text as a person reads it.

Embedders give near-empty passages ("EXAMPLE", "foo 1", "1"), number runs, table-of-contents
leaders and letter-spaced headings vectors that sit near the middle of every topic, so vague
queries find them closer than any real text. A passage's *content weight* (0..1) says how much
real text it holds: distinct words of two letters or more (a CJK character counts as half a
word), and the share of its characters that are letters. Search multiplies a passage's
meaning score by it, so a passage of a word or two cannot win on meaning (see
``search.hybrid``); a passage of ``FULL_WORDS`` words of prose or more keeps its score.

:func:`readable` is what snippets show: leaders shortened, letter-spaced words joined.
"""

from __future__ import annotations

import re

FULL_WORDS = 12  # distinct words at which a passage counts as real text
PROSE_LETTERS = 0.6  # share of letters among non-space characters at which it reads as prose
SAMPLE_CHARS = 400
QUICK_CHARS = 160

_LETTERS = re.compile(r"[^\W\d_]+")
_SPACE = re.compile(r"\s")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# Leaders: four or more dots (or middle dots, underscores, ellipses), spaced or not.
_LEADER = re.compile(r"[ \t]?[.·…_](?:[ \t]?[.·…_]){3,}[ \t]?")
_LEADER_MARKS = ("....", ". . .", "…", "____", "··")
# Letter-spacing: three or more single letters, one space apart ("S U M M A R Y").
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W\d_] ){2,}[^\W\d_](?![^\W_])")


def readable(text: str) -> str:
    """``text`` with leaders cut to " … " and letter-spaced words written together. A run of
    single letters is joined only when it is written in capitals, or the text puts
    wider gaps between its words: "a b c d" as a list of letters stays as it is."""
    if any(mark in text for mark in _LEADER_MARKS):
        text = _LEADER.sub(" … ", text)
    wide_gaps = "  " in text
    return _SPACED.sub(lambda m: _joined(m.group(), wide_gaps), text)


def _joined(run: str, wide_gaps: bool) -> str:
    letters = run.replace(" ", "")
    return letters if wide_gaps or letters.isupper() else run


def content_words(text: str) -> float:
    """Distinct words of two letters or more in ``text`` as read (see :func:`readable`); each
    distinct CJK character counts as half a word (Chinese words are one to three characters)."""
    return _words_and_letters(readable(text))[0]


def letter_share(text: str) -> float:
    """Letters among the non-space characters of ``text`` (0 when there are none)."""
    visible = len(text) - len(_SPACE.findall(text))
    return _words_and_letters(text)[1] / visible if visible else 0.0


def _words_and_letters(text: str) -> tuple[float, int]:
    runs = _LETTERS.findall(text)
    letters = sum(map(len, runs))
    if text.isascii():
        return len({w.lower() for w in runs if len(w) > 1}), letters
    words = {w.lower() for w in runs if len(w) > 1 and not _CJK.search(w)}
    return len(words) + len(set(_CJK.findall(text))) / 2, letters


def content_weight(text: str) -> float:
    """0..1: how much real text ``text`` holds (1 for a passage of prose), judged on its first
    ``SAMPLE_CHARS`` characters: enough for ``FULL_WORDS`` words, and a passage that starts as
    prose is no junk. Search weighs a few hundred passages per query, so a passage whose first
    ``QUICK_CHARS`` already read as prose is not looked at further."""
    quick = _weight(text[:QUICK_CHARS])
    return quick if quick >= 1.0 or len(text) <= QUICK_CHARS else _weight(text[:SAMPLE_CHARS])


def _weight(sample: str) -> float:
    seen = readable(sample)
    words, letters = _words_and_letters(seen)
    visible = len(seen) - len(_SPACE.findall(seen))
    share = letters / visible if visible else 0.0
    return min(1.0, words / FULL_WORDS) * min(1.0, share / PROSE_LETTERS)
