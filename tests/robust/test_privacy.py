"""No network unless the user asks to download a model: indexing and searching a mixed folder
(with documents that point at the network) make no connection, neither in this process nor in
the extraction child nor in the command-line tool.

Two nets: Python's socket API is replaced (here, and through a sitecustomize.py on PYTHONPATH
in every child Python), and every remote reference in the documents points at a canary HTTP
server on 127.0.0.1, which would see a fetch made from C code (libxml2, MuPDF) as well.
Neither sees a native thread that reaches out on its own (ONNX Runtime's telemetry uploader):
test_network_boundary.py watches the processes from outside with strace.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hostile_files import NETGUARD_ENV, NETGUARD_SITECUSTOMIZE
from memex.core.extract.worker import ExtractionWorker
from memex_bench.robustness import make_docx_xml, make_epub_xml, make_odt_xml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
import docgen  # noqa: E402


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        _Canary.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canary():
    _Canary.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Canary.hits
    server.shutdown()
    server.server_close()


def _mixed_folder(folder: Path, url: str) -> None:
    folder.mkdir()
    words = "The cormorant dives for herring near the old lighthouse"
    docgen.make_pdf(folder / "report.pdf", [f"{words} in the report."])
    docgen.make_docx(folder / "letter.docx", [f"{words} in the letter."])
    docgen.make_pptx(folder / "slides.pptx", [f"{words} on a slide."])
    docgen.make_xlsx(folder / "sheet.xlsx", [["bird", "cormorant"], ["fish", "herring"]])
    docgen.make_odt(folder / "essay.odt", [f"{words} in the essay."])
    docgen.make_epub(folder / "book.epub", [f"{words} in the book."], title="Book")
    (folder / "notes.md").write_text(f"# Notes\n\n{words} in the notes.\n")
    (folder / "data.csv").write_text("bird,food\ncormorant,herring\n")
    # Documents that point at the network: none of it may be fetched.
    (folder / "page.html").write_text(
        f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "{url}/xhtml.dtd">'
        f'<html><head><link rel="stylesheet" href="{url}/style.css"><script src="{url}/app.js"></script>'
        f'</head><body><p>{words} on a page.</p><img src="{url}/pixel.png"><iframe src="{url}/frame">'
        "</iframe></body></html>")
    (folder / "feed.xml").write_text(
        f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{url}/feed.dtd" [<!ENTITY remote SYSTEM "{url}/entity">]>'
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><t>{words} in a feed.</t>&remote;'
        f'<xi:include href="{url}/include.xml"/></r>')
    make_docx_xml(folder / "remote.docx", f"<w:p><w:r><w:t>{words} &remote;</w:t></w:r></w:p>",
                  f'<!DOCTYPE w:document [<!ENTITY remote SYSTEM "{url}/docx-entity">]>')
    make_odt_xml(folder / "remote.odt", f'<text:p>{words} in a remote odt.</text:p>'
                 f'<text:a xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="{url}/odt-link">x</text:a>',
                 f'<!DOCTYPE office:document-content SYSTEM "{url}/odt.dtd">')
    make_epub_xml(folder / "remote.epub", f'<p>{words} in a remote book.</p><img src="{url}/cover.png"/>'
                  f'<link rel="stylesheet" href="{url}/book.css"/>')


def _extraction_children() -> set[int]:
    """This process's running extraction children (an ExtractionWorker names its child)."""
    return {p.pid for p in multiprocessing.active_children() if p.name == ExtractionWorker.SPEC.process_name}


def _guard_dir(tmp_path: Path) -> Path:
    guard = tmp_path / "netguard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NETGUARD_SITECUSTOMIZE)
    return guard


def test_indexing_and_search_make_no_connection(tmp_path: Path, monkeypatch, canary, make_library,
                                                 reranker_dir: Path) -> None:
    url, hits = canary
    folder = tmp_path / "mixed"
    _mixed_folder(folder, url)
    log = tmp_path / "net.log"
    guard = _guard_dir(tmp_path)
    monkeypatch.setenv(NETGUARD_ENV, str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]))

    attempts: list[str] = []

    def refuse(name: str):
        def blocked(*args: object, **kwargs: object) -> None:
            attempts.append(f"{name} {args[1:]!r}")
            raise OSError(f"network blocked by the privacy test: {name}")
        return blocked

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse(f"socket.{name}"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))

    from memex.core.models.embedding import load_embedder

    embedder = load_embedder(None, threads=2)  # loading the model is covered too
    children_before = _extraction_children()
    lib = make_library(tmp_path / "library.db", embedder=embedder,
                       reranker=str(reranker_dir))  # and loading a reranker
    report = lib.index([folder])
    assert report.added + report.failed == len(list(folder.iterdir()))
    hits_found = lib.search("cormorant herring", k=20)
    started = _extraction_children() - children_before
    worker_pid = started.pop() if len(started) == 1 else None
    assert len(hits_found) >= 8
    assert lib.reranker is not None

    assert attempts == []
    lines = log.read_text().splitlines()
    assert all(line.split(" ", 1)[1] == "guard-loaded" for line in lines), lines
    assert worker_pid is not None and f"{worker_pid} guard-loaded" in lines  # the child was guarded
    assert hits == []


def test_command_line_makes_no_connection(tmp_path: Path, canary) -> None:
    url, hits = canary
    folder = tmp_path / "mixed"
    _mixed_folder(folder, url)
    log = tmp_path / "net.log"
    guard = _guard_dir(tmp_path)
    env = {**os.environ, NETGUARD_ENV: str(log), "MEMEX_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")])}
    db = str(tmp_path / "library.db")
    for args in (["index", "--library", db, str(folder)], ["search", "--library", db, "cormorant"],
                 ["status", "--library", db]):
        run = subprocess.run([sys.executable, "-m", "memex.core", *args], env=env, capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == 0, run.stderr
    lines = log.read_text().splitlines()
    assert lines and all(line.split(" ", 1)[1] == "guard-loaded" for line in lines), lines
    assert len({line.split()[0] for line in lines}) >= 4  # three commands and an extraction child
    assert hits == []
