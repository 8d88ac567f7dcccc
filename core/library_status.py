"""The library's totals as ``Library.status`` gives them, read from the counts its triggers
keep (no table is scanned), with the active model and the language hint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .search.language import library_language_hint
from .store.ocr import failed_file_count
from .store.vectors import active_space
from .types import LibraryStatus

if TYPE_CHECKING:
    from .store import Store


def library_status(path: Path, store: Store, reranker_name: str | None) -> LibraryStatus:
    with store.read() as conn:
        counts = store.counts()
        space = active_space(conn)
        version = store.schema_version()
        hint = library_language_hint(conn, space.model_id if space else None)
        ocr_failed = failed_file_count(conn)  # files with pages OCR could not read, listed with the failed
    return LibraryStatus(
        path=str(path), size_bytes=store.size_bytes(), sources=counts.sources,
        documents=counts.documents, failed=counts.failed + ocr_failed, chunks=counts.chunks,
        chunks_embedded=counts.chunks_embedded, embedder=space.model_id if space else None,
        reranker=reranker_name, schema_version=version, language_hint=hint,
    )
