"""The real-folder builder writes what it plans, idempotently, and only into its own folder."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BUILDER = Path(__file__).resolve().parents[1] / "realfolder" / "build_folder.py"


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_folder", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_folder"] = module
    spec.loader.exec_module(module)
    return module


def test_writes_the_plan_once_and_removes_what_it_no_longer_plans(builder, tmp_path):
    target = tmp_path / "folder"
    plan = {"a/one.txt": b"one", "b/c/two.txt": b"two", "three": b"3"}
    assert builder.write_folder(target, plan) == (3, 0)
    assert (target / "b" / "c" / "two.txt").read_bytes() == b"two"
    assert builder.write_folder(target, plan) == (0, 0)  # nothing changed: nothing written
    manifest = json.loads((target / builder.MANIFEST).read_text("utf-8"))["files"]
    assert sorted(manifest) == sorted(plan)
    with pytest.raises(SystemExit, match="would remove 2 of its 3 files"):
        builder.write_folder(target, {"a/one.txt": b"ONE"})
    assert (target / "three").read_bytes() == b"3"  # refused: nothing changed
    assert builder.write_folder(target, {"a/one.txt": b"ONE"}, prune=True) == (1, 2)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        ".realfolder.json", "a", "a/one.txt"]  # the emptied folders went too
    assert (target / "a" / "one.txt").stat().st_mtime == builder.FIXED_MTIME


def test_refuses_a_folder_it_did_not_make(builder, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="did not make"):
        builder.write_folder(tmp_path, {"x.txt": b"x"})
    assert (tmp_path / "mine.txt").read_text() == "keep me" and not (tmp_path / "x.txt").exists()


def test_junk_and_copies_are_what_real_folders_hold(builder):
    plan = {"rust-book/ch04-01-what-is-ownership.html": b"<p>ownership</p>", "pdf/x/a.pdf": b"%PDF-1.4 ...",
            "man/tar.txt": b"tar manual"}
    builder.junk_and_copies(plan)
    assert plan["Downloads/ownership (1).html"] == plan["rust-book/ch04-01-what-is-ownership.html"]
    assert plan["notes/tar-manual-copy.txt"] == plan["man/tar.txt"]
    assert plan["Downloads/a.pdf"] == plan["pdf/x/a.pdf"]
    assert plan["misc/empty.txt"] == b"" and plan["misc/broken-truncated.pdf"].startswith(b"%PDF")


def test_written_texts_hide_words_inside_longer_runs(builder):
    from written_texts import CHINESE, GERMAN

    assert len(CHINESE) + len(GERMAN) >= 12
    chinese = "".join(CHINESE.values())
    assert "医疗保险制度" in chinese and " 保险 " not in chinese
    german = " ".join(GERMAN.values())
    words = set(german.replace(".", " ").replace(",", " ").split())
    assert "Krankenversicherung" in german and "Versicherung" not in words
