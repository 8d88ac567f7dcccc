"""Pages → token-sized chunks that keep their page and character offsets.

Windows are measured in the embedder's own tokens, so a chunk never overflows the model.
Cuts prefer, in order: a paragraph break, a sentence end, a line break, a word boundary.
Chunks never cross pages; consecutive chunks share about ``overlap`` tokens of context.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..types import ChunkSpan, Page

BLOCK_CHARS = 20_000  # tokenise long pages in blocks so memory stays flat
CALL_CHARS = 160_000  # characters given to the tokenizer at once (its encodings are large)
_PARA = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = frozenset(".!?;:。！？")


class TokenizerLike(Protocol):
    def encode_batch(self, inputs: list[str], /, *, add_special_tokens: bool = ...) -> list: ...


def chunk_pages(
    pages: Iterable[Page], tokenizer: TokenizerLike, max_tokens: int = 200, overlap: int = 40
) -> list[ChunkSpan]:
    return chunk_documents([list(pages)], tokenizer, max_tokens, overlap)[0]


def chunk_documents(documents: Sequence[Sequence[Page]], tokenizer: TokenizerLike, max_tokens: int = 200,
                    overlap: int = 40) -> list[list[ChunkSpan]]:
    """:func:`chunk_pages` for several documents at once: their pages are tokenised together,
    in calls of about ``CALL_CHARS`` characters (one call per short file would cost more than
    its tokens), and each page is cut as soon as its last block is tokenised."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    overlap = max(0, min(overlap, max_tokens // 2))
    out: list[list[ChunkSpan]] = [[] for _ in documents]
    pages = [(d, page) for d, doc in enumerate(documents) for page in doc if page.text.strip()]
    work = [(k, base, block) for k, (_, page) in enumerate(pages) for base, block in _blocks(page.text)]
    blocks_left = Counter(k for k, _, _ in work)
    offsets: dict[int, Offsets] = {}
    start = 0
    while start < len(work):
        end, chars = start, 0
        while end < len(work) and (end == start or chars + len(work[end][2]) <= CALL_CHARS):
            chars += len(work[end][2])
            end += 1
        part = work[start:end]
        encodings = tokenizer.encode_batch([block for _, _, block in part], add_special_tokens=False)
        for (k, base, _), enc in zip(part, encodings, strict=True):
            offsets.setdefault(k, Offsets()).add(base, enc.offsets)
            blocks_left[k] -= 1
            if blocks_left[k] == 0:
                d, page = pages[k]
                out[d].extend(_chunk_page(page, offsets.pop(k), max_tokens, overlap))
        start = end
    return out


def _blocks(text: str) -> list[tuple[int, str]]:
    """Split a long page at paragraph breaks into blocks of at most ~BLOCK_CHARS characters."""
    if len(text) <= BLOCK_CHARS:
        return [(0, text)]
    blocks: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + BLOCK_CHARS)
        if end < len(text):
            cut = text.rfind("\n\n", start + BLOCK_CHARS // 2, end)
            if cut < 0:
                cut = text.rfind(" ", start + BLOCK_CHARS // 2, end)
            end = cut + 1 if cut > 0 else end
        blocks.append((start, text[start:end]))
        start = end
    return blocks


class Offsets:
    """Token (start, end) character offsets of a page, kept as two compact integer arrays: a
    multi-megabyte page has millions of tokens, and a tuple per token would take ~10x more."""

    def __init__(self) -> None:
        self.starts = array("q")
        self.ends = array("q")

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, j: int) -> tuple[int, int]:
        return self.starts[j], self.ends[j]

    def add(self, base: int, token_offsets: Iterable[tuple[int, int]]) -> None:
        """The offsets of one block's tokens (empty ones left out), ``base`` its page offset."""
        for s, e in token_offsets:
            if e > s:
                self.starts.append(base + s)
                self.ends.append(base + e)


def _boundary_strength(text: str, offsets: Offsets, j: int) -> int:
    """How good a cut is *before* token ``j``: 4 paragraph, 3 sentence, 2 line, 1 word, 0 none."""
    prev_end, next_start = offsets.ends[j - 1], offsets.starts[j]
    gap = text[prev_end:next_start]
    if not gap:
        return 0  # inside a word (word pieces, or punctuation glued to a word)
    if _PARA.search(gap) or gap.count("\n") >= 2:
        return 4
    if text[prev_end - 1] in _SENTENCE_END:
        return 3
    if "\n" in gap:
        return 2
    return 1


def _best_cut(text: str, offsets: Offsets, lo: int, hi: int) -> int:
    """The token index in (lo, hi] to cut before, preferring strong boundaries near ``hi``."""
    best, best_strength = hi, -1
    for j in range(hi, lo, -1):
        strength = _boundary_strength(text, offsets, j)
        if strength > best_strength:
            best, best_strength = j, strength
            if strength == 4:
                break
    return best


def _next_start(text: str, offsets: Offsets, lo: int, hi: int) -> int:
    """Where the next window starts: the strongest boundary in [lo, hi), earliest on ties."""
    best, best_strength = hi, -1
    for j in range(max(lo, 1), hi):
        strength = _boundary_strength(text, offsets, j)
        if strength > best_strength:
            best, best_strength = j, strength
    return best


def _chunk_page(page: Page, offsets: Offsets, max_tokens: int, overlap: int) -> list[ChunkSpan]:
    text = page.text
    n = len(offsets)
    spans: list[ChunkSpan] = []
    start = 0
    while start < n:
        end = n if n - start <= max_tokens else _best_cut(
            text, offsets, start + max_tokens // 2, start + max_tokens)
        c0, c1 = offsets.starts[start], offsets.ends[end - 1]
        spans.append(ChunkSpan(page.number, c0, c1, text[c0:c1], end - start))
        if end >= n:
            break
        nxt = _next_start(text, offsets, end - overlap, end) if overlap else end
        start = max(nxt, start + 1)
    return spans
