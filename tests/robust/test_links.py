"""Links in a watched folder: nothing outside the folder is ever read through one (files,
folders, chains, relative and absolute, system files), each such link is listed as an
"outside-link" failure, links that stay inside count once, and the folder watcher, a refresh
and a full scan agree on all of it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from memex.core.config import DEFAULT_IGNORE
from memex.core.errors import ExtractionError
from memex.core.indexing import scan
from memex.core.indexing.scan import IgnoreRules
from memex.core.indexing.watcher import FolderWatcher

SECRET_WORD = "quixoticmarmalade"
GOOD_WORD = "pelicanharbour"
SYSTEM_FILE = "/etc/os-release" if os.path.exists("/etc/os-release") else "/etc/hostname"


def _system_words() -> set[str]:
    """Distinctive words of the system file linked to (none may become searchable)."""
    text = Path(SYSTEM_FILE).read_text(errors="replace")
    return {w for w in text.replace("=", " ").replace('"', " ").split() if len(w) > 6 and w.isalpha()}


def plant(root: Path) -> tuple[Path, list[Path], dict[str, Path]]:
    """A folder ``docs`` with two real documents, links out of it of every kind, and links
    that stay inside it. Returns (folder, outside links, real documents by name)."""
    outside = root / "outside"
    (outside / "deep").mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text(f"The {SECRET_WORD} recipe is kept here.\n")
    (outside / "deep" / "more.md").write_text(f"# More\n\n{SECRET_WORD} again.\n")
    folder = root / "docs"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    real = folder / "real.txt"
    real.write_text(f"An ordinary note about the {GOOD_WORD}.\n")
    notes = folder / "sub" / "notes.md"
    notes.write_text(f"# Notes\n\nThe {GOOD_WORD} again, in a subfolder.\n")

    out: list[Path] = []

    def link(name: str, target: str | Path, *, leaves: bool) -> None:
        path = folder / name
        os.symlink(target, path)
        if leaves:
            out.append(path)

    link("absolute.txt", secret, leaves=True)
    link("relative.txt", "../outside/secret.txt", leaves=True)
    link("hop.md", "../outside/secret.txt", leaves=True)
    link("chain.txt", "hop.md", leaves=True)  # a chain: chain.txt -> hop.md -> outside
    link("no-extension", secret, leaves=True)  # would be sniffed for text by content
    link("outdir", "../outside", leaves=True)  # a folder link out
    link("sub/up.txt", "../../outside/secret.txt", leaves=True)
    link("etc", "/etc", leaves=True)
    link("system.txt", SYSTEM_FILE, leaves=True)
    # Links that stay inside: the target counts once, nothing loops.
    link("again.txt", "real.txt", leaves=False)
    link("sub/again.txt", "../real.txt", leaves=False)
    link("absolute-inside.txt", real, leaves=False)
    link("inside-chain.txt", "again.txt", leaves=False)
    link("self", ".", leaves=False)
    link("sub-link", "sub", leaves=False)
    link("sub/up", "..", leaves=False)
    return folder, out, {"real.txt": real, "notes.md": notes}


def state(lib) -> dict[str, tuple[str, str | None, str]]:
    """Every document row: path -> (status, reason, content hash)."""
    rows = lib.store.connection().execute("SELECT path, status, error_reason, content_hash FROM documents")
    return {p: (s, r, h) for p, s, r, h in rows}


def assert_nothing_leaked(lib) -> None:
    conn = lib.store.connection()
    assert lib.search(SECRET_WORD, k=5, mode="bm25") == []
    assert conn.execute("SELECT count(*) FROM chunks WHERE text LIKE ?", (f"%{SECRET_WORD}%",)).fetchone()[0] == 0
    for word in _system_words():
        assert conn.execute("SELECT count(*) FROM chunks WHERE text LIKE ?", (f"%{word}%",)).fetchone()[0] == 0, word


def assert_listed(lib, folder: Path, out: list[Path], real: dict[str, Path]) -> None:
    rows = state(lib)
    assert {p for p, (s, _, _) in rows.items() if s == "ok"} == {str(p) for p in real.values()}
    listed = {f.path for f in lib.failures() if f.reason == "outside-link"}
    assert listed == {str(p) for p in out}
    assert all("outside the folder" in f.message for f in lib.failures() if f.reason == "outside-link")
    assert lib.status().failed == len(out)
    hits = lib.search(GOOD_WORD, k=10, mode="bm25")
    assert sorted(h.path for h in hits) == sorted(str(p) for p in real.values())  # each once


def test_a_full_scan_reads_nothing_through_a_link_out_and_lists_every_one(tmp_path, make_library):
    folder, out, real = plant(tmp_path)
    lib = make_library()
    report = lib.index([folder])

    assert_nothing_leaked(lib)
    assert_listed(lib, folder, out, real)
    assert {e.path for e in report.errors if e.reason == "outside-link"} == {str(p) for p in out}
    assert report.added == 2 and report.failed == len(out)

    again = lib.index()  # unchanged links are neither read nor listed again
    assert (again.added, again.updated, again.removed, again.failed, again.moved) == (0, 0, 0, 0, 0)
    assert_listed(lib, folder, out, real)


def test_a_link_turned_outward_after_indexing_loses_its_content(tmp_path, make_library):
    folder, _, real = plant(tmp_path)
    swapped = folder / "swapped.txt"
    swapped.write_text("A plain file about the aubergine.\n")
    flip = folder / "flip.txt"
    os.symlink("real.txt", flip)
    lib = make_library()
    lib.index([folder])
    assert [h.path for h in lib.search("aubergine", mode="bm25")] == [str(swapped)]
    assert str(flip) not in state(lib)

    swapped.unlink()
    os.symlink(tmp_path / "outside" / "secret.txt", swapped)
    flip.unlink()
    os.symlink("../outside/secret.txt", flip)
    lib.index()
    assert lib.search("aubergine", mode="bm25") == []
    assert_nothing_leaked(lib)
    rows = state(lib)
    assert rows[str(swapped)][:2] == ("error", "outside-link")
    assert rows[str(flip)][:2] == ("error", "outside-link")

    flip.unlink()
    os.symlink("sub/notes.md", flip)  # back inside: the row goes, the target stays once
    lib.index()
    assert str(flip) not in state(lib)
    assert {p for p, (s, _, _) in state(lib).items() if s == "ok"} == {str(p) for p in real.values()}


def test_refresh_through_links_agrees_with_the_full_scan(tmp_path, make_library):
    """What the watcher may hand over: links, and paths seen through folder links."""
    folder, out, real = plant(tmp_path)
    lib = make_library()
    lib.add_sources([folder])
    lib.refresh([folder / "etc" / "hostname", folder / "etc", folder / "outdir" / "secret.txt",
                 folder / "outdir" / "deep", folder / "self" / "real.txt", folder / "self" / "sub",
                 folder / "sub-link" / "notes.md", *out, folder / "again.txt", folder / "sub",
                 folder / "real.txt"])
    assert_nothing_leaked(lib)
    assert_listed(lib, folder, out, real)
    after_refresh = state(lib)

    full = lib.index()
    assert (full.added, full.updated, full.removed, full.failed, full.moved) == (0, 0, 0, 0, 0)
    assert state(lib) == after_refresh


def test_the_file_swapped_for_a_link_after_the_scan_is_not_read(tmp_path, make_library):
    """Between the scan and the read, a file becomes a link to a secret: the read judges
    again and refuses."""
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET_WORD}\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(f"first {GOOD_WORD}\n")
    later = folder / "b.txt"
    later.write_text("second file\n")
    swapped = threading.Event()

    def progress(p) -> None:
        if p.phase == "indexing" and p.files_done == 1 and not swapped.is_set():
            later.unlink()
            os.symlink(secret, later)
            swapped.set()

    lib = make_library()
    lib.add_sources([folder])
    lib.index(progress=progress)
    assert swapped.is_set()
    assert lib.search(SECRET_WORD, k=5, mode="bm25") == []
    assert state(lib)[str(later)][:2] == ("error", "outside-link")


def test_a_folder_swapped_for_a_link_is_refused_at_open(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "f.txt").write_text("mine\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "f.txt").write_text(f"{SECRET_WORD}\n")
    verdict = scan.judge_path(str(folder / "sub" / "f.txt"), str(folder))
    assert verdict.kind == "direct" and verdict.real is not None
    scan.checked_hash(verdict.real)
    os.rename(folder / "sub", folder / "kept")
    os.symlink(tmp_path / "outside", folder / "sub")
    with pytest.raises(OSError):
        scan.checked_hash(verdict.real)  # the file opened is not at the judged place
    assert scan.judge_path(str(folder / "sub" / "f.txt"), str(folder)).kind == "outside-link"


def test_a_source_given_as_a_link_is_followed_and_its_inside_links_judged(tmp_path, make_library):
    folder, out, real = plant(tmp_path)
    chosen = tmp_path / "link-to-docs"
    os.symlink(folder, chosen)
    lib = make_library()
    lib.index([chosen])
    assert [s.path for s in lib.sources()] == [str(folder)]  # resolved when added
    assert_nothing_leaked(lib)
    assert_listed(lib, folder, out, real)
    # Judged as given too (a source stored before it became a link): the root is the user's choice.
    assert scan.first_link(str(chosen / "real.txt"), str(chosen)) is None
    assert scan.judge_path(str(chosen / "real.txt"), str(chosen)).real == str(real["real.txt"])
    assert scan.judge_path(str(chosen / "etc"), str(chosen)).kind == "outside-link"
    assert scan.judge_path(str(chosen / "self" / "real.txt"), str(chosen)).kind == "inside-link"


def test_a_link_into_another_watched_folder_is_listed_and_its_target_counted_once(tmp_path, make_library):
    """Each source is judged on its own: a link from one watched folder into another leaves
    its folder, so it is listed; the target is indexed once, through its own folder."""
    first = tmp_path / "first"
    second = tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (second / "shared.txt").write_text(f"The {GOOD_WORD} shared note.\n")
    os.symlink("../second/shared.txt", first / "shared.txt")
    lib = make_library()
    lib.index([first, second])
    assert [h.path for h in lib.search(GOOD_WORD, mode="bm25")] == [str(second / "shared.txt")]
    assert [(f.path, f.reason) for f in lib.failures()] == [(str(first / "shared.txt"), "outside-link")]


@pytest.mark.parametrize("polling", [False, True], ids=["native", "polling"])
def test_watcher_events_give_what_a_full_scan_gives(tmp_path, make_library, polling):
    """Links made while the watcher runs: never read, listed, and a full scan afterwards
    finds nothing to change (no flip-flop between the watcher and the scan)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    lib = make_library()
    lib.index([folder])
    delivered: list[str] = []
    cond = threading.Condition()

    def on_changes(paths: list[str]) -> None:
        lib.refresh(paths)
        with cond:
            delivered.extend(paths)
            cond.notify_all()

    watcher = FolderWatcher(on_changes, rules=IgnoreRules(DEFAULT_IGNORE), debounce_s=0.2,
                            force_polling=polling)
    watcher.poll_interval_s = 0.3
    watcher.set_roots([str(folder)])
    watcher.start()
    try:
        folder, out, real = plant(tmp_path)
        expected = {str(p) for p in out}

        def listed() -> bool:
            return {f.path for f in lib.failures() if f.reason == "outside-link"} == expected

        with cond:
            assert cond.wait_for(lambda: listed() and {str(p) for p in real.values()} <= {
                p for p, (s, _, _) in state(lib).items() if s == "ok"}, timeout=60), delivered
    finally:
        watcher.stop()
    assert_nothing_leaked(lib)
    assert_listed(lib, folder, out, real)
    # Nothing beyond a link was ever handed over (a link is reported as itself).
    assert all(scan.first_link(p, str(folder)) in (None, p) for p in delivered), delivered
    after_watcher = state(lib)
    full = lib.index()
    assert (full.added, full.updated, full.removed, full.failed, full.moved) == (0, 0, 0, 0, 0)
    assert state(lib) == after_watcher


def test_memex_index_and_status_list_the_links(tmp_path):
    """The real command: each link out is named with its reason, and status counts them."""
    folder, out, _ = plant(tmp_path)
    library = tmp_path / "lib" / "library.db"
    env = {**os.environ, "NO_COLOR": "1", "MEMEX_HOME": str(tmp_path / "home")}
    cmd = [sys.executable, "-m", "memex.core"]
    index = subprocess.run([*cmd, "index", "--library", str(library), str(folder)], capture_output=True,
                           text=True, timeout=300, env=env)
    assert index.returncode == 0, index.stderr
    for path in out:
        assert f"skipped {path}: Link outside the folder" in index.stdout
        assert f"{path}: Link outside the folder: what it points at is not indexed [outside-link]" in index.stdout
    assert SECRET_WORD not in index.stdout
    status = subprocess.run([*cmd, "status", "--library", str(library)], capture_output=True, text=True,
                            timeout=300, env=env)
    assert status.returncode == 0, status.stderr
    assert f"2 indexed, {len(out)} failed" in status.stdout
    search = subprocess.run([*cmd, "search", "--library", str(library), "--mode", "bm25", SECRET_WORD],
                            capture_output=True, text=True, timeout=300, env=env)
    assert search.returncode == 0, search.stderr
    assert search.stdout.startswith("No matches"), search.stdout


def _pdf(path: Path, text: str) -> Path:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    doc.save(path)
    doc.close()
    return path


def test_the_preview_of_a_document_swapped_for_a_link_out_is_refused(tmp_path, make_library):
    folder = tmp_path / "docs"
    folder.mkdir()
    (tmp_path / "outside").mkdir()
    secret = _pdf(tmp_path / "outside" / "secret.pdf", f"{SECRET_WORD} on a page")
    paper = _pdf(folder / "paper.pdf", f"The {GOOD_WORD} on a page")
    lib = make_library()
    lib.index([folder])
    assert lib.render_page(paper, 1, [GOOD_WORD], 200).png  # the preview works for the real file
    paper.unlink()
    os.symlink(secret, paper)
    with pytest.raises(ExtractionError, match="outside the folder") as caught:
        lib.render_page(paper, 1, [SECRET_WORD], 200)
    assert caught.value.reason == "outside-link"


def swap_then_extract(path: Path, max_chars: int, kind: str | None = None):
    """Extraction target (runs in the worker): while the file is read, it is swapped for a link
    to the secret, read, and put back; the swap a hostile folder would time to the read."""
    from memex.core.extract import extract_file

    original, secret = os.environ["MEMEX_TEST_SWAP"], os.environ["MEMEX_TEST_SECRET"]
    if Path(path).name != Path(original).name:
        return extract_file(path, max_chars, kind)
    os.rename(original, original + ".kept")
    os.symlink(secret, original)
    try:
        return extract_file(path, max_chars, kind)
    finally:
        os.unlink(original)
        os.rename(original + ".kept", original)


def test_a_swap_during_the_read_reads_the_file_judged(tmp_path, make_library, monkeypatch):
    """Swapped for a link and back while the worker reads: the worker still reads the file
    that was judged (held open by the indexer), never the secret."""
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET_WORD}\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    paper = folder / "paper.txt"
    paper.write_text(f"The {GOOD_WORD} in the real file.\n")
    monkeypatch.setenv("MEMEX_TEST_SWAP", str(paper))
    monkeypatch.setenv("MEMEX_TEST_SECRET", str(secret))
    lib = make_library(target="test_links:swap_then_extract")
    report = lib.index([folder])
    assert report.added == 1, report.errors
    assert not paper.is_symlink()  # put back by the target
    assert lib.search(SECRET_WORD, k=5, mode="bm25") == []
    assert [h.path for h in lib.search(GOOD_WORD, mode="bm25")] == [str(paper)]
