"""Extraction over real files generated in tmp_path, in-process and through the worker."""

from __future__ import annotations

import sys
from pathlib import Path

import docgen
import pytest
from memex.core.errors import (
    BinaryFile,
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    ExtractionError,
    ExtractionTimeout,
    ExtractorCrashed,
    UnsupportedFile,
)
from memex.core.extract import SUPPORTED_KINDS, detect_kind, extract_file, is_supported
from memex.core.extract import office as office_module
from memex.core.extract.worker import ExtractionWorker
from memex.core.types import Page

TEST_TARGET = f"{docgen.__name__}:misbehaving_extract"

# --- detect_kind -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("report.pdf", "pdf"),
        ("REPORT.PDF", "pdf"),
        ("book.epub", "epub"),
        ("notes.txt", "text"),
        ("notes.md", "markdown"),
        ("main.py", "code"),
        ("page.HTM", "html"),
        ("data.csv", "csv"),
        ("data.json", "json"),
        ("config.yml", "yaml"),
        ("letter.docx", "docx"),
        ("deck.pptx", "pptx"),
        ("sheet.xlsx", "xlsx"),
        ("essay.odt", "odt"),
        ("photo.jpg", "image"),
        ("scan.TIFF", "image"),
        ("archive.zip", None),
        ("archive.tar.gz", None),
        ("program.exe", None),
        ("song.mp3", None),
        ("README", "text"),
        ("Makefile", "text"),
        ("Dockerfile", "text"),
    ],
)
def test_detect_kind_by_name(tmp_path: Path, name: str, kind: str | None) -> None:
    assert detect_kind(tmp_path / name) == kind
    assert is_supported(tmp_path / name) is (kind is not None)
    if kind is not None:
        assert kind in SUPPORTED_KINDS


def test_detect_kind_sniffs_files_without_extension(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("plain words, caf\u00e9\n", encoding="utf-8")
    (tmp_path / "blob").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (tmp_path / "latin").write_bytes("caf\u00e9 cr\u00e8me".encode("latin-1"))
    assert detect_kind(tmp_path / "notes") == "text"
    assert detect_kind(tmp_path / "blob") is None
    assert detect_kind(tmp_path / "latin") is None
    assert detect_kind(tmp_path / "missing") is None



def test_detect_kind_sniffs_text_names_with_a_qualifier(tmp_path: Path) -> None:
    """README.Debian, README.source, COPYING.LIB, notes.draft: text with an extension that
    names no file type is read, not dropped; binary files under such names are not."""
    for name in ("README.Debian", "README.source", "COPYING.LIB", "Makefile.am", "notes.draft"):
        (tmp_path / name).write_text("How this package differs from upstream.\n", encoding="utf-8")
        assert detect_kind(tmp_path / name) == "text", name
    (tmp_path / "song.FLAC").write_bytes(b"fLaC\x00\x00\x00\x22\x10\x00\x10\x00\x00\x00\xff")
    (tmp_path / "README.Bin").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (tmp_path / "cache.db").write_text("not a type Memex reads", encoding="utf-8")
    assert detect_kind(tmp_path / "song.FLAC") is None
    assert detect_kind(tmp_path / "README.Bin") is None
    assert detect_kind(tmp_path / "cache.db") is None
    assert detect_kind(tmp_path / "README.missing") is None

# --- PDF and other PyMuPDF formats -----------------------------------------------------


def test_pdf_pages_keep_their_numbers(tmp_path: Path) -> None:
    path = docgen.make_pdf(
        tmp_path / "a.pdf", ["first page", "second page", "the zebra grazes", "last"]
    )
    result = extract_file(path)
    assert result.kind == "pdf"
    assert [p.number for p in result.pages] == [1, 2, 3, 4]
    assert result.pages[2] == Page(number=3, text=result.pages[2].text)
    assert "the zebra grazes" in result.pages[2].text
    assert "zebra" not in result.pages[1].text
    assert result.truncated is False


def test_pdf_title_and_long_text_wraps(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(500))
    path = docgen.make_pdf(tmp_path / "t.pdf", [words], title="Quarterly  Report")
    result = extract_file(path)
    assert result.title == "Quarterly Report"
    assert "word0" in result.pages[0].text and "word499" in result.pages[0].text


def test_pdf_without_title_and_with_an_empty_page(tmp_path: Path) -> None:
    result = extract_file(docgen.make_pdf(tmp_path / "e.pdf", ["before", "", "after"]))
    assert result.title is None
    assert [p.number for p in result.pages] == [1, 2, 3]
    assert result.pages[1] == Page(2, "")


def test_encrypted_pdf(tmp_path: Path) -> None:
    with pytest.raises(EncryptedFile) as info:
        extract_file(docgen.make_encrypted_pdf(tmp_path / "locked.pdf", "hidden text"))
    assert info.value.reason == "encrypted"
    assert "password" in str(info.value)


def test_scanned_pdf_pages_are_left_for_ocr(tmp_path: Path) -> None:
    result = extract_file(docgen.make_scanned_pdf(tmp_path / "scan.pdf"))
    assert result.pages == (Page(1, ""),) and result.ocr_pages == (1,)


def test_broken_pdf_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptFile) as info:
        extract_file(docgen.make_broken_pdf(tmp_path / "broken.pdf"))
    assert info.value.reason == "corrupt"


def test_epub_chapters_and_title(tmp_path: Path) -> None:
    path = docgen.make_epub(
        tmp_path / "book.epub", ["It was a dark night.", "The lighthouse keeper & his cat."], "Sea"
    )
    result = extract_file(path)
    assert result.kind == "epub"
    assert result.title == "Sea"
    text = "\n".join(p.text for p in result.pages)
    assert "dark night" in text and "lighthouse keeper & his cat" in text


# --- plain text ------------------------------------------------------------------------


def test_zero_byte_and_whitespace_files_are_empty(tmp_path: Path) -> None:
    for name in ("zero.txt", "zero.pdf", "zero.docx", "zero.html"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(EmptyFile):
            extract_file(tmp_path / name)
    (tmp_path / "blank.md").write_text("  \n\t\n \r\n", encoding="utf-8")
    with pytest.raises(EmptyFile) as info:
        extract_file(tmp_path / "blank.md")
    assert info.value.reason == "empty"


def test_binary_txt(tmp_path: Path) -> None:
    with pytest.raises(BinaryFile) as info:
        extract_file(docgen.make_binary_txt(tmp_path / "data.txt"))
    assert info.value.reason == "binary"


def test_latin1_text(tmp_path: Path) -> None:
    text = "Café crème brûlée. Le garçon a mangé à côté.\n"
    (tmp_path / "fr.txt").write_bytes(text.encode("latin-1"))
    assert extract_file(tmp_path / "fr.txt").pages[0].text == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "utf-32"])
def test_unicode_encodings_and_newlines(tmp_path: Path, encoding: str) -> None:
    text = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u6771\u4eac\r\nsecond line\rthird\n"
    (tmp_path / "u.txt").write_bytes(text.encode(encoding))
    result = extract_file(tmp_path / "u.txt")
    assert result.pages == (Page(1, "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u6771\u4eac\n"
                                    "second line\nthird\n"),)
    assert result.kind == "text"


def test_stray_nul_characters_are_stripped(tmp_path: Path) -> None:
    (tmp_path / "log.log").write_bytes(b"a" * 9000 + b"\x00\x00tail words\n")
    text = extract_file(tmp_path / "log.log").pages[0].text
    assert "\x00" not in text and text.endswith("tail words\n")


def test_markdown_title_and_code(tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("# Garden plans\n\nPlant *tomatoes*.\n", encoding="utf-8")
    (tmp_path / "m.py").write_text("def grow():\n    return 'basil'\n", encoding="utf-8")
    md = extract_file(tmp_path / "n.md")
    assert (md.kind, md.title) == ("markdown", "Garden plans")
    assert "tomatoes" in md.pages[0].text
    code = extract_file(tmp_path / "m.py")
    assert code.kind == "code" and "basil" in code.pages[0].text


def test_xml_keeps_text_not_tags_and_resolves_no_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    (tmp_path / "d.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<r><item>apples</item><item>pears &x;</item></r>",
        encoding="utf-8",
    )
    text = extract_file(tmp_path / "d.xml").pages[0].text
    assert "apples" in text and "pears" in text
    assert "<item>" not in text and "TOPSECRET" not in text


def test_max_chars_truncates(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("abcdefghij" * 100, encoding="utf-8")
    result = extract_file(tmp_path / "big.txt", max_chars=95)
    assert result.truncated is True
    assert result.char_count == 95
    pdf = docgen.make_pdf(tmp_path / "p.pdf", ["alpha " * 20, "beta " * 20, "gamma " * 20])
    result = extract_file(pdf, max_chars=150)
    assert result.truncated is True and result.char_count <= 150
    assert "gamma" not in "".join(p.text for p in result.pages)
    assert extract_file(pdf).truncated is False


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "song.mp3").write_bytes(b"ID3\x04\x00")
    with pytest.raises(UnsupportedFile):
        extract_file(tmp_path / "song.mp3")
    with pytest.raises(ExtractionError) as info:
        extract_file(tmp_path / "gone.txt")
    assert info.value.reason == "unreadable"


# --- HTML ------------------------------------------------------------------------------


def test_html_drops_script_and_style(tmp_path: Path) -> None:
    path = docgen.make_html(tmp_path / "p.html", "Trip  notes", ["Day one: Lisbon", "Fish & chips"])
    result = extract_file(path)
    text = result.pages[0].text
    assert result.kind == "html" and result.title == "Trip notes"
    assert "Day one: Lisbon\n" in text and "Fish & chips" in text
    for hidden in ("HIDDENSCRIPT", "HIDDENSTYLE", "HIDDENNOSCRIPT", "<p>"):
        assert hidden not in text


def test_html_blocks_whitespace_and_charset(tmp_path: Path) -> None:
    html = (
        '<html><head><meta charset="windows-1252"></head><body>'
        "<div>one\n   two</div><ul><li>x</li><li>y</li></ul>caf\u00e9<br>next"
        "<table><tr><td>a</td><td>b</td></tr></table><pre>keep\nlines</pre></body></html>"
    )
    (tmp_path / "w.htm").write_bytes(html.encode("cp1252"))
    assert extract_file(tmp_path / "w.htm").pages[0].text == (
        "one two\n\nx\ny\n\ncaf\u00e9\nnext\n\na b\n\nkeep\nlines"
    )


# --- Office ----------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_title(tmp_path: Path) -> None:
    path = docgen.make_docx(
        tmp_path / "d.docx", ["Dear Ana,", "the invoice is attached."], title="Invoice",
        table=[["Item", "Price"], ["Lamp", "30"]],
    )
    result = extract_file(path)
    assert (result.kind, result.title) == ("docx", "Invoice")
    text = result.pages[0].text
    assert "the invoice is attached." in text and "Lamp\t30" in text


def test_pptx_slides_are_pages(tmp_path: Path) -> None:
    path = docgen.make_pptx(tmp_path / "s.pptx", ["Welcome", "", "Roadmap for spring"])
    result = extract_file(path)
    assert result.kind == "pptx"
    assert [p.number for p in result.pages] == [1, 2, 3]
    assert result.pages[2] == Page(3, "Roadmap for spring")
    assert result.pages[1].text == ""


def test_xlsx_sheets_are_pages(tmp_path: Path) -> None:
    path = docgen.make_xlsx(
        tmp_path / "b.xlsx", [["Fruit", "Kg"], ["Mango", 2.0], ["Kiwi", 0.5]],
        extra_sheets={"Notes": [["remember the mangoes"]]},
    )
    result = extract_file(path)
    assert result.kind == "xlsx" and len(result.pages) == 2
    assert "Mango\t2" in result.pages[0].text and "Kiwi\t0.5" in result.pages[0].text
    assert result.pages[1].number == 2 and "remember the mangoes" in result.pages[1].text


def test_opendocument_formats(tmp_path: Path) -> None:
    odt = extract_file(docgen.make_odt(tmp_path / "e.odt", ["Chapter one", "It rained."], "Rain"))
    assert (odt.kind, odt.title) == ("odt", "Rain")
    assert odt.pages[0].text == "Chapter one\nIt rained."
    ods = extract_file(docgen.make_ods(tmp_path / "t.ods", [["city", "pop"], ["Oslo", "700k"]]))
    assert ods.kind == "ods" and "Oslo\t700k" in ods.pages[0].text
    odp = extract_file(docgen.make_odp(tmp_path / "p.odp", ["Intro", "Results"]))
    assert [p.text for p in odp.pages] == ["Intro", "Results"]


def test_zip_containers_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = docgen.make_zip(tmp_path / "evil.docx", {"../../escape.xml": b"<x/>"})
    with pytest.raises(CorruptFile, match="unsafe"):
        extract_file(evil)
    (tmp_path / "notzip.xlsx").write_bytes(b"PK but not really a zip file")
    with pytest.raises(CorruptFile):
        extract_file(tmp_path / "notzip.xlsx")
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(EncryptedFile):
        extract_file(tmp_path / "locked.docx")
    path = docgen.make_docx(tmp_path / "ok.docx", ["fine"])
    monkeypatch.setattr(office_module, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(CorruptFile, match="too large when unpacked"):
        extract_file(path)


# --- worker ----------------------------------------------------------------------------


def test_worker_extracts_and_reraises_the_same_error(tmp_path: Path) -> None:
    pdf = docgen.make_pdf(tmp_path / "w.pdf", ["one", "two", "three"], title="W")
    locked = docgen.make_encrypted_pdf(tmp_path / "locked.pdf", "x")
    with ExtractionWorker(timeout_s=20) as worker:
        assert worker.extract(pdf) == extract_file(pdf)
        pid = worker.pid
        with pytest.raises(EncryptedFile) as info:
            worker.extract(locked)
        assert info.value.reason == "encrypted"
        assert worker.extract(pdf, max_chars=5).truncated is True
        assert worker.pid == pid  # one child serves many files
    assert worker.pid is None
    worker.close()  # idempotent


@pytest.mark.slow
def test_worker_times_out_then_recovers(tmp_path: Path) -> None:
    pdf = docgen.make_pdf(tmp_path / "after.pdf", ["still working"])
    (tmp_path / "hang.txt").write_text("never read", encoding="utf-8")
    with ExtractionWorker(timeout_s=1.5, target=TEST_TARGET) as worker:
        with pytest.raises(ExtractionTimeout) as info:
            worker.extract(tmp_path / "hang.txt")
        assert info.value.reason == "timeout"
        assert worker.pid is None  # the stuck child was killed and reaped
        assert "still working" in worker.extract(pdf).pages[0].text


def test_worker_reports_a_crash_then_recovers(tmp_path: Path) -> None:
    pdf = docgen.make_pdf(tmp_path / "after.pdf", ["survived"])
    (tmp_path / "before.txt").write_text("warm", encoding="utf-8")
    (tmp_path / "crash.txt").write_text("boom", encoding="utf-8")
    with ExtractionWorker(timeout_s=20, target=TEST_TARGET) as worker:
        assert worker.extract(tmp_path / "before.txt").pages[0].text == "warm"
        first_pid = worker.pid
        with pytest.raises(ExtractorCrashed, match=r"crashed \(signal 9\)") as info:
            worker.extract(tmp_path / "crash.txt")
        assert info.value.reason == "crashed"
        if sys.platform.startswith("linux"):
            assert not Path(f"/proc/{first_pid}").exists()  # reaped, not a zombie
        assert "survived" in worker.extract(pdf).pages[0].text
        assert worker.pid not in (None, first_pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux-only")
def test_worker_memory_cap(tmp_path: Path) -> None:
    (tmp_path / "oom.txt").write_text("hungry", encoding="utf-8")
    (tmp_path / "fine.txt").write_text("fed", encoding="utf-8")
    with ExtractionWorker(timeout_s=20, memory_mb=1024, target=TEST_TARGET) as worker:
        with pytest.raises(ExtractionError) as info:
            worker.extract(tmp_path / "oom.txt")
        assert info.value.reason == "too-large"
        assert worker.extract(tmp_path / "fine.txt").pages[0].text == "fed"
