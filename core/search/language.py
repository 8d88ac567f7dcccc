"""Whether a library is mostly not in English, judged from a sample of its chunks, and the
hint that says which catalogue embedder reads other languages.

The default embedder was trained on English: on German or Chinese text its search by meaning
is weak (exact words, compound parts and CJK words are still found lexically). A chunk counts
as English or not by its script and its commonest words: a run of another script's letters
(CJK, Cyrillic, Greek, Arabic …) is not English; Latin text is English when English function
words outnumber those of the other common European languages. Chunks with too few of either
(code, tables, numbers) are not counted."""

from __future__ import annotations

import re
import threading
import weakref

from ..models.catalogue import catalogue, get_spec
from ..store import Connection
from ..store.caches import StoreCaches, caches_of
from ..store.counts import library_counts
from ..store.vocabulary import sample_chunk_texts
from .query import STOPWORDS, fold

SAMPLE_CHUNKS = 200
MIN_JUDGED = 3  # chunks with a verdict, at least, before a library is called anything
MIN_FUNCTION_WORDS = 2  # per chunk, to call its language
_WORD = re.compile(r"\w+", re.UNICODE)
_LETTER = re.compile(r"[^\W\d_]")
_NON_LATIN = re.compile(r"[^\W\d_\u0000-\u024f]")  # past Latin Extended-B: Greek, Cyrillic, CJK …

# Function words of German, Dutch, the Scandinavian languages, French, Spanish, Italian and
# Portuguese (folded as the index folds them), less any that English writes too.
_OTHER_WORDS = frozenset(
    """
    der die das und ist nicht mit fur auf den von zu ein eine einer sich des dem im werden wird
    auch oder sind bei nach wie uber aus noch nur kann wenn
    het een en van dat niet op te zijn voor met ook wordt worden naar bij aan om deze
    och att det som ar pa for med inte av till har jag ikke og er til af ett ska kan vi
    le la les et est des une pour dans que qui pas sur avec ce il sont du au ou par plus
    el los las es que una por con para del se su al lo como pero mas esta
    il di che per non sono della gli nel alla anche questo
    os as nao um uma com do da em ao dos das mais
    """.split()
) - STOPWORDS
_ENGLISH_WORDS = STOPWORDS - _OTHER_WORDS


def _other_script_letters(text: str) -> tuple[int, int]:
    """(letters, letters outside the Latin script) of ``text``."""
    return len(_LETTER.findall(text)), len(_NON_LATIN.findall(text))


def chunk_language(text: str) -> str | None:
    """"en", "other", or None when the chunk says too little to tell."""
    letters, other = _other_script_letters(text)
    if letters and other * 2 > letters:
        return "other"
    english = foreign = 0
    for word in _WORD.findall(text):
        folded = fold(word)
        english += folded in _ENGLISH_WORDS
        foreign += folded in _OTHER_WORDS
    if max(english, foreign) < MIN_FUNCTION_WORDS:
        return None
    return "en" if english >= foreign else "other"


def mostly_not_english(texts: list[str]) -> bool:
    """Whether more than half of the chunks whose language shows are not in English."""
    verdicts = [v for v in map(chunk_language, texts) if v is not None]
    return len(verdicts) >= MIN_JUDGED and verdicts.count("other") * 2 > len(verdicts)


def embedder_hint(texts: list[str], embedder: str | None, english_only: bool,
                  multilingual: str | None) -> str | None:
    """What to tell the user when the library's texts are mostly not in English and the
    embedder reads English only: the catalogue's multilingual model, by name."""
    if not english_only or embedder is None or multilingual is None or not mostly_not_english(texts):
        return None
    return (f"Most of this library is not in English, and its embedder ({embedder}) understands "
            f"English only: words are still found, but search by meaning works better with "
            f"{multilingual} (memex models download {multilingual}, then memex models use {multilingual}).")


_LOCK = threading.Lock()
_HINTS: weakref.WeakKeyDictionary[StoreCaches, tuple[tuple[int, str | None], str | None]] = \
    weakref.WeakKeyDictionary()


def library_language_hint(conn: Connection, embedder: str | None) -> str | None:
    """:func:`embedder_hint` for the library open on ``conn`` and its active ``embedder`` (a
    catalogue name; a model of the user's own is not judged), from ``SAMPLE_CHUNKS`` chunks
    spread over the library; kept until its chunks change."""
    spec = get_spec(embedder) if embedder else None
    if spec is None:
        return None
    caches = caches_of(conn)
    key = (library_counts(conn).chunk_version, embedder)
    with _LOCK:
        held = _HINTS.get(caches)
    if held is not None and held[0] == key:
        return held[1]
    multilingual = next((s.name for s in catalogue() if s.kind == "embedder" and s.languages == "multilingual"), None)
    hint = embedder_hint(sample_chunk_texts(conn, SAMPLE_CHUNKS), embedder, spec.languages == "en", multilingual)
    with _LOCK:
        _HINTS[caches] = (key, hint)
    return hint
