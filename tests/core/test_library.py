"""The façade over real files: index, search, change, move, delete, fail gracefully."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import docgen
import pytest
from memex.core.errors import LibraryError
from memex.core.types import SearchFilters

PAGES = [
    "Quarterly budget review. Revenue grew in the northern region while costs stayed flat.",
    "Office relocation plan. The team moves to the new building on the harbour in spring.",
    "The old lighthouse keeper fed the seagulls every morning before dawn, then climbed "
    "the spiral stairs to polish the great lens.",
    "Appendix. Tables of figures and a glossary of accounting terms.",
]


def _wait_mtime_tick() -> None:
    time.sleep(0.01)


def _make_folder(root: Path) -> Path:
    folder = root / "docs"
    folder.mkdir()
    docgen.make_pdf(folder / "report.pdf", PAGES, title="Annual report")
    (folder / "notes.md").write_text("# Garden notes\n\nTomatoes need full sun and deep watering.\n")
    (folder / "recipe.txt").write_text("Whisk eggs with sugar, fold in flour, bake for forty minutes.\n")
    return folder


def test_paraphrased_query_finds_pdf_page_three(tmp_path, library):
    folder = _make_folder(tmp_path)
    report = library.index([folder])
    assert report.added == 3 and report.failed == 0
    assert report.embedded == report.chunks > 0
    hits = library.search("a man who looks after a coastal beacon and feeds birds", k=3, rerank=False)
    assert hits[0].path == str(folder / "report.pdf")
    assert hits[0].page == 3
    assert "lighthouse" in hits[0].best.text


def test_lexical_hit_has_highlighted_snippet(tmp_path, library):
    library.index([_make_folder(tmp_path)])
    hit = library.search("tomatoes", rerank=False)[0]
    assert hit.path.endswith("notes.md") and hit.title == "Garden notes"
    marked = {hit.snippet[h.start:h.end].lower() for h in hit.best.highlights}
    assert marked == {"tomatoes"}


def test_each_mode_answers(tmp_path, library):
    library.index([_make_folder(tmp_path)])
    for mode in ("bm25", "dense", "hybrid"):
        hits = library.search("whisk eggs flour", mode=mode, rerank=False)
        assert hits[0].path.endswith("recipe.txt"), mode


def test_unchanged_files_are_skipped_on_reindex(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    again = library.index([folder])
    assert (again.added, again.updated, again.unchanged, again.embedded) == (0, 0, 3, 0)


def test_touched_but_identical_file_is_not_reindexed(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    os.utime(folder / "recipe.txt", ns=(1, 1_000_000_000))
    report = library.index([folder])
    assert report.updated == 0 and report.embedded == 0


def test_edit_is_reflected(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    _wait_mtime_tick()
    (folder / "recipe.txt").write_text("Marinate the tofu in soy sauce and grill it.\n")
    report = library.index([folder])
    assert report.updated == 1
    assert library.search("whisk eggs", mode="bm25") == []
    assert library.search("marinate tofu", mode="bm25")[0].path.endswith("recipe.txt")


def test_delete_is_reflected(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    (folder / "notes.md").unlink()
    report = library.index([folder])
    assert report.removed == 1
    assert library.search("tomatoes", mode="bm25") == []
    assert library.document(folder / "notes.md") is None


def test_move_keeps_vectors_and_updates_path(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    (folder / "sub").mkdir()
    shutil.move(folder / "report.pdf", folder / "sub" / "renamed.pdf")
    report = library.index([folder])
    assert (report.moved, report.added, report.embedded) == (1, 0, 0)
    hit = library.search("lighthouse keeper", rerank=False)[0]
    assert hit.path == str(folder / "sub" / "renamed.pdf") and hit.page == 3


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path, library):
    folder = _make_folder(tmp_path)
    docgen.make_broken_pdf(folder / "broken.pdf")
    docgen.make_encrypted_pdf(folder / "locked.pdf", "secret plans")
    docgen.make_scanned_pdf(folder / "scan.pdf")
    (folder / "empty.txt").write_bytes(b"")
    docgen.make_binary_txt(folder / "binary.txt")
    report = library.index([folder])
    reasons = {Path(e.path).name: e.reason for e in report.errors}
    # A scanned PDF is no failure: its page waits for OCR.
    assert reasons == {"broken.pdf": "corrupt", "locked.pdf": "encrypted", "empty.txt": "empty",
                       "binary.txt": "binary"}
    assert report.added == 4 and report.failed == 4
    assert {Path(f.path).name for f in library.failures()} == set(reasons)
    assert library.search("lighthouse", rerank=False)[0].path.endswith("report.pdf")
    # Failed files are not retried while they stay the same.
    assert library.index([folder]).failed == 0


HOSTILE_QUERIES = [
    'C++ "x', "hello-world", "*", "**", '"', "'", "(", ")", "NEAR(a b)", "a AND OR NOT b",
    "col:value", "^start", "😀🔥", "\x00", "\\", "%_", "-", "--", "a" * 2000, "word " * 400,
    "SELECT * FROM chunks; DROP TABLE chunks", "é", "日本語のテキスト", "\u202e\u200b", "",
    "   ", "\n\t", '{"json": 1}', "<script>alert(1)</script>", "a\"b\"c", "NOT", "OR",
]


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_hostile_queries_never_raise(tmp_path, library, mode):
    library.index([_make_folder(tmp_path)])
    for query in HOSTILE_QUERIES:
        hits = library.search(query, mode=mode, rerank=False, prefix_last=True)
        assert isinstance(hits, list)
    assert library.search("C++ lighthouse", mode="bm25")[0].path.endswith("report.pdf")


def test_filters_by_folder_type_and_date(tmp_path, library):
    folder = _make_folder(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "eggs.txt").write_text("Scrambled eggs need butter and low heat.\n")
    os.utime(other / "eggs.txt", (1_000_000_000, 1_000_000_000))  # 2001
    library.index([folder, other])
    assert {h.path for h in library.search("eggs", mode="bm25")} == {
        str(folder / "recipe.txt"), str(other / "eggs.txt")}
    for mode in ("bm25", "dense", "hybrid"):
        only_other = library.search("eggs", filters=SearchFilters(folder=str(other)), mode=mode,
                                    rerank=False)
        assert [h.path for h in only_other] == [str(other / "eggs.txt")], mode
        pdf_only = library.search("eggs lighthouse", filters=SearchFilters(kinds=("pdf",)),
                                  mode=mode, rerank=False)
        assert [h.path for h in pdf_only] == [str(folder / "report.pdf")], mode
        recent = library.search("eggs", filters=SearchFilters(modified_after=1_500_000_000),
                                mode=mode, rerank=False)
        assert recent and str(other / "eggs.txt") not in {h.path for h in recent}, mode


def test_remove_source_forgets_its_documents(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    assert library.remove(folder).removed == 3
    assert library.search("lighthouse", rerank=False) == []
    assert (folder / "report.pdf").exists()
    with pytest.raises(LibraryError, match="not in the library"):
        library.remove(tmp_path / "nowhere")


def test_remove_inside_a_source_explains_itself(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    with pytest.raises(LibraryError, match="keeps in sync"):
        library.remove(folder / "notes.md")


@pytest.mark.slow
def test_rerank_reorders_with_cross_encoder(tmp_path, open_library, reranker_dir):
    lib = open_library(reranker=str(reranker_dir))
    lib.index([_make_folder(tmp_path)])
    fused = lib.search("eggs lighthouse tomatoes", rerank=False)
    reranked = lib.search("eggs lighthouse tomatoes")
    assert all(h.reranked for h in reranked)
    assert sorted(h.path for h in reranked) == sorted(h.path for h in fused)
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)


def test_status_counts(tmp_path, library):
    library.index([_make_folder(tmp_path)])
    status = library.status()
    assert (status.sources, status.documents, status.failed) == (1, 3, 0)
    assert status.chunks == status.chunks_embedded > 0
    assert status.embedder == "all-MiniLM-L6-v2-int8"


def test_cancel_leaves_a_resumable_library(tmp_path, library):
    import threading

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        (folder / f"f{i:02}.txt").write_text(f"Document number {i} about topic {i % 7}.\n")
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.files_done >= 5:
            cancel.set()

    first = library.index([folder], progress=progress, cancel=cancel)
    assert first.cancelled and first.added < 30
    second = library.index([folder])
    assert second.added == 30 - first.added
    assert library.status().documents == 30
    assert library.status().chunks_pending == 0


def test_page_text_rebuilds_the_page_from_chunks(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    hit = library.search("lighthouse", mode="bm25")[0]
    text = library.page_text(hit.document_id, 3)
    assert "lighthouse keeper fed the seagulls" in " ".join(text.split())
    assert "Appendix" not in text


def test_refresh_syncs_only_the_given_paths(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    (folder / "new.txt").write_text("Penguins huddle together against the Antarctic wind.\n")
    (folder / "recipe.txt").unlink()
    shutil.move(folder / "notes.md", folder / "garden.md")
    (folder / "untouched.txt").write_text("Not named in the refresh, so not indexed yet.\n")
    report = library.refresh([folder / "new.txt", folder / "recipe.txt", folder / "notes.md",
                              folder / "garden.md", tmp_path / "outside.txt"])
    assert (report.added, report.removed, report.moved) == (1, 1, 1)
    assert library.search("penguins", mode="bm25")[0].path.endswith("new.txt")
    assert library.search("tomatoes", mode="bm25")[0].path.endswith("garden.md")
    assert library.search("untouched", mode="bm25") == []
    sub = folder / "sub"
    sub.mkdir()
    (sub / "deep.txt").write_text("Glaciers carve valleys over millennia.\n")
    assert library.refresh([sub]).added == 1
    shutil.rmtree(sub)
    assert library.refresh([sub]).removed == 1


def test_pause_holds_indexing_until_released(tmp_path, library):
    import threading

    folder = tmp_path / "p"
    folder.mkdir()
    for i in range(5):
        (folder / f"{i}.txt").write_text(f"File {i}.\n")
    pause, phases = threading.Event(), []
    pause.set()

    def progress(p):
        phases.append(p.phase)
        if p.phase == "paused":
            threading.Timer(0.3, pause.clear).start()

    report = library.index([folder], progress=progress, pause=pause)
    assert "paused" in phases and report.added == 5


def test_missing_source_folder_keeps_its_documents(tmp_path, library):
    folder = _make_folder(tmp_path)
    library.index([folder])
    shutil.move(folder, tmp_path / "elsewhere")
    report = library.index()
    assert report.removed == 0 and any(e.reason == "missing" for e in report.errors)
    assert library.status().documents == 3


def test_unrelated_query_finds_nothing_in_hybrid(tmp_path, library):
    library.index([_make_folder(tmp_path)])
    assert library.search("xqzv blorf", rerank=False) == []
    assert library.search("xqzv blorf", mode="dense", rerank=False)  # dense alone always answers
    assert library.search("seabirds fed by a lighthouse keeper", rerank=False)


def _named_corpus(root: Path) -> Path:
    folder = root / "named"
    folder.mkdir()
    (folder / "quarterly-budget_2023.txt").write_text(
        "Spreadsheet notes: travel, salaries and rent for the three months to March.\n")
    for i in range(6):
        (folder / f"memo{i}.txt").write_text(f"Memo {i}: the quarterly budget meeting moved to Thursday; "
                                             "bring the budget figures and the quarterly forecast.\n")
    return folder


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_a_file_is_found_by_the_name_people_remember(tmp_path, library, mode):
    library.index([_named_corpus(tmp_path)])
    hits = library.search("quarterly budget", mode=mode, rerank=False)
    assert Path(hits[0].path).name == "quarterly-budget_2023.txt"  # its text never says so
    assert Path(library.search("budget 2023", mode=mode, rerank=False)[0].path).name == "quarterly-budget_2023.txt"
    assert not any("budget" in Path(h.path).name for h in library.search("lighthouse", mode="bm25", rerank=False))


def test_a_moved_file_is_found_by_its_new_name_only(tmp_path, library):
    folder = _named_corpus(tmp_path)
    library.index([folder])
    (folder / "quarterly-budget_2023.txt").rename(folder / "travel-costs.txt")
    library.index([folder])
    names = [Path(h.path).name for h in library.search("travel costs", mode="bm25", rerank=False)]
    assert names[0] == "travel-costs.txt"
    assert "travel-costs.txt" not in [Path(h.path).name for h in
                                       library.search("quarterly budget 2023", mode="bm25", rerank=False)]


def test_names_of_a_library_made_before_the_name_index_are_searchable(tmp_path, open_library):
    from memex.core.store import migrate

    library = open_library("old.db")
    library.index([_named_corpus(tmp_path)])
    conn = library.store.connection()
    conn.execute("DROP TRIGGER documents_fts_ai; DROP TRIGGER documents_fts_ad; DROP TRIGGER documents_fts_au;"
                 "DROP TABLE documents_fts; DELETE FROM migrations WHERE name = '0003_document_names';"
                 "PRAGMA user_version = 2")  # as a library written before the name index
    assert migrate(conn) == ["0003_document_names"]
    assert Path(library.search("budget 2023", mode="bm25", rerank=False)[0].path).name == "quarterly-budget_2023.txt"
