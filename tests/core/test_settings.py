"""Settings are values: never changed in place, replaced whole through ``Library.update_settings``;
the ignore rules and thread counts come from one place."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

import pytest
from memex.core.config import DEFAULT_IGNORE, Settings, automatic_threads
from memex.core.indexing.scan import IgnoreRules
from memex.core.types import Changes


def test_settings_cannot_be_changed_in_place() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.threads = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ignore = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):  # the patterns are a tuple: no list to append to
        settings.ignore.append("*.bak")  # type: ignore[attr-defined]
    assert settings == Settings() and hash(settings) == hash(Settings())


def test_with_changes_makes_a_new_value_and_leaves_the_old_one() -> None:
    old = Settings()
    new = old.with_changes(threads=2, ignore=["node_modules", "*.bak"])
    assert (new.threads, new.ignore) == (2, ("node_modules", "*.bak"))
    assert (old.threads, old.ignore) == (0, DEFAULT_IGNORE)
    with pytest.raises(TypeError):
        old.with_changes(no_such_setting=1)


def test_a_list_given_for_the_patterns_is_copied(tmp_path: Path) -> None:
    patterns = ["*.tmp"]
    settings = Settings(ignore=patterns)  # type: ignore[arg-type]
    patterns.append("*.bak")
    assert settings.ignore == ("*.tmp",)


def test_save_and_load_keep_the_same_value() -> None:
    settings = Settings(threads=3, ignore=("*.bak", "build"), index_hidden=True)
    settings.save()
    assert json.loads(Settings.path().read_text(encoding="utf-8"))["ignore"] == ["*.bak", "build"]
    assert Settings.load() == settings


def test_ignore_rules_and_threads_come_from_the_settings() -> None:
    rules = Settings(ignore=("*.bak",), index_hidden=False).ignore_rules()
    assert isinstance(rules, IgnoreRules)
    assert rules.ignored("x.bak") and rules.ignored(".hidden") and not rules.ignored("x.txt")
    assert not Settings(ignore=(), index_hidden=True).ignore_rules().ignored(".hidden")
    assert Settings(threads=3).effective_threads() == 3
    assert Settings().effective_threads() == automatic_threads() == max(1, min(4, os.cpu_count() or 1))


def test_update_settings_applies_to_the_next_run_and_not_to_the_one_under_way(tmp_path, library) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "plan.txt").write_text("The lighthouse keeper's plan for the winter.\n", encoding="utf-8")
    (folder / "notes.md").write_text("# Notes\n\nSeagulls nest on the cliffs in spring.\n", encoding="utf-8")
    before = library.settings
    changed = before.with_changes(ignore=(*before.ignore, "*.md"))
    swapped = threading.Event()

    def progress(p) -> None:
        if p.phase == "scanning" and not swapped.is_set():  # the run has started, its scan has not
            assert library.update_settings(changed) == Changes(settings=True)
            swapped.set()

    first = library.index([folder], progress=progress)
    assert swapped.is_set() and library.settings is changed
    assert first.added == 2  # the run under way kept the settings it started with
    assert before.ignore == DEFAULT_IGNORE  # and nobody changed them under it

    second = library.index()
    assert second.removed == 1  # the next run skips *.md: what it had indexed goes
    assert [Path(h.path).name for h in library.search("seagulls cliffs", mode="bm25")] == []
    assert [Path(h.path).name for h in library.search("lighthouse keeper", mode="bm25")] == ["plan.txt"]


def test_update_settings_says_when_results_may_now_differ(library) -> None:
    same = library.settings.with_changes()
    assert library.update_settings(same) == Changes()
    assert not library.update_settings(same.with_changes(threads=1)).search_results
    for field, value in [("lexical_weight", 0.7), ("fusion", "rrf"), ("semantic_floor", 0.5)]:
        changes = library.update_settings(library.settings.with_changes(**{field: value}))
        assert changes == Changes(settings=True, search_results=True), field


def test_update_settings_takes_only_settings(library) -> None:
    with pytest.raises(TypeError):
        library.update_settings({"threads": 2})
    assert library.settings == Settings()
