"""Fixtures shared by every test: an isolated user folder, the shared model files, real models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
# Folders whose every test is slow (robustness and end-to-end runs, the packaged app, the
# benchmarks); slow tests elsewhere carry ``@pytest.mark.slow`` themselves.
SLOW_FOLDERS = frozenset({"robust", "e2e", "packaging", "bench"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by mark
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of SLOW_FOLDERS slow, so ``pytest -m "not slow"`` is the fast tier."""
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:  # a test outside tests/ (named on the command line)
            continue
        if folder in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


def _shared_dir() -> Path:
    env = os.environ.get("MEMEX_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = _shared_dir()
    if not (path / "models").is_dir():
        pytest.fail(f"shared test data not found at {path} (set MEMEX_SHARED)")
    return path


@pytest.fixture(scope="session")
def reranker_dir(shared_dir: Path) -> Path:
    """Random-weight cross-encoder with the real model's shape: plumbing and latency only."""
    return shared_dir / "models" / "random-cross-encoder-L6-H384"


@pytest.fixture(scope="session")
def fp32_embedder_dir(shared_dir: Path) -> Path:
    return shared_dir / "models" / "all-MiniLM-L6-v2"


@pytest.fixture(scope="session")
def optimized_models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of optimised model copies for the whole run: they are derived files (rebuilt
    when missing), and building one per test would only repeat the same work."""
    return tmp_path_factory.mktemp("optimized-models")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                  optimized_models_cache: Path):
    """Every test gets its own MEMEX_HOME so nothing touches the real user folders."""
    home = tmp_path_factory.mktemp("memex-home")
    (home / "cache").mkdir()
    (home / "cache" / "optimized").symlink_to(optimized_models_cache, target_is_directory=True)
    monkeypatch.setenv("MEMEX_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory, optimized_models_cache: Path):
    """The default (bundled, offline) embedder, loaded once per test session (its checksum
    cache goes to a session folder, never to the real user cache)."""
    from memex.core.models.embedding import load_embedder

    home = tmp_path_factory.mktemp("session-home")
    (home / "cache").mkdir()
    (home / "cache" / "optimized").symlink_to(optimized_models_cache, target_is_directory=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEMEX_HOME", str(home))
        return load_embedder(None, threads=2)
