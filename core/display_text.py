"""Text from outside (file names, document text) made safe to show: any control character,
bidi override or invisible format character becomes a visible escape (``\\x1b``, ``\\n``,
``\\u202e``). The terminal and the window use the same rule, so a name such as
``invoice\\u202efdp.exe`` shows what it is in both."""

from __future__ import annotations

import re

# Shown escaped wherever outside text is shown: C0 and DEL, C1 (as characters), line and
# paragraph separators, bidi embeddings/overrides/isolates (they reorder what is shown), and
# invisible format characters that can hide or smuggle text (zero-width space, word joiner
# and invisible operators, BOM, interlinear annotations, tag characters), plus lone
# surrogates (undecodable bytes; they cannot be written at all). Kept as they are: ZWNJ/ZWJ
# (U+200C/D, needed by Indic and Persian text and emoji) and the directional marks LRM, RLM
# and ALM (U+200E/F, U+061C: common in right-to-left text, and they cannot reorder letters).
UNSAFE_CLASS = ("\x00-\x1f\x7f-\x9f\u180e\u200b\u2028\u2029\u202a-\u202e\u2060-\u2064"
                "\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f\ud800-\udfff")
UNSAFE = re.compile(f"[{UNSAFE_CLASS}]")
_SPACES = re.compile("[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(text: object, *, fold_space: bool = False) -> str:
    """``text`` with nothing a terminal would act on: unsafe characters shown as escapes.
    ``fold_space``: runs of tabs and line breaks become one space (for document text)."""
    text = str(text)
    if fold_space:
        text = _SPACES.sub(" ", text)
    return UNSAFE.sub(lambda m: escape_char(m.group()), text)
