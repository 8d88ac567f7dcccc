from __future__ import annotations

import pytest
from memex.core.indexing.chunking import chunk_pages
from memex.core.types import Page
from tokenizers import Tokenizer

WORDS = ["river", "bank", "money", "loan", "interest", "flood", "water", "stone", "bridge", "village"]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    from importlib.resources import files

    path = files("memex.resources").joinpath("models/bert-uncased-tokenizer.json")
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def _text(paragraphs: int, sentences: int, words: int, seed: int = 0) -> str:
    import random

    rnd = random.Random(seed)
    paras = []
    for _ in range(paragraphs):
        sents = [" ".join(rnd.choice(WORDS) for _ in range(words)).capitalize() + "."
                 for _ in range(sentences)]
        paras.append(" ".join(sents))
    return "\n\n".join(paras)


def test_offsets_point_at_the_chunk_text_and_stay_on_their_page(tokenizer):
    pages = [Page(1, _text(5, 6, 12, 1)), Page(2, ""), Page(3, _text(3, 4, 9, 2))]
    chunks = chunk_pages(pages, tokenizer, max_tokens=64, overlap=16)
    assert {c.page for c in chunks} == {1, 3}
    for c in chunks:
        page_text = pages[c.page - 1].text
        assert page_text[c.char_start:c.char_end] == c.text
        assert c.token_count <= 64


def test_every_word_of_a_page_is_in_some_chunk(tokenizer):
    text = _text(8, 5, 11, 3)
    chunks = chunk_pages([Page(1, text)], tokenizer, max_tokens=50, overlap=10)
    covered = [False] * len(text)
    for c in chunks:
        for i in range(c.char_start, c.char_end):
            covered[i] = True
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


def test_cuts_prefer_sentence_ends_and_windows_overlap(tokenizer):
    text = _text(1, 30, 10, 4)
    chunks = chunk_pages([Page(1, text)], tokenizer, max_tokens=60, overlap=15)
    assert len(chunks) > 3
    for c in chunks[:-1]:
        assert c.text.endswith(".")
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start < a.char_end, "consecutive chunks share context"
        assert b.char_start > a.char_start


def test_short_page_is_one_chunk_and_blank_pages_none(tokenizer):
    chunks = chunk_pages([Page(1, "  \n "), Page(2, "Only a line.")], tokenizer)
    assert [(c.page, c.text) for c in chunks] == [(2, "Only a line.")]


def test_text_without_spaces_still_splits_within_limit(tokenizer):
    text = "x" * 5000 + " tail"
    chunks = chunk_pages([Page(1, text)], tokenizer, max_tokens=32, overlap=8)
    assert all(c.token_count <= 32 for c in chunks)
    assert chunks[-1].text.endswith("tail")


def test_long_pages_are_tokenised_in_blocks_with_correct_offsets(tokenizer):
    text = _text(400, 5, 12, 5)  # ~250k characters, several tokenisation blocks
    chunks = chunk_pages([Page(7, text)], tokenizer, max_tokens=200, overlap=40)
    assert chunks[-1].char_end == len(text.rstrip())
    for c in chunks[::50]:
        assert text[c.char_start:c.char_end] == c.text


def test_rejects_tiny_windows(tokenizer):
    with pytest.raises(ValueError):
        chunk_pages([Page(1, "a b c")], tokenizer, max_tokens=2)
