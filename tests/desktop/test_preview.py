"""The preview: page text with the passage and the query's words marked, the rendered PDF
page, and the Qt-free renderer behind it (a separate process: a file that hangs it shows an
error in place of the page)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from docgen import make_encrypted_pdf, make_pdf
from gui_helpers import search_for, wait_idle
from memex.core.errors import CorruptFile, EncryptedFile, ExtractionError, UnsupportedFile
from memex.core.preview.pages import match_spans
from memex.core.preview.worker import PreviewWorker
from PySide6.QtGui import QColor, QImage

ROBUST_TESTS = Path(__file__).resolve().parents[1] / "robust"  # hostile_pages: a renderer that hangs on request
HOSTILE_RENDERER = "hostile_pages:misbehaving_handle"  # hostile_pages.TARGET (imported by the preview process)


def test_preview_shows_the_page_text_with_the_passage_and_words_marked(qtbot, make_window, corpus):
    window = make_window()
    shown: list[str] = []
    window.preview.text_shown.connect(shown.append)
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "stagnation point")
    assert os.path.basename(hits[0].path) == "hypersonic-report.pdf" and hits[0].page == 2
    qtbot.waitUntil(lambda: any("stagnation" in h for h in shown))
    html = shown[-1]
    assert '<a name="passage"></a>' in html
    assert '">stagnation</span>' in html and '">point</span>' in html
    text = window.preview.text.toPlainText()
    assert "boundary layer thickens" in text and "Introduction" not in text  # page 2 only
    assert window.preview.title.text() == "hypersonic-report.pdf"
    assert "page 2" in window.preview.meta.text()


def test_preview_renders_the_pdf_page_with_matches_highlighted(qtbot, make_window, corpus):
    window = make_window()
    pages: list[tuple[int, int]] = []
    window.preview.page_shown.connect(lambda doc, page: pages.append((doc, page)))
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "hypersonic")
    assert hits[0].kind == "pdf"
    qtbot.waitUntil(lambda: (hits[0].document_id, 1) in pages, timeout=20_000)
    preview = window.preview
    assert preview.tabs.isTabEnabled(1) and preview.tabs.currentIndex() == 1  # the Page tab
    pixmap = preview.page_label.pixmap()
    assert not pixmap.isNull() and pixmap.width() > 150
    rendered = preview.last_render
    assert rendered.matches, "the query word should be found on the page"
    image = QImage.fromData(rendered.png, "PNG")
    x0, y0, x1, y1 = rendered.matches[0]
    yellow = sum(1 for x in range(int(x0) + 1, int(x1) - 1) for y in range(int(y0) + 1, int(y1) - 1)
                 if _is_yellowish(image.pixelColor(x, y)))
    assert yellow > 0.3 * (x1 - x0 - 2) * (y1 - y0 - 2)


def _renderer_cut_off_after_2_s() -> dict[str, object]:
    return {"preview_worker": PreviewWorker(timeout_s=2, target=HOSTILE_RENDERER)}


@pytest.mark.parametrize("library", [_renderer_cut_off_after_2_s], indirect=True, ids=["hostile-renderer"])
@pytest.mark.slow
def test_a_page_that_hangs_the_renderer_shows_an_error_instead(qtbot, make_window, library, tmp_path: Path,
                                                                monkeypatch):
    monkeypatch.syspath_prepend(str(ROBUST_TESTS))  # the preview process imports the target from here
    folder = tmp_path / "hostile"
    folder.mkdir()
    make_pdf(folder / "hang-survey.pdf", ["Gravel roads lead to the wind turbines on the ridge."])
    window = make_window()
    failures: list[str] = []
    shown: list[str] = []
    window.preview.page_failed.connect(failures.append)
    window.preview.text_shown.connect(shown.append)
    window.add_paths([str(folder)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "turbines")
    assert os.path.basename(hits[0].path) == "hang-survey.pdf"
    qtbot.waitUntil(lambda: bool(failures), timeout=20_000)
    preview = window.preview
    assert "hang-survey.pdf took longer than 2 s" in failures[0]
    assert preview.page_label.text() == f"This page cannot be shown: {failures[0]}"
    assert preview.page_label.pixmap().isNull() and preview.last_render is None
    qtbot.waitUntil(lambda: any("turbines" in h for h in shown))  # the text tab still works
    assert window.isVisible()


def test_text_files_have_no_page_tab(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "sourdough")
    assert os.path.basename(hits[0].path) == "bread.txt"
    qtbot.waitUntil(lambda: "Sourdough" in window.preview.text.toPlainText())
    assert not window.preview.tabs.isTabEnabled(1)
    assert window.preview.tabs.currentIndex() == 0


def test_preview_actions_open_reveal_and_copy(qtbot, make_window, corpus, desktop_has_apps):
    window = make_window()
    launched: list = []
    window.opener.launch = lambda command: launched.append(command) or True
    window.opener.open_url = lambda path: launched.append(path) or True
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "stagnation")
    qtbot.waitUntil(lambda: window.preview.hit is not None and window.preview.hit.path == hits[0].path)
    window.preview.copy_button.click()
    from PySide6.QtWidgets import QApplication

    assert QApplication.clipboard().text() == hits[0].path
    window.preview.open_button.click()
    qtbot.waitUntil(lambda: bool(launched))
    assert hits[0].path in str(launched[0])
    message = window.status.message_text()
    assert "hypersonic-report.pdf" in message and ("page 2" in message)
    launched.clear()
    window.preview.reveal_button.click()
    assert launched and (hits[0].path in str(launched[0]) or str(Path(hits[0].path).parent) in str(launched[0]))


def _is_yellowish(colour: QColor) -> bool:
    return colour.red() > 200 and colour.green() > 160 and colour.blue() < 140


# -- the renderer (core/preview/worker.py, core/preview/render.py) ------------------------

@pytest.fixture(scope="module")
def renderer():
    with PreviewWorker() as worker:
        yield worker


def test_render_page_marks_the_terms(tmp_path: Path, renderer: PreviewWorker):
    pdf = make_pdf(tmp_path / "a.pdf", ["Nothing here.", "The heat transfer rate was measured twice."])
    page = renderer.render(pdf, 2, ["transfer"], 500)
    assert page.png.startswith(b"\x89PNG")
    assert page.width == 500 and page.page_count == 2 and len(page.matches) == 1
    assert QImage.fromData(page.png, "PNG").width() == 500
    assert not renderer.render(pdf, 1, ["transfer"], 500).matches
    assert renderer.page_count(pdf) == 2


def test_render_page_refuses_bad_input(tmp_path: Path, renderer: PreviewWorker):
    pdf = make_pdf(tmp_path / "a.pdf", ["One page."])
    with pytest.raises(ExtractionError, match="page 3 is not there"):
        renderer.render(pdf, 3, [], 300)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not a pdf")
    with pytest.raises(CorruptFile):
        renderer.render(broken, 1, [], 300)
    with pytest.raises(EncryptedFile):
        renderer.render(make_encrypted_pdf(tmp_path / "locked.pdf", "secret"), 1, [], 300)
    text = tmp_path / "notes.txt"
    text.write_text("plain text", encoding="utf-8")
    with pytest.raises(UnsupportedFile):
        renderer.page_count(text)
    with pytest.raises(ExtractionError, match="not there any more"):
        renderer.render(tmp_path / "gone.pdf", 1, [], 300)


def test_match_spans_follow_the_query_words():
    text = "Heat flows; the flow transfers heat. Transformers are different."
    words = [text[a:b] for a, b in match_spans(text, "heat flow transf")]
    assert words == ["Heat", "flows", "flow", "transfers", "heat", "Transformers"]
    assert match_spans(text, "the") == [(12, 15)]  # only stopwords: they count
    assert match_spans(text, "") == []
