"""Pages → token-sized chunks that keep their page and character offsets.

Windows are measured in the embedder's own tokens, so a chunk never overflows the model.
Cuts prefer, in order: a paragraph break, a sentence end, a line break, a word boundary.
Chunks never cross pages; consecutive chunks share about ``overlap`` tokens of context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..types import ChunkSpan, Page

BLOCK_CHARS = 20_000  # tokenise long pages in blocks so memory stays flat
_PARA = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = frozenset(".!?;:。！？")


class TokenizerLike(Protocol):
    def encode_batch(self, inputs: list[str], /, *, add_special_tokens: bool = ...) -> list: ...


def chunk_pages(
    pages: Iterable[Page], tokenizer: TokenizerLike, max_tokens: int = 200, overlap: int = 40
) -> list[ChunkSpan]:
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    overlap = max(0, min(overlap, max_tokens // 2))
    chunks: list[ChunkSpan] = []
    for page in pages:
        if page.text.strip():
            chunks.extend(_chunk_page(page, tokenizer, max_tokens, overlap))
    return chunks


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


def _token_offsets(page_text: str, tokenizer: TokenizerLike) -> list[tuple[int, int]]:
    blocks = _blocks(page_text)
    encodings = tokenizer.encode_batch([b for _, b in blocks], add_special_tokens=False)
    offsets: list[tuple[int, int]] = []
    for (base, _), enc in zip(blocks, encodings, strict=True):
        offsets.extend((base + s, base + e) for s, e in enc.offsets if e > s)
    return offsets


def _boundary_strength(text: str, offsets: Sequence[tuple[int, int]], j: int) -> int:
    """How good a cut is *before* token ``j``: 4 paragraph, 3 sentence, 2 line, 1 word, 0 none."""
    prev_end, next_start = offsets[j - 1][1], offsets[j][0]
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


def _best_cut(text: str, offsets: Sequence[tuple[int, int]], lo: int, hi: int) -> int:
    """The token index in (lo, hi] to cut before, preferring strong boundaries near ``hi``."""
    best, best_strength = hi, -1
    for j in range(hi, lo, -1):
        strength = _boundary_strength(text, offsets, j)
        if strength > best_strength:
            best, best_strength = j, strength
            if strength == 4:
                break
    return best


def _next_start(text: str, offsets: Sequence[tuple[int, int]], lo: int, hi: int) -> int:
    """Where the next window starts: the strongest boundary in [lo, hi), earliest on ties."""
    best, best_strength = hi, -1
    for j in range(max(lo, 1), hi):
        strength = _boundary_strength(text, offsets, j)
        if strength > best_strength:
            best, best_strength = j, strength
    return best


def _chunk_page(page: Page, tokenizer: TokenizerLike, max_tokens: int, overlap: int) -> list[ChunkSpan]:
    text = page.text
    offsets = _token_offsets(text, tokenizer)
    n = len(offsets)
    spans: list[ChunkSpan] = []
    start = 0
    while start < n:
        end = n if n - start <= max_tokens else _best_cut(
            text, offsets, start + max_tokens // 2, start + max_tokens)
        c0, c1 = offsets[start][0], offsets[end - 1][1]
        spans.append(ChunkSpan(page.number, c0, c1, text[c0:c1], end - start))
        if end >= n:
            break
        nxt = _next_start(text, offsets, end - overlap, end) if overlap else end
        start = max(nxt, start + 1)
    return spans
