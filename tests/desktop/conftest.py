"""Window tests: Qt offscreen, real libraries (the session's embedder), real files."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))  # docgen
sys.path.insert(0, str(Path(__file__).resolve().parent))  # gui_helpers

import pytest  # noqa: E402
from docgen import make_pdf  # noqa: E402
from gui_helpers import PDF_PAGES  # noqa: E402
from memex.desktop import qtcompat  # noqa: E402

qtcompat.apply()  # before pytest-qt's waits start calling into Qt


@pytest.fixture(scope="session", autouse=True)
def _styled_app(qapp):
    from memex.desktop import style

    style.apply_style(qapp)
    return qapp


@pytest.fixture
def library(request: pytest.FixtureRequest, tmp_path: Path, embedder):
    """The window's library. A test gives ``Library.open`` more keyword arguments with
    ``@pytest.mark.parametrize("library", [options], indirect=True)``, ``options()`` returning
    them (called here, so a worker it makes belongs to this test alone)."""
    from memex.core.library import Library

    options = request.param() if hasattr(request, "param") else {}
    lib = Library.open(tmp_path / "lib.db", embedder=embedder, **options)
    yield lib
    lib.close()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small folder: a two-page PDF, notes in text and Markdown, a recipe in a subfolder."""
    root = tmp_path / "docs"
    (root / "kitchen").mkdir(parents=True)
    make_pdf(root / "hypersonic-report.pdf", PDF_PAGES, title="Hypersonic heat transfer")
    (root / "garden-notes.txt").write_text(
        "Tomatoes need full sun and steady watering. Mulch keeps the soil moist in July.\n", encoding="utf-8")
    (root / "meeting.md").write_text(
        "# Budget meeting\n\nThe committee approved the 2024 budget for the observatory telescope.\n",
        encoding="utf-8")
    (root / "kitchen" / "bread.txt").write_text(
        "Sourdough bread: feed the starter, knead the dough, let it rise overnight, bake at 230 degrees.\n",
        encoding="utf-8")
    return root


@pytest.fixture
def make_window(qtbot, library):
    """Build the real window over the test library (the watcher off unless asked for)."""
    from memex.desktop.main_window import MainWindow

    made = []

    def make(**kwargs):
        kwargs.setdefault("watch", False)
        kwargs.setdefault("watch_debounce_s", 0.2)
        window = MainWindow(library, **kwargs)
        window.folders.confirm_remove = False
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()
        window.close()


def _fake_xdg_mime(folder: Path, monkeypatch: pytest.MonkeyPatch, default_app: str) -> None:
    """An ``xdg-mime`` first on PATH that knows every file's type and answers ``default_app``
    as the application for it (empty: none, as on a bare desktop)."""
    bin_dir = folder / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "xdg-mime"
    script.write_text(f'#!/bin/sh\nif [ "$2" = filetype ]; then echo text/plain; else echo "{default_app}"; fi\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def desktop_has_apps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The desktop names an application for every file (the tests catch what would be started)."""
    _fake_xdg_mime(tmp_path, monkeypatch, "org.example.Viewer.desktop")


@pytest.fixture
def no_default_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The desktop knows the file's type and no application for it (a bare desktop)."""
    _fake_xdg_mime(tmp_path, monkeypatch, "")
