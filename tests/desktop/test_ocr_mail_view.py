"""What the window shows of scanned pages (OCR) and mail: a message's subject and sender in the
results, the "OCR" mark on passages read from a page image, the OCR progress line, the OCR
setting, and pages highlighted from the word boxes OCR read."""

from __future__ import annotations

import contextlib
import dataclasses
import html
from pathlib import Path

import pytest
from gui_helpers import search_for, wait_idle
from layout_check import layout_problems
from memex.core.config import Settings
from memex.core.preview.render import render_page
from memex.core.preview.worker import PreviewWorker
from memex.core.types import ChunkHit, Highlight, Hit, IndexProgress, OcrPage, OcrWord
from memex.desktop import fmt, result_delegate
from memex.desktop.progress import StatusArea
from memex.desktop.results import HIT_ROLE, ResultsView
from memex.desktop.settings_dialog import SettingsDialog
from PySide6.QtCore import QEvent, QPoint, QRect, Qt
from PySide6.QtGui import QHelpEvent, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QStyleOptionViewItem, QToolTip

SUBJECT = "Quarterly invoice for the observatory"
SENDER = "Ada Lovelace <ada@example.org>"


def _chunk(chunk_id: int, *, ocr: bool = False, page: int = 1) -> ChunkHit:
    return ChunkHit(chunk_id=chunk_id, page=page, char_start=0, char_end=40, text="the invoice is overdue",
                    snippet="the invoice is overdue since March", highlights=(Highlight(4, 11),), score=1.0, ocr=ocr)


def _message(document_id: int = 1, ocr: bool = False) -> Hit:
    return Hit(document_id=document_id, path="/mail/Inbox.mbox/20480", title=SUBJECT, kind="email",
               mtime=1_700_000_000.0, score=1.0, chunks=(_chunk(10 * document_id, ocr=ocr),),
               fields=(("from", SENDER), ("to", "Bob <bob@example.org>"), ("date", "2024-03-05T09:30:00+00:00")),
               container="/mail/Inbox.mbox")


def _scan(document_id: int = 2, ocr: bool = True) -> Hit:
    chunks = (_chunk(10 * document_id, ocr=ocr, page=3), _chunk(10 * document_id + 1, ocr=ocr, page=4))
    return Hit(document_id=document_id, path="/papers/scanned-letter.pdf", title=None, kind="pdf",
               mtime=1_700_000_000.0, score=1.0, chunks=chunks)


class _RecordingPainter(QPainter):
    """A QPainter that remembers every text drawn with it (the delegate paints rows with it)."""

    texts: list[str] = []

    def drawText(self, *args):  # noqa: N802 - Qt's name
        _RecordingPainter.texts.append(args[-1])
        return super().drawText(*args)


@pytest.fixture
def view(qtbot):
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(620, 400)
    view.show()
    return view


def _painted_texts(view: ResultsView, index) -> list[str]:
    """The texts the delegate draws for the row at ``index``."""
    _RecordingPainter.texts = []
    view.delegate.clear_cache()
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    option.rect = QRect(QPoint(0, 0), view.delegate.sizeHint(option, index))
    pix = QPixmap(option.rect.size())
    painter = QPainter(pix)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(result_delegate, "QPainter", _RecordingPainter)
        view.delegate.paint(painter, option, index)
    painter.end()
    view.delegate.clear_cache()
    return list(_RecordingPainter.texts)


def test_a_message_shows_its_subject_sender_and_date(view):
    view.set_hits("invoice", [_message()])
    index = view.results.index(0)
    texts = _painted_texts(view, index)
    assert SUBJECT in texts  # the title line
    detail = next(t for t in texts if t.startswith("From: "))
    assert detail.startswith("From: Ada Lovelace  ·  05 Mar 2024"), detail  # the sender's name and the date
    assert not any("20480" in t or "/mail" in t for t in texts)  # not the member key, not the folder
    assert index.data(Qt.ItemDataRole.DisplayRole) == SUBJECT  # what a screen reader says
    tooltip = html.unescape(index.data(Qt.ItemDataRole.ToolTipRole))  # shown as plain text
    assert f"From: {SENDER}" in tooltip and "To: Bob <bob@example.org>" in tooltip and "/mail/Inbox.mbox" in tooltip


def test_an_ordinary_file_keeps_its_name_and_folder(view):
    view.set_hits("invoice", [_scan(ocr=False)])
    texts = _painted_texts(view, view.results.index(0))
    assert "scanned-letter.pdf" in texts
    assert any(t.startswith("/papers  ·  page 3") for t in texts)
    assert "OCR" not in texts
    assert view.delegate.ocr_mark_rect(QRect(0, 0, 600, 90), view.results.index(0)).isEmpty()


def test_a_passage_read_by_ocr_is_marked_and_the_mark_explains_itself(view, qtbot):
    view.set_hits("invoice", [_scan(ocr=True)])
    top = view.results.index(0)
    view.setExpanded(top, True)
    passage = view.results.index(0, 0, top)
    assert "OCR" in _painted_texts(view, top)
    assert "OCR" in _painted_texts(view, passage)  # the document's other passage too
    qtbot.waitUntil(lambda: view.visualRect(passage).height() > 0)
    for index in (top, passage):
        row = view.visualRect(index)
        mark = view.delegate.ocr_mark_rect(row, index)
        assert not mark.isEmpty() and row.contains(mark), (row, mark)
        at = mark.center()
        event = QHelpEvent(QEvent.Type.ToolTip, at, view.viewport().mapToGlobal(at))
        option = QStyleOptionViewItem()
        view.initViewItemOption(option)
        option.rect = row
        assert view.delegate.helpEvent(event, view, option, index)
        assert QToolTip.text() == fmt.OCR_TIP == "Text read from the page image"
        QToolTip.hideText()
    # the mark is painted where the delegate says it is: a pixel of the accent colour inside it
    image = view.viewport().grab().toImage()
    mark = view.delegate.ocr_mark_rect(view.visualRect(top), top)
    ratio = image.devicePixelRatio()
    blue = [image.pixelColor(int(x * ratio), int(mark.center().y() * ratio))
            for x in range(mark.left(), mark.right())]
    assert any(c.blue() > c.red() + 60 for c in blue), "the OCR mark is drawn in the accent colour"


@pytest.mark.parametrize("width", [340, 520, 900])
def test_mail_and_ocr_rows_stay_inside_their_row_at_each_width(qtbot, width):
    view = ResultsView()
    qtbot.addWidget(view)
    view.resize(width, 500)
    view.show()
    long_subject = dataclasses.replace(_message(3, ocr=True), title="A very long subject line " * 8)
    view.set_hits("invoice", [_message(1, ocr=True), long_subject, _scan(2)])
    qtbot.waitUntil(lambda: view.visualRect(view.results.index(2)).height() > 0)
    for row in range(3):
        index = view.results.index(row)
        rect = view.visualRect(index)
        mark = view.delegate.ocr_mark_rect(rect, index)
        assert rect.contains(mark) and mark.right() < rect.right() - 40, (width, row, rect, mark)
        assert index.data(HIT_ROLE).chunks[0].ocr == (row != 2) or row == 2


# -- progress -------------------------------------------------------------------------------

def test_the_status_line_says_it_is_reading_scanned_pages(qtbot):
    status = StatusArea()
    qtbot.addWidget(status)
    status.resize(1400, 40)
    status.show()
    status.update_progress(IndexProgress(phase="ocr", files_total=5, files_done=5, ocr_pages_total=80,
                                         ocr_pages_done=12, chunks_pending=40))
    assert status.phase.text() == "Reading scanned pages"
    assert status.counts.text() == "12 of 80"
    assert (status.bar.maximum(), status.bar.value()) == (80, 12)
    line = f"{status.phase.text()}, {status.counts.text()}"
    assert line == "Reading scanned pages, 12 of 80"
    status.update_progress(IndexProgress(phase="indexing", files_total=4, files_done=1))  # words, as before
    assert status.phase.text() == "Indexing" and status.counts.text() == "1 of 4 files"
    status.update_progress(IndexProgress(phase="embedding", chunks_pending=300))  # meaning, as before
    assert status.phase.text() == "Analysing passages" and status.counts.text() == "300 passages to go"


# -- settings -------------------------------------------------------------------------------

@pytest.mark.parametrize("start", [True, False])
def test_the_ocr_setting_round_trips_through_the_dialog(qtbot, start: bool):
    original = dataclasses.replace(Settings(), ocr=start)
    dialog = SettingsDialog(original, start_at_login=False, minimise_to_tray=False, tray_available=False)
    qtbot.addWidget(dialog)
    assert dialog.ocr.text() == "Read scanned pages and pictures (OCR)"
    assert dialog.ocr.isChecked() is start
    assert dialog.result_settings().settings == original  # untouched: nothing changes
    dialog.ocr.click()
    result = dialog.result_settings()
    assert result.settings.ocr is (not start)
    assert result.restart_needed == []  # it takes effect without a restart


def test_the_window_saves_and_applies_the_ocr_setting(qtbot, make_window, library):
    window = make_window()
    qtbot.waitUntil(lambda: window.library is not None)
    assert library.settings.ocr is True
    dialog = SettingsDialog(library.settings, start_at_login=False, minimise_to_tray=False, tray_available=False)
    qtbot.addWidget(dialog)
    dialog.ocr.setChecked(False)
    window.apply_settings(dialog.result_settings())
    assert library.settings.ocr is False  # the library uses it from its next run on
    qtbot.waitUntil(lambda: "Settings saved" in window.status.message_text())
    assert Settings.load().ocr is False  # and it is in the settings file


# -- pages highlighted from OCR boxes -------------------------------------------------------

def _scanned_picture(path: Path, dpi: int) -> tuple[Path, tuple[float, float, float, float], tuple[int, int]]:
    """A white picture of text with one word in it (PNG at ``dpi``); returns its path, the word's
    box in pixels and the picture's size in pixels."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_text((40, 120), "Please pay the invoice today", fontsize=18)
    word = next(w for w in page.get_text("words") if w[4] == "invoice")
    zoom = dpi / 72
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
    pix.set_dpi(dpi, dpi)
    pix.save(str(path))
    doc.close()
    return path, tuple(v * zoom for v in word[:4]), (pix.width, pix.height)


def _yellow_share(png: bytes, box, inset: int = 2) -> float:
    image = QImage.fromData(png, "PNG")
    x0, y0, x1, y1 = (int(v) for v in box)
    pixels = [image.pixelColor(x, y) for x in range(x0 + inset, x1 - inset) for y in range(y0 + inset, y1 - inset)]
    return sum(1 for c in pixels if c.red() > 200 and c.green() > 160 and c.blue() < 140) / max(1, len(pixels))


def test_render_page_highlights_boxes_given_in_picture_pixels(tmp_path: Path):
    picture, box, size = _scanned_picture(tmp_path / "receipt.png", dpi=150)  # page units are not pixels
    rendered = render_page(str(picture), 1, ["invoice"], 500, True, [box], size)
    assert rendered.width == 500 and len(rendered.matches) == 1
    scale = 500 / size[0]
    expected = tuple(v * scale for v in box)
    assert all(abs(a - b) < 1.5 for a, b in zip(rendered.matches[0], expected, strict=True))
    assert _yellow_share(rendered.png, expected) > 0.5  # the word's box is tinted
    image = QImage.fromData(rendered.png, "PNG")
    assert image.pixelColor(int(expected[0]) - 12, int(expected[1]) - 12).name() == "#ffffff"  # not around it
    plain = render_page(str(picture), 1, ["invoice"], 500, True)
    assert not plain.matches and _yellow_share(plain.png, expected) == 0  # no boxes: nothing marked


def test_render_page_highlights_boxes_in_points_on_a_scanned_pdf_page(tmp_path: Path):
    import pymupdf

    picture, box_px, size = _scanned_picture(tmp_path / "scan.png", dpi=144)
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    page.insert_image(page.rect, filename=str(picture))  # a page that is only a picture
    doc.save(str(tmp_path / "scan.pdf"))
    doc.close()
    box_pt = tuple(v * 400 / size[0] for v in box_px)
    rendered = render_page(str(tmp_path / "scan.pdf"), 1, ["invoice"], 800, True, [box_pt], (400, 300))
    expected = tuple(v * 2 for v in box_pt)
    assert all(abs(a - b) < 1.5 for a, b in zip(rendered.matches[0], expected, strict=True))
    assert _yellow_share(rendered.png, expected) > 0.5


def test_a_page_with_a_text_layer_marks_its_own_words_not_the_given_boxes(tmp_path: Path):
    from docgen import make_pdf

    pdf = make_pdf(tmp_path / "text.pdf", ["The invoice is attached."])
    elsewhere = (300.0, 700.0, 400.0, 740.0)
    rendered = render_page(str(pdf), 1, ["invoice"], 595, False, [elsewhere], (595, 842))
    assert len(rendered.matches) == 1 and rendered.matches[0][1] < 200  # the word on the page
    assert _yellow_share(rendered.png, elsewhere) == 0


def test_the_library_draws_ocr_matches_through_the_preview_process(tmp_path: Path, library):
    picture, box, size = _scanned_picture(tmp_path / "note.png", dpi=96)
    words = (OcrWord("Please", 0, 0, 10, 10), OcrWord("invoice", *box), OcrWord("today", 20, 20, 30, 30))
    ocr = OcrPage(1, "Please pay the invoice today", words, float(size[0]), float(size[1]), "test")
    rendered = library.render_page(picture, 1, ["invoic"], size[0], crop_margins=True, ocr=ocr)
    assert len(rendered.matches) == 1  # only the word matching the query
    assert _yellow_share(rendered.png, rendered.matches[0]) > 0.5
    with PreviewWorker() as worker:  # the worker passes the boxes on as given
        again = worker.render(picture, 1, [], size[0], True, [box], size)
    assert again.png == rendered.png


def _wide_window(qtbot, make_window):
    """The window with a preview pane wide enough for its header to show in full."""
    window = make_window()
    qtbot.waitUntil(lambda: window.library is not None)
    window.resize(1600, 1000)
    window.splitter.setSizes([200, 500, 900])
    qtbot.waitUntil(lambda: window.preview.width() > 800)
    return window


def test_pictures_are_drawn_as_pages_in_the_window(qtbot, make_window, library, tmp_path: Path):
    picture, box, size = _scanned_picture(tmp_path / "whiteboard.png", dpi=72)
    window = _wide_window(qtbot, make_window)
    hit = Hit(document_id=99, path=str(picture), title=None, kind="image", mtime=1.0, score=1.0,
              chunks=(_chunk(990, ocr=True),))
    shown: list[tuple[int, int]] = []
    window.preview.page_shown.connect(lambda doc, page: shown.append((doc, page)))
    window.preview.show_hit(hit, hit.chunks[0], "invoice")
    qtbot.waitUntil(lambda: (99, 1) in shown, timeout=20_000)
    assert window.preview.tabs.isTabEnabled(1) and window.preview.tabs.currentIndex() == 1
    assert window.preview.last_render.width > 100 and window.preview.last_render.page_count == 1
    assert "read by OCR" in window.preview.meta.text()


def test_a_message_preview_names_sender_and_shows_text_not_pages(qtbot, make_window, library):
    window = _wide_window(qtbot, make_window)
    hit = _message()
    window.preview.show_hit(hit, hit.chunks[0], "invoice")
    preview = window.preview
    assert preview.title.text() == SUBJECT
    assert preview.meta.text().startswith("From: Ada Lovelace  ·  05 Mar 2024  ·  in Inbox.mbox")
    assert not preview.tabs.isTabEnabled(1) and preview.tabs.currentIndex() == 0  # its text, no page
    copied: list[str] = []
    preview.copy_requested.connect(copied.append)
    preview.copy_button.click()
    assert copied == ["/mail/Inbox.mbox"]  # a path that exists on disk


# -- the whole way: indexed files, searched, shown and opened -------------------------------

def _mailbox(path: Path) -> Path:
    import mailbox
    from email.message import EmailMessage

    box = mailbox.mbox(str(path))
    for sender, subject, body in ((SENDER, "Telescope mirror recoating schedule",
                                   "The primary mirror goes out for recoating on 14 March."),
                                  ("Alan Turing <alan@example.org>", "Lunch on Friday?",
                                   "Shall we try the noodle place by the station?")):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, "team@example.org", subject
        message["Date"] = "Tue, 05 Mar 2024 09:30:00 +0000"
        message.set_content(body)
        box.add(message)
    box.flush()
    box.close()
    return path


def test_a_message_is_found_shown_and_opened_as_a_message(qtbot, make_window, tmp_path: Path, desktop_has_apps):
    folder = tmp_path / "mail"
    folder.mkdir()
    mbox = _mailbox(folder / "Inbox.mbox")
    window = _wide_window(qtbot, make_window)
    launched: list = []
    window.opener.launch = lambda command: launched.append(command) or True
    window.opener.open_url = lambda path: launched.append(path) or True
    shown: list[str] = []
    window.preview.text_shown.connect(shown.append)
    window.add_paths([str(folder)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "recoating")
    assert hits and hits[0].container == str(mbox) and hits[0].title == "Telescope mirror recoating schedule"
    texts = _painted_texts(window.search.view, window.search.view.results.index(0))
    assert "Telescope mirror recoating schedule" in texts
    assert any(t.startswith("From: Ada Lovelace  ·  05 Mar 2024") for t in texts)
    qtbot.waitUntil(lambda: any("primary mirror" in h for h in shown))  # the preview shows the message
    assert window.preview.title.text() == "Telescope mirror recoating schedule"
    for size in ((800, 500), (1024, 700), (1600, 1000)):  # the subject and sender fit, or end in "…" with a tooltip
        window.resize(*size)
        with contextlib.suppress(qtbot.TimeoutError):
            qtbot.waitUntil(lambda: not layout_problems(window, check_screen=False), timeout=5000)
        assert layout_problems(window, check_screen=False) == [], size
    window.status.clear_message()
    window.preview.open_button.click()
    qtbot.waitUntil(lambda: bool(launched) or bool(window.status.message_text()))
    assert launched, window.status.message_text()
    opened = Path(str(launched[0]))
    assert opened.suffix == ".eml" and opened != mbox  # the message itself, written out for a mail program
    assert b"Telescope mirror recoating schedule" in opened.read_bytes()
    assert b"Lunch on Friday" not in opened.read_bytes()


def _scanned_pdf(path: Path, text: str) -> Path:
    """A text page drawn to a 150-dpi picture and put in a PDF that holds only that picture."""
    import pymupdf

    source = pymupdf.open()
    page = source.new_page(width=595, height=842)
    page.insert_textbox(pymupdf.Rect(60, 80, 535, 400), text, fontsize=14, fontname="helv")
    picture = page.get_pixmap(dpi=150, alpha=False).tobytes("png")
    scan = pymupdf.open()
    scan.new_page(width=595, height=842).insert_image(pymupdf.Rect(0, 0, 595, 842), stream=picture)
    scan.save(str(path))
    return path


@pytest.mark.slow
def test_a_word_only_in_a_scanned_page_is_found_and_marked_on_the_page(qtbot, make_window, tmp_path: Path):
    folder = tmp_path / "scans"
    folder.mkdir()
    _scanned_pdf(folder / "harbour-notice.pdf", "Harbour Office notice.\n\nThe quokka enclosure on the eastern "
                                                "pier will be repainted next week.")
    window = _wide_window(qtbot, make_window)
    pages: list[tuple[int, int]] = []
    window.preview.page_shown.connect(lambda doc, page: pages.append((doc, page)))
    window.add_paths([str(folder)])
    wait_idle(qtbot, window, timeout=120_000)  # words, then the scanned page read by OCR
    hits = search_for(qtbot, window, "quokka")
    assert [Path(h.path).name for h in hits] == ["harbour-notice.pdf"]
    assert hits[0].page == 1 and hits[0].chunks[0].ocr
    assert "OCR" in _painted_texts(window.search.view, window.search.view.results.index(0))
    qtbot.waitUntil(lambda: (hits[0].document_id, 1) in pages, timeout=30_000)
    rendered = window.preview.last_render
    assert len(rendered.matches) == 1  # the word OCR read, from its box
    x0, y0, x1, y1 = rendered.matches[0]
    assert rendered.width * 0.05 < x0 < rendered.width * 0.5 and y0 < rendered.height * 0.5  # where it is printed
    assert _yellow_share(rendered.png, rendered.matches[0]) > 0.3
    assert "read by OCR" in window.preview.meta.text()
