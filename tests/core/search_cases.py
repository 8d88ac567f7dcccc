"""A small real library and a set of ordinary and hostile queries, with every detail of what
``Library.search`` answers (ids, scores, snippets, highlights, ranks), for comparing one
version of the search code with another.

``test_parsed_query.py`` checks the answers against ``search_golden.json``. The golden file
was written by running this module as a script against the code before queries were parsed
once per search, and written again when search began to weigh passages by their content, leave
out documents with too little going for them and show nothing when nothing fits
(``search.junk``, ``search.arrange``)::

    PYTHONPATH=/tmp/basepkg .venv/bin/python tests/core/search_cases.py tests/core/search_golden.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docgen  # noqa: E402

MTIME_OLD, MTIME_NEW = 1_600_000_000, 1_700_000_000

_LONG = " ".join(
    f"Section {i}. The boundary layer flow over a heated plate thickens downstream; "
    f"heat transfer falls as the layer grows, and turbulence (transition near Re {i}e5) mixes it."
    for i in range(1, 30))

FILES: dict[str, str] = {
    "notes/hello-world.md": "# Hello world\n\nThe first program prints hello-world. Hello again, world!\n",
    "notes/garden.md": "# Garden notes\n\nTomatoes need full sun and deep watering. Zucchini spread.\n",
    "notes/Zürich café.txt": "Café in Zürich: the CAFE near the lake serves Kaffee und Kuchen. Über alles.\n",
    "code/heat_transfer.py": "def heat_transfer(q, area):\n"
                             "    \"\"\"Heat transfer per area.\"\"\"\n    return q / area\n",
    "code/primer.txt": "C++ primer: templates, \"x\" quotes, operator overloading, and C# is not C++.\n",
    "papers/boundary.txt": _LONG,
    "papers/tokyo.txt": "東京タワー is a tower in 東京. Tokyo Tower glows orange at night. 東京 タワー.\n",
    "papers/stop.txt": "The and of: to be or not to be, that is the question.\n",
}


def build(root: Path) -> Path:
    """The documents under ``root/docs`` (fixed contents and modification times)."""
    folder = root / "docs"
    for rel, text in FILES.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    docgen.make_pdf(folder / "papers" / "report.pdf", [
        "Quarterly budget review. Revenue grew in the northern region while costs stayed flat.",
        "The old lighthouse keeper fed the seagulls every morning before dawn.",
        "Appendix. Heat transfer tables and a glossary of boundary terms.",
    ], title="Annual report")
    docgen.make_html(folder / "notes" / "page.html", "Lighthouse guide",
                     ["A lighthouse keeper's guide to lenses.", "Hello world of lamps."])
    for i, path in enumerate(sorted(p for p in folder.rglob("*") if p.is_file())):
        stamp = MTIME_OLD if i % 2 else MTIME_NEW
        os.utime(path, (stamp, stamp))
    return folder


QUERIES: list[str] = [
    "boundary layer flow", "heat trans", "heat trans ", "heat", "C++ \"x", "hello-world",
    "hello-world NEAR(x) AND \"y", "Café Zürich", "cafe zurich", "ZÜRICH", "東京 タワー", "東京タワー",
    "😀", "*** ???", "the and of", "annual report", "report", "lighthouse keeper", "lighth",
    "tomatoes watering", "a man who looks after a coastal beacon", "transition turbulence Re 5e5",
    "primer C#", "\"\"\"", "-", "NOT AND OR", "x*", "col:heat", "^boundary", "( flow",
    " ".join(f"w{i}" for i in range(80)) + " heat",
]


def _filters(folder: Path) -> dict[str, Any]:
    from memex.core.types import SearchFilters

    return {
        "none": None,
        "markdown": SearchFilters(kinds=("markdown",)),
        "papers": SearchFilters(folder=str(folder / "papers")),
        "recent": SearchFilters(modified_after=float(MTIME_NEW - 10)),
    }


def _hit_record(hit: Any, folder: Path) -> dict[str, Any]:
    return {
        "document_id": hit.document_id, "path": os.path.relpath(hit.path, folder), "title": hit.title,
        "kind": hit.kind, "score": hit.score, "reranked": hit.reranked,
        "chunks": [{
            "chunk_id": c.chunk_id, "page": c.page, "char_start": c.char_start, "char_end": c.char_end,
            "score": c.score, "snippet": c.snippet, "highlights": [[h.start, h.end] for h in c.highlights],
            "lexical_rank": c.lexical_rank, "semantic_rank": c.semantic_rank,
        } for c in hit.chunks],
    }


def cases(folder: Path) -> list[dict[str, Any]]:
    """(query, mode, prefix, filter, rerank) combinations, each once."""
    out = []
    for query in QUERIES:
        for mode in ("bm25", "dense", "hybrid"):
            out.append({"query": query, "mode": mode, "prefix_last": False, "filter": "none", "rerank": False})
        out.append({"query": query, "mode": "hybrid", "prefix_last": True, "filter": "none", "rerank": False})
        out.append({"query": query, "mode": "bm25", "prefix_last": True, "filter": "none", "rerank": False})
    for query in ("heat transfer", "hello", "lighthouse", "Café", "boundary"):
        for name in _filters(folder):
            out.append({"query": query, "mode": "hybrid", "prefix_last": False, "filter": name, "rerank": False})
    for query in ("heat transfer boundary", "lighthouse keeper", "hello-world", "C++ \"x"):
        out.append({"query": query, "mode": "hybrid", "prefix_last": False, "filter": "none", "rerank": True})
    return out


def run_cases(library: Any, folder: Path) -> list[dict[str, Any]]:
    """Every case with the hits ``library`` answers."""
    filters = _filters(folder)
    answered = []
    for case in cases(folder):
        hits = library.search(case["query"], k=5, mode=case["mode"], prefix_last=case["prefix_last"],
                              filters=filters[case["filter"]], rerank=case["rerank"])
        answered.append({**case, "hits": [_hit_record(h, folder) for h in hits]})
    return answered


def open_library(root: Path, reranker: Path) -> Any:
    from memex.core.library import Library

    return Library.open(root / "library.db", reranker=str(reranker))


def main(out: str) -> None:
    import tempfile

    shared = Path(os.environ.get("MEMEX_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MEMEX_HOME"] = str(Path(tmp) / "home")
        folder = build(Path(tmp))
        library = open_library(Path(tmp), shared / "models" / "random-cross-encoder-L6-H384")
        try:
            library.index([folder])
            answered = run_cases(library, folder)
        finally:
            library.close()
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in answered)  # a case a line
    Path(out).write_text(f"[\n{lines}\n]\n", encoding="utf-8")


if __name__ == "__main__":  # the extraction worker's child imports this module again
    main(sys.argv[1])
