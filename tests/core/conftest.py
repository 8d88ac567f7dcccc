from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from memex.core.library import Library


@pytest.fixture
def open_library(tmp_path: Path, embedder):
    """Factory for real libraries in a temp folder, sharing the session's embedder; all closed."""
    opened: list[Library] = []

    def factory(name: str = "library.db", **kwargs) -> Library:
        kwargs.setdefault("embedder", embedder)
        lib = Library.open(tmp_path / name, **kwargs)
        opened.append(lib)
        return lib

    yield factory
    for lib in opened:
        lib.close()


@pytest.fixture
def library(open_library) -> Library:
    return open_library()


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch):
    """A fresh runtime folder for service sockets (short: a socket path holds ~100 bytes)."""
    folder = tempfile.mkdtemp(prefix="mx")
    monkeypatch.setenv("XDG_RUNTIME_DIR", folder)
    yield Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
