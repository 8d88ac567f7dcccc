"""10 000 file operations in a few seconds through the real FolderWatcher and Library.refresh:
once things settle, the index matches the disk exactly."""

from __future__ import annotations

import random
from pathlib import Path

from memex.core.indexing.scan import IgnoreRules
from memex.core.indexing.watcher import FolderWatcher
from memex.core.library import Library
from memex_bench.robustness import _make_corpus, storm


def test_ten_thousand_events_end_in_an_index_that_matches_the_disk(tmp_path: Path, hash_embedder) -> None:
    rng = random.Random(11)
    folder = tmp_path / "watched"
    _make_corpus(folder, rng, 300)
    result = storm(folder, tmp_path / "library.db", hash_embedder, 10_000, rng, settle_limit_s=150,
                   watcher_cls=FolderWatcher, rules_cls=IgnoreRules, library_cls=Library, debounce_s=0.5)
    assert result["operations"] == 10_000
    assert result["settled"], result
    assert result["failures"] == []
    assert result["missed"] == 0, result  # files missing, stale, or phantom after settling
    assert result["rescan_changes"] == 0, result  # a full rescan found nothing left to do
    assert result["files"] > 100
