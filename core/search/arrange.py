"""What a search shows, in which order: documents holding query words first, then those found
by meaning alone ("related"), each group in fused order; only documents with enough going for
them; and nothing when nothing fits (pure functions over each document's evidence).

- Nothing is shown unless something fits the query: a document holding every query word (or
  named by them), or most of their weight (``FIT_COVERAGE`` of their IDF), or one close in
  meaning (``FIT_MEANING``). A page that shares only "via" with "Tre Cime via ferrata" fits
  nothing, so that query finds nothing.
- A document holding every query word is shown. One holding only some is shown when they carry
  a good part of the query's weight (``PARTIAL_COVERAGE``), or it holds two of them or more
  (``PARTIAL_WORDS``: a long question shares a few words with its answer), or its meaning is
  close (``PARTIAL_MEANING``).
- A document holding none is shown, marked related, only when its meaning is close (the
  stricter ``related_floor``) and — when other documents hold query words — not far behind the
  best meaning match (``RELATED_SHARE``). When no document holds a query word, the closest in
  meaning is also shown if it stands well ahead of the rest (:func:`clear_winner`). So a query
  whose words the library does not hold still finds a close match by meaning.

Holding every word does not rank a document above one holding most of them: long documents hold
every word of a long question somewhere, and fusion already ranks fuller matches higher (on the
real-folder queries, putting them first lost a third of the first places it won).

"Meaning" is the cosine of a document's best passage with the query as typed, times the
passage's content weight (``search.junk``), so near-empty passages never pass on meaning.
The thresholds were chosen on the real-folder queries (tests/realfolder) and Cranfield: with
them no nonsense query finds anything and Cranfield's nDCG@10 stays where it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

# Chosen on the real-folder queries and Cranfield (see README, "How hybrid ranks").
FIT_COVERAGE = 0.4
FIT_MEANING = 0.4
PARTIAL_COVERAGE = 0.3
PARTIAL_WORDS = 2
PARTIAL_MEANING = 0.4
RELATED_FLOOR = 0.45
RELATED_SHARE = 0.85
LONE_FLOOR, LONE_LEAD = 0.25, 0.75


class Tier(IntEnum):
    """How a document matches the query's words."""

    ALL_WORDS = 0
    SOME_WORDS = 1
    RELATED = 2  # none of them: found by meaning alone


@dataclass(frozen=True)
class Evidence:
    """What one fused document has going for it."""

    document: int
    score: float  # fused score (see ``search.fusion``)
    coverage: float  # share of the query's word weight its candidate passages hold, 0..1
    all_words: bool  # its candidate passages (or its name) hold every query word
    some_words: bool  # it holds at least one query word (or a word holding one as a part)
    words: int  # how many of the query's words its candidate passages hold
    meaning: float  # best content-weighted cosine of its passages with the query (0 if none)

    @property
    def tier(self) -> Tier:
        if self.all_words:
            return Tier.ALL_WORDS
        return Tier.SOME_WORDS if self.some_words else Tier.RELATED


def fits(evidence: Sequence[Evidence]) -> bool:
    """Whether anything fits the query: a document holding every query word or most of their
    weight (``FIT_COVERAGE``), or one close in meaning (``FIT_MEANING``)."""
    return any(e.all_words or (e.some_words and e.coverage >= FIT_COVERAGE) or e.meaning >= FIT_MEANING
               for e in evidence)


def kept(e: Evidence, related_floor: float, best_meaning: float, worded: bool) -> bool:
    """Whether ``e`` is shown, once something fits the query (see the module docstring)."""
    tier = e.tier
    if tier is Tier.SOME_WORDS:
        return e.coverage >= PARTIAL_COVERAGE or e.words >= PARTIAL_WORDS or e.meaning >= PARTIAL_MEANING
    if tier is Tier.RELATED:
        return e.meaning >= related_floor and not (worded and e.meaning < RELATED_SHARE * best_meaning)
    return True


def clear_winner(evidence: Sequence[Evidence]) -> Evidence | None:
    """When no document holds a query word: the one closest in meaning, if it stands well
    ahead of the next (``LONE_LEAD``) and is not far off (``LONE_FLOOR``). A word the library
    lacks ("Krankenkasse") then still finds the one letter about health insurance, while a
    nonsense query, which all documents are about equally far from, finds nothing."""
    if any(e.some_words for e in evidence):
        return None
    ranked = sorted(evidence, key=lambda e: -e.meaning)
    if not ranked or ranked[0].meaning < LONE_FLOOR:
        return None
    runner_up = ranked[1].meaning if len(ranked) > 1 else 0.0
    return ranked[0] if runner_up < LONE_LEAD * ranked[0].meaning else None


def shown(evidence: Sequence[Evidence], related_floor: float = RELATED_FLOOR) -> list[Evidence]:
    """The documents to show, in the order to show them (see the module docstring)."""
    winner = clear_winner(evidence)
    if not fits(evidence):
        return [winner] if winner is not None else []
    worded = any(e.some_words for e in evidence)
    best_meaning = max((e.meaning for e in evidence), default=0.0)
    order = {e.document: i for i, e in enumerate(evidence)}
    chosen = [e for e in evidence if e is winner or kept(e, related_floor, best_meaning, worded)]
    return sorted(chosen, key=lambda e: (e.tier is Tier.RELATED, -e.score, order[e.document]))
