"""The benchmark suites behind ``memex bench``, each returning table rows."""

from __future__ import annotations

from pathlib import Path

from memex.core.errors import MemexError

from .table import Row

ORDER = ["embed", "rerank", "latency", "indexing", "robustness", "ocr", "window"]


def run(name: str, *, workdir: Path | None, reranker: str | None, sizes: list[int], rounds: int | None,
        folder: Path | None = None, pages: int = 12) -> list[Row]:
    if name == "embed":
        from . import embed, embed_profile

        measured = embed.run()
        return embed.table_rows(measured) + embed_profile.suite_rows(measured)
    if name == "rerank":
        from . import rerank

        spec = reranker or rerank.default_reranker()
        if spec is None:
            raise MemexError("No reranker to measure: pass --reranker FOLDER.")
        return rerank.run(spec)
    if name == "indexing":
        from . import indexing

        return indexing.run(workdir or _scratch("indexing"), folder=folder)
    if name == "latency":
        from . import cli_latency, latency

        folder = workdir or _scratch("latency")
        cli_rows = cli_latency.run(folder / "cli")  # whole-process memex search vs recollq
        return cli_rows + [Row(**row) for row in latency.run(sizes, 50, folder)]
    if name == "robustness":
        from . import robustness

        rows = robustness.run(workdir or _scratch("robustness"), kill_rounds=rounds or 200)
        print(robustness.format_table(rows))
        return []
    if name == "ocr":
        from . import ocr_bench

        return ocr_bench.run(workdir or _scratch("ocr"), pages=pages, folder=folder,
                             rounds=rounds or ocr_bench.FOLDER_ROUNDS)
    if name == "window":
        from . import window_latency

        return window_latency.run(workdir or _scratch("window"), folder=folder)
    raise MemexError(f"Unknown benchmark '{name}'.")


def _scratch(name: str) -> Path:
    """A folder for benchmark libraries that are worth keeping between runs (they take minutes)."""
    from memex.core.config import cache_dir

    path = cache_dir() / "bench" / name
    path.mkdir(parents=True, exist_ok=True)
    return path
