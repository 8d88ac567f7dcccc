"""Pure parts of search: fusion, query quoting, snippets."""

from __future__ import annotations

from memex.core.search.fusion import fuse_documents, max_normalise, reciprocal_rank_fusion
from memex.core.search.query import fts_match_expression, query_terms
from memex.core.search.snippets import make_snippet, mark


def test_rrf_rewards_agreement_and_keeps_single_list_items():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]])
    keys = [k for k, _ in fused]
    assert keys[0] == "b"
    assert set(keys) == {"a", "b", "c", "d"}
    scores = dict(fused)
    assert abs(scores["b"] - (1 / 62 + 1 / 61)) < 1e-12


def test_rrf_is_deterministic_on_ties_and_weights_apply():
    fused = reciprocal_rank_fusion([["x"], ["y"]])
    assert [k for k, _ in fused] == ["x", "y"]
    weighted = reciprocal_rank_fusion([["x"], ["y"]], weights=[1.0, 2.0])
    assert [k for k, _ in weighted] == ["y", "x"]


def test_max_normalise_keeps_the_natural_zero():
    assert max_normalise([("a", 8.0), ("b", 2.0), ("c", -1.0)]) == {"a": 1.0, "b": 0.25, "c": 0.0}
    assert max_normalise([]) == {}
    assert max_normalise([("a", 0.0)]) == {"a": 0.0}


def test_decisive_lexical_hit_survives_a_failing_semantic_side():
    # One document has the query's rare term (BM25 far ahead); the embedder ranks it last.
    lexical = [("exact", 12.0), ("near1", 2.0), ("near2", 1.5)]
    semantic = [("near1", 0.63)] + [(f"sem{i}", 0.62 - i * 0.01) for i in range(10)] + [("exact", 0.3)]
    owner = {c: c for c, _ in lexical + semantic}
    convex = fuse_documents(lexical, semantic, owner)
    assert convex[0].key == "exact"
    rrf = fuse_documents(lexical, semantic, owner, method="rrf")
    assert rrf[0].key != "exact", "rank fusion flattens the lead: the case convex fusion is for"


def test_document_collects_evidence_from_different_chunks():
    lexical = [("a1", 5.0), ("b1", 4.0)]
    semantic = [("a2", 0.8), ("c1", 0.8)]
    owner = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
    docs = fuse_documents(lexical, semantic, owner, lexical_weight=0.5)
    assert [d.key for d in docs] == ["A", "C", "B"]
    assert docs[0].score == 1.0 and [c for c, _ in docs[0].chunks] == ["a1", "a2"]


def test_a_weak_lexical_match_gets_a_weak_vote():
    # The best BM25 match scores a fifth of what a chunk holding every query term would: it shares
    # one common word with the query. Divided by its own score it would outvote the meaning match.
    lexical = [("common-word", 2.0)]
    semantic = [("meaning", 0.62), ("common-word", 0.35)]
    owner = {c: c for c in ("common-word", "meaning")}
    assert fuse_documents(lexical, semantic, owner)[0].key == "common-word"
    assert fuse_documents(lexical, semantic, owner, lexical_ideal=10.0)[0].key == "meaning"
    # A strong lexical match (at or above the ideal) keeps its full vote.
    strong = fuse_documents([("x", 12.0)], [("y", 0.6), ("x", 0.4)], {"x": "x", "y": "y"}, lexical_ideal=10.0)
    assert strong[0].key == "x" and strong[0].lexical == 1.0


def test_weights_one_and_zero_are_the_single_modes():
    lexical = [("x", 3.0), ("y", 2.0)]
    semantic = [("y", 0.9), ("z", 0.8)]
    owner = {"x": "X", "y": "Y", "z": "Z"}
    assert [d.key for d in fuse_documents(lexical, semantic, owner, 1.0)][:2] == ["X", "Y"]
    assert [d.key for d in fuse_documents(lexical, semantic, owner, 0.0)][:2] == ["Y", "Z"]
    assert [d.key for d in fuse_documents(lexical, [("gone", 1.0)], owner)] == ["X", "Y"]


def test_query_terms_fold_case_accents_and_drop_stopwords():
    assert query_terms("The Café and the CAFE of Zürich") == ["cafe", "zurich"]
    assert query_terms("the and of") == ["the", "and", "of"]
    assert query_terms("C++ \"x") == ["c", "x"]
    assert query_terms("*** 😀 ???") == []


def test_match_expression_quotes_every_term():
    assert fts_match_expression('hello-world NEAR(x) AND "y') == '"hello" OR "world" OR "near" OR "x" OR "y"'
    assert fts_match_expression("😀") is None
    assert fts_match_expression("heat trans", prefix_last=True) == '"heat" OR "trans"*'
    assert fts_match_expression("heat trans ", prefix_last=True) == '"heat" OR "trans"'


def test_snippet_centres_on_matches_and_marks_them():
    text = ("Filler words here. " * 40) + "The boundary layers of supersonic flows separate." + (
        " More filler." * 40)
    snippet, spans = make_snippet(text, query_terms("boundary layer flow"), max_chars=120)
    assert snippet.startswith("…") and snippet.endswith("…")
    marked = [snippet[s.start:s.end].lower() for s in spans]
    assert {"boundary", "layers", "flows"} <= set(marked)
    assert "«boundary»" in mark(snippet, spans, "«", "»")


def test_snippet_of_short_text_is_whole_text():
    snippet, spans = make_snippet("Just one line.", ["line"])
    assert snippet == "Just one line." and [(s.start, s.end) for s in spans] == [(9, 13)]


def test_snippet_highlights_accented_words_at_the_right_offsets():
    text = "Le café à Zürich était fermé; the CAFÉ in Zurich was closed."
    snippet, spans = make_snippet(text, query_terms("cafe zurich"))
    assert [snippet[s.start:s.end] for s in spans] == ["café", "Zürich", "CAFÉ", "Zurich"]


def test_short_terms_match_only_whole_words():
    snippet, spans = make_snippet("gas gases gasket", ["gas"])
    assert [snippet[s.start:s.end] for s in spans] == ["gas"]

