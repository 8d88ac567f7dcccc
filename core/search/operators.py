"""Query operators typed in the search box or on the command line, taken out of the query
before it is searched: ``"exact phrase"``, ``type:pdf``, ``in:folder``, ``before:2024-03``
and ``after:2023``. What is left is searched as usual; the operators become
:class:`~memex.core.types.SearchFilters` and a phrase check on the passages found.

A token that only looks like an operator with nothing after the colon (``type:``) stays in
the text (someone is still typing); a value that cannot be understood is refused in one line
(:class:`OperatorError`) naming what would be accepted."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import MemexError
from ..extract.registry import SUPPORTED_KINDS, kind_named
from ..types import Hit, SearchFilters, SearchResults

# Everyday names for a kind that are neither the kind itself nor one of its file extensions
OPERATOR_KEYS = ("type", "in", "before", "after")
DATE_HELP = "YYYY, YYYY-MM or YYYY-MM-DD"
# A quoted phrase, or a key:value (the value itself quoted, or up to the next space).
_TOKEN = re.compile(r'"(?P<phrase>[^"]+)"|(?<!\S)(?P<key>type|in|before|after):(?:"(?P<qvalue>[^"]*)"|(?P<value>\S+))',
                    re.IGNORECASE)
_SPACES = re.compile(r"\s+")


class OperatorError(MemexError):
    """An operator's value cannot be understood (an unknown type, a date in another format,
    a folder that is not in the library)."""


@dataclass(frozen=True)
class QueryOperators:
    """The typed query taken apart: ``text`` is what is searched, the rest narrows it."""

    text: str
    phrases: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    folder: str | None = None  # as typed: a folder's name or a path (see ``resolve_folder``)
    after: float | None = None  # modified on or after (a timestamp)
    before: float | None = None  # modified before
    operators: tuple[str, ...] = ()  # the operator tokens as typed (phrases not included)

    @property
    def found(self) -> bool:
        """Whether anything was taken out (False: the query is searched as typed)."""
        return bool(self.phrases or self.operators)

    def filters(self, base: SearchFilters | None, folder_path: str | None) -> SearchFilters:
        """``base`` (the window's menus, the CLI's options) narrowed by these operators. Where
        both name types or folders, the narrower applies (the types in both, the folder inside
        the other); where they cannot both hold, what was typed wins over what was chosen."""
        base = base or SearchFilters()
        kinds = base.kinds
        if self.kinds:
            kinds = tuple(k for k in self.kinds if k in base.kinds) or self.kinds
        folder = base.folder
        if folder_path is not None and not (base.folder and _inside(base.folder, folder_path)):
            folder = folder_path
        after = max((t for t in (base.modified_after, self.after) if t is not None), default=None)
        before = min((t for t in (base.modified_before, self.before) if t is not None), default=None)
        return dataclasses.replace(base, folder=folder, kinds=kinds, modified_after=after, modified_before=before)

    def with_text(self, text: str) -> str:
        """``text`` with these operators after it (a corrected query, shown with what was typed)."""
        quoted = [f'"{p}"' for p in self.phrases if p.lower() not in text.lower()]
        return " ".join([text, *quoted, *self.operators]).strip()


def parse_operators(query: str) -> QueryOperators:
    """Take the operators out of ``query``. Raises :class:`OperatorError` for a value that
    cannot be understood."""
    phrases: list[str] = []
    kinds: list[str] = []
    operators: list[str] = []
    folder: str | None = None
    after: float | None = None
    before: float | None = None
    pieces: list[str] = []
    last = 0
    for match in _TOKEN.finditer(query):
        pieces.append(query[last:match.start()])
        last = match.end()
        phrase = match.group("phrase")
        if phrase is not None:
            words = _SPACES.sub(" ", phrase).strip()
            if words:
                phrases.append(words)
                pieces.append(f" {words} ")  # the phrase's words are searched too
            continue
        key = match.group("key").lower()
        value = (match.group("qvalue") if match.group("qvalue") is not None else match.group("value")).strip()
        if not value:
            pieces.append(match.group(0))
            continue
        operators.append(match.group(0))
        if key == "type":
            kinds += [resolve_kind(v) for v in value.split(",") if v.strip()]
        elif key == "in":
            folder = value
        elif key == "after":
            after = parse_date(value, "after")
        else:
            before = parse_date(value, "before")
    pieces.append(query[last:])
    if after is not None and before is not None and after >= before:
        raise OperatorError("after: must be an earlier date than before: — no document can be modified on or "
                            "after the one and before the other.")
    text = _SPACES.sub(" ", "".join(pieces)).strip()
    return QueryOperators(text, tuple(phrases), tuple(dict.fromkeys(kinds)), folder, after, before,
                          tuple(operators))


def resolve_kind(text: str) -> str:
    """The kind for ``text``: a kind (``pdf``), a file extension (``htm``) or an everyday name
    (``word``), in any case."""
    kind = kind_named(text)
    if kind is None:
        raise OperatorError(f"type:{text} is not a file type Memex indexes; known types: "
                            f"{', '.join(sorted(SUPPORTED_KINDS))} (extensions such as htm or md work too).")
    return kind


def parse_date(text: str, key: str) -> float:
    """``2024``, ``2024-03`` or ``2024-03-31`` as the timestamp of that period's first local
    midnight."""
    parts = text.strip().split("-")
    try:
        if len(parts) > 3 or not all(p.isdigit() for p in parts):
            raise ValueError(text)
        numbers = [int(p) for p in parts] + [1] * (3 - len(parts))
        return datetime(numbers[0], numbers[1], numbers[2]).timestamp()
    except (ValueError, OverflowError, OSError):
        raise OperatorError(f"{key}:{text} is not a date; use {DATE_HELP}, e.g. {key}:2024-03-31.") from None


def resolve_folder(typed: str, sources: Sequence[str], isdir: Callable[[str], bool] = os.path.isdir) -> str:
    """The folder ``in:typed`` means: a path (absolute or from ``~``), one of the library's
    folders by name, or a folder inside one of them (``in:reports`` or ``in:work/reports``).
    Names compare without regard to case."""
    if typed.startswith(("~", os.sep)) or os.path.isabs(typed):
        return os.path.abspath(os.path.expanduser(typed))
    wanted = typed.strip(os.sep).casefold()
    for source in sources:
        if os.path.basename(source.rstrip(os.sep)).casefold() == wanted:
            return source
    for source in sources:
        inside = os.path.join(source, typed.strip(os.sep))
        if isdir(inside):
            return inside
    names = ", ".join(sorted({os.path.basename(s.rstrip(os.sep)) for s in sources})) or "none yet"
    raise OperatorError(f"in:{typed} is not one of your folders or a folder inside one; your folders: {names}.")


def keep_phrases(hits: Iterable[Hit], phrases: Sequence[str]) -> list[Hit]:
    """The hits with a passage holding every phrase (in any case, any spacing); each keeps
    only those passages."""
    if not phrases:
        return list(hits)
    patterns = [re.compile(r"\s+".join(re.escape(w) for w in p.split()), re.IGNORECASE) for p in phrases]
    kept: list[Hit] = []
    for hit in hits:
        chunks = tuple(c for c in hit.chunks if all(p.search(c.text) for p in patterns))
        if chunks:
            kept.append(dataclasses.replace(hit, chunks=chunks))
    return kept


def apply_operators(ops: QueryOperators, typed: str, found: SearchResults, k: int) -> SearchResults:
    """What ``typed`` shows: the results found for ``ops.text``, phrases checked, at most
    ``k``; a corrected spelling shown with the operators that were typed."""
    hits = keep_phrases(found.hits, ops.phrases)[:k]
    showing = ops.with_text(found.showing_results_for) if found.showing_results_for else None
    return SearchResults(query=typed, hits=tuple(hits), showing_results_for=showing)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
