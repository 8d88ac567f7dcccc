"""While the window runs it serves its library: the CLI's search answers from it, an index
run handed in from the command line refreshes the window, and closing stops the service."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from memex.core.service.client import connect


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch):
    folder = tempfile.mkdtemp(prefix="mxw")  # short: socket paths hold ~100 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)


def test_the_window_serves_its_library_until_it_closes(make_window, library, corpus, runtime, qtbot):
    from memex.desktop.service_host import serve_while_open

    library.index([corpus])
    window = make_window()
    service = serve_while_open(window)
    assert service.serving, service.problem
    proc = subprocess.run([str(Path(sys.executable).with_name("memex")), "search", "sourdough", "--mode", "bm25",
                           "--library", str(library.path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "bread.txt" in proc.stdout, proc.stderr

    (corpus / "late.txt").write_text("A note about the harbour lighthouse.\n", encoding="utf-8")
    with qtbot.waitSignal(service.written, timeout=60_000) as heard, connect(library.path) as client:
        assert client.call("index", {}, timeout=None)["added"] == 1
    assert heard.args[0].documents

    service.close()
    assert connect(library.path) is None


def test_a_second_window_on_the_same_library_says_why_it_does_not_serve(make_window, library, runtime):
    from memex.core.api import resident_service
    from memex.desktop.service_host import serve_while_open

    other = resident_service(library)
    try:
        service = serve_while_open(make_window())
        assert not service.serving and "already serves this library" in (service.problem or "")
    finally:
        other.close()
