"""The folder watcher over real folders and real watchdog observers (native and polling)."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from memex.core.config import DEFAULT_IGNORE
from memex.core.indexing.scan import IgnoreRules
from memex.core.indexing.watch_observers import INOTIFY_REPORTING
from memex.core.indexing.watcher import FolderWatcher
from memex.core.library import Library

DEBOUNCE = 0.2
POLL = 0.3


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Batches:
    """Thread-safe record of what ``on_changes`` received (and when)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[tuple[float, list[str]]] = []

    def __call__(self, paths: list[str]) -> None:
        with self._lock:
            self._batches.append((time.monotonic(), list(paths)))

    @property
    def all(self) -> list[list[str]]:
        with self._lock:
            return [b for _, b in self._batches]

    def timed(self) -> list[tuple[float, list[str]]]:
        with self._lock:
            return list(self._batches)

    def paths(self) -> set[str]:
        return {p for b in self.all for p in b}

    def wait(self, *paths: str | Path, timeout: float = 10.0) -> None:
        wanted = {str(p) for p in paths}
        assert wait_for(lambda: wanted <= self.paths(), timeout), f"missing {wanted - self.paths()}: {self.all}"


@pytest.fixture
def make_watcher():
    """Start watchers over the given roots (stopped at the end of the test)."""
    started: list[FolderWatcher] = []

    def factory(roots: Iterable[Path], on_changes: Callable[[list[str]], None] | None = None,
                **kwargs) -> tuple[FolderWatcher, Batches]:
        batches = Batches()
        kwargs.setdefault("debounce_s", DEBOUNCE)
        kwargs.setdefault("rules", IgnoreRules(DEFAULT_IGNORE))
        watcher = FolderWatcher(on_changes or batches, **kwargs)
        watcher.poll_interval_s = POLL
        watcher.set_roots(str(r) for r in roots)
        watcher.start()
        started.append(watcher)
        return watcher, batches

    yield factory
    for watcher in started:
        watcher.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "docs"
    path.mkdir()
    return path


def test_created_file_is_reported(make_watcher, folder):
    _, batches = make_watcher([folder])
    (folder / "new.txt").write_text("hello")
    batches.wait(folder / "new.txt")


def test_modified_file_is_reported(make_watcher, folder):
    target = folder / "notes.md"
    target.write_text("one")
    _, batches = make_watcher([folder])
    with open(target, "a") as fh:
        fh.write(" two")
    batches.wait(target)


def test_deleted_file_is_reported(make_watcher, folder):
    target = folder / "old.txt"
    target.write_text("bye")
    _, batches = make_watcher([folder])
    target.unlink()
    batches.wait(target)


def test_rename_reports_both_paths_in_one_batch(make_watcher, folder):
    (folder / "a.txt").write_text("content")
    _, batches = make_watcher([folder])
    os.rename(folder / "a.txt", folder / "b.txt")
    batches.wait(folder / "a.txt", folder / "b.txt")
    assert [str(folder / "a.txt"), str(folder / "b.txt")] in batches.all


@pytest.mark.parametrize("temp_name", [".file.txt.tmp", "x.tmp"])
def test_atomic_save_reports_only_the_final_file(make_watcher, folder, temp_name):
    target = folder / "file.txt"
    target.write_text("old version")
    _, batches = make_watcher([folder])
    (folder / temp_name).write_text("new version")
    os.replace(folder / temp_name, target)
    batches.wait(target)
    assert batches.paths() == {str(target)}


def test_burst_of_creations_arrives_in_few_batches(make_watcher, folder):
    _, batches = make_watcher([folder])
    names = [folder / f"file{i:03}.txt" for i in range(500)]
    for path in names:
        path.write_text(path.name)
    batches.wait(*names)
    assert len(batches.all) <= 3
    assert all(b == sorted(b) for b in batches.all)


def test_event_storm_still_delivers_after_max_delay(make_watcher, folder):
    _, batches = make_watcher([folder], debounce_s=0.5, max_delay_s=1.0)
    deadline = time.monotonic() + 10
    count = 0
    while not batches.all and time.monotonic() < deadline:  # never quiet for 0.5 s
        (folder / f"storm{count}.txt").write_text("x")
        count += 1
        time.sleep(0.05)
    assert batches.all, "nothing delivered during a continuous stream of changes"
    assert str(folder / "storm0.txt") in batches.all[0]


def test_ignored_folders_and_unsupported_files_are_not_reported(make_watcher, folder):
    (folder / ".git").mkdir()
    _, batches = make_watcher([folder])
    (folder / ".git" / "config.txt").write_text("[core]")
    (folder / "node_modules" / "pkg").mkdir(parents=True)
    (folder / "node_modules" / "pkg" / "index.js").write_text("x = 1")
    (folder / "song.mp3").write_bytes(b"ID3\x04\x00\x00")  # a type Memex does not read
    (folder / "draft.tmp").write_text("temp")
    (folder / "~$report.docx").write_text("lock")
    (folder / ".hidden.txt").write_text("secret")
    (folder / "marker.txt").write_text("last")
    batches.wait(folder / "marker.txt")
    assert batches.paths() == {str(folder / "marker.txt")}


def assert_no_file_beside_its_folder(batches: Batches) -> None:
    for batch in batches.all:
        for path in batch:
            assert not any(path.startswith(other + os.sep) for other in batch), batch


def test_a_new_folder_is_reported_without_its_files(make_watcher, folder, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner.txt").write_text("moved in")
    _, batches = make_watcher([folder])
    (folder / "sub").mkdir()
    (folder / "sub" / "a.txt").write_text("a")
    shutil.move(str(outside), str(folder / "moved"))
    batches.wait(folder / "sub", folder / "moved")
    assert_no_file_beside_its_folder(batches)
    assert str(folder / "moved" / "inner.txt") not in batches.paths()


def test_deleted_folder_is_reported_without_its_files(make_watcher, folder):
    (folder / "sub" / "deep").mkdir(parents=True)
    for name in ("a.txt", "deep/b.txt"):
        (folder / "sub" / name).write_text(name)
    _, batches = make_watcher([folder])
    shutil.rmtree(folder / "sub")
    batches.wait(folder / "sub")
    assert_no_file_beside_its_folder(batches)


@pytest.mark.slow
def test_root_that_vanishes_is_watched_again_when_back(make_watcher, folder):
    (folder / "a.txt").write_text("a")
    _, batches = make_watcher([folder])
    shutil.rmtree(folder)
    batches.wait(folder)
    count = len(batches.all)
    folder.mkdir()
    (folder / "b.txt").write_text("back")
    # Once it is watched again the whole root is delivered, so the library rescans it.
    assert wait_for(lambda: any(str(folder) in b for b in batches.all[count:]))
    (folder / "c.txt").write_text("seen live")
    batches.wait(folder / "c.txt")


@pytest.mark.slow
@pytest.mark.parametrize(("force_polling", "debounce"), [(False, 0.5), (True, DEBOUNCE)], ids=["native", "polling"])
def test_file_still_being_written_waits_until_it_is_complete(make_watcher, folder, force_polling, debounce):
    """Native: each write is an event that restarts the quiet period. Polling (scans every
    0.3 s, quiet period 0.2 s): the size/mtime check holds the file back between scans."""
    target = folder / "big.log"
    seen_sizes: list[int] = []

    def on_changes(paths: list[str]) -> None:
        if str(target) in paths:
            seen_sizes.append(target.stat().st_size)

    make_watcher([folder], on_changes, force_polling=force_polling, debounce_s=debounce)

    def write_slowly() -> None:
        with open(target, "w") as fh:
            for _ in range(30):
                fh.write("line of text\n" * 100)
                fh.flush()
                time.sleep(0.05)  # a slow writer (a download, a copy over the network)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    writer.join()
    assert wait_for(lambda: bool(seen_sizes))
    assert seen_sizes[0] == target.stat().st_size == 30 * 1300


def test_polling_mode_reports_changes(make_watcher, folder):
    (folder / "keep.txt").write_text("v1")
    (folder / "gone.txt").write_text("bye")
    watcher, batches = make_watcher([folder], force_polling=True)
    assert watcher.mode == "polling"
    (folder / "new.txt").write_text("hello")
    (folder / "keep.txt").write_text("version two, longer")
    (folder / "gone.txt").unlink()
    batches.wait(folder / "new.txt", folder / "keep.txt", folder / "gone.txt")


def test_set_roots_adds_and_removes_roots(make_watcher, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    watcher, batches = make_watcher([first])
    watcher.set_roots([str(first), str(second)])
    (second / "b1.txt").write_text("b")
    batches.wait(second / "b1.txt")
    watcher.set_roots([str(second)])
    (first / "a.txt").write_text("not watched any more")
    (second / "b2.txt").write_text("b")
    batches.wait(second / "b2.txt")
    assert str(first / "a.txt") not in batches.paths()


def test_single_file_root_reports_only_that_file(make_watcher, folder):
    target = folder / "notes.txt"
    target.write_text("v1")
    _, batches = make_watcher([target])
    (folder / "other.txt").write_text("not a source")
    target.write_text("v2")
    batches.wait(target)
    assert batches.paths() == {str(target)}


def test_failing_handler_does_not_stop_later_deliveries(make_watcher, folder, caplog):
    batches = Batches()

    def on_changes(paths: list[str]) -> None:
        batches(paths)
        if len(batches.all) == 1:
            raise RuntimeError("database is locked")

    make_watcher([folder], on_changes)
    with caplog.at_level(logging.ERROR, logger="memex.core.indexing.watcher"):
        (folder / "first.txt").write_text("1")
        batches.wait(folder / "first.txt")
        (folder / "second.txt").write_text("2")
        batches.wait(folder / "second.txt")
    assert "database is locked" in caplog.text


def test_missing_root_gives_a_notice(make_watcher, folder, tmp_path):
    notices: list[str] = []
    missing = tmp_path / "unplugged"
    _, batches = make_watcher([missing, folder], on_notice=notices.append)
    assert any(str(missing) in n for n in notices)
    (folder / "still.txt").write_text("watched")
    batches.wait(folder / "still.txt")


def test_stop_is_idempotent_and_safe_before_start(folder):
    watcher = FolderWatcher(lambda paths: None, rules=IgnoreRules(DEFAULT_IGNORE))
    watcher.stop()
    watcher.set_roots([str(folder)])
    watcher.start()
    watcher.stop()
    watcher.stop()


def test_flush_now_delivers_pending_paths_at_once(make_watcher, folder):
    watcher, batches = make_watcher([folder], debounce_s=30, max_delay_s=60)
    (folder / "a.txt").write_text("a")
    assert wait_for(lambda: watcher.pending == 1)
    watcher.flush_now()
    assert batches.all == [[str(folder / "a.txt")]]


linux_only = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and INOTIFY_REPORTING), reason="inotify only")


@linux_only
def test_watch_limit_switches_to_polling_and_rescans(make_watcher, folder, monkeypatch):
    from watchdog.observers.inotify_c import InotifyFD

    def refuse(self, path, mask):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyFD, "_get_or_create_watch", refuse)
    notices: list[str] = []
    watcher, batches = make_watcher([folder], on_notice=notices.append)
    assert watcher.mode == "polling"
    assert notices and "max_user_watches" in notices[0]
    batches.wait(folder)  # every root, so the library rescans
    (folder / "after.txt").write_text("seen by polling")
    batches.wait(folder / "after.txt")


@linux_only
def test_queue_overflow_switches_to_polling_and_rescans(make_watcher, folder):
    from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent

    notices: list[str] = []
    watcher, batches = make_watcher([folder], on_notice=notices.append)
    assert watcher.mode == "native"
    fd = watcher._observer._inotify_fd  # what the kernel sends when its queue overflows:
    fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
    assert wait_for(lambda: watcher.mode == "polling")
    batches.wait(folder)
    assert notices and "lost" in notices[0]
    (folder / "after.txt").write_text("seen by polling")
    batches.wait(folder / "after.txt")


def test_library_follows_changes_through_the_watcher(tmp_path, folder, embedder):
    (folder / "animals.txt").write_text("The zebra grazes on the savanna.\n")
    lib = Library.open(tmp_path / "lib.db", embedder=embedder)
    try:
        lib.index([folder])

        def found(word: str) -> set[str]:
            return {Path(h.path).name for h in lib.search(word, mode="bm25")}

        assert found("zebra") == {"animals.txt"}
        watcher = FolderWatcher(lib.refresh, rules=IgnoreRules(DEFAULT_IGNORE), debounce_s=DEBOUNCE)
        watcher.set_roots([str(folder)])
        watcher.start()
        try:
            (folder / "pets.md").write_text("# Pets\n\nA quokka smiles at visitors.\n")
            assert wait_for(lambda: found("quokka") == {"pets.md"})
            (folder / "animals.txt").write_text("The giraffe reaches the tallest leaves.\n")
            assert wait_for(lambda: found("giraffe") == {"animals.txt"} and not found("zebra"))
            os.rename(folder / "pets.md", folder / "marsupials.md")
            assert wait_for(lambda: found("quokka") == {"marsupials.md"})
            (folder / "marsupials.md").unlink()
            assert wait_for(lambda: not found("quokka"))
        finally:
            watcher.stop()
    finally:
        lib.close()
