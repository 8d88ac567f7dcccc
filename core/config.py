"""Where Memex keeps its files, and the user's settings (a small JSON file, never pickled)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

APP_NAME = "Memex"
HOME_ENV = "MEMEX_HOME"  # one folder for data, cache and settings (tests, portable installs)

DEFAULT_IGNORE = (
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache", ".Trash", "$RECYCLE.BIN",
    "*.tmp", "*.part", "*.crdownload", "~$*", ".~lock.*",
)


def user_dir() -> Path:
    """The per-user data folder (library, models); ``$MEMEX_HOME`` overrides it."""
    override = os.environ.get(HOME_ENV)
    base = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def config_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    base = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def cache_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    base = Path(override) / "cache" if override else Path(platformdirs.user_cache_dir(APP_NAME, False))
    base.mkdir(parents=True, exist_ok=True)
    return base


def default_library_path() -> Path:
    return user_dir() / "library.db"


def models_dir() -> Path:
    path = user_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Settings:
    """User settings. Unknown keys in the file are ignored; missing keys take defaults."""

    library: str | None = None
    embedder: str | None = None  # None: the bundled default; else a catalogue name or a folder
    reranker: str | None = None  # None: no reranking; else a folder with model.onnx
    device: str = "cpu"  # "cpu" | "cuda" | "directml" | "coreml" | "auto"
    threads: int = 0  # 0: min(4, cores)
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    ignore: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE))
    index_hidden: bool = False
    lexical_weight: float = 0.4  # hybrid fusion: share of the BM25 side (0 = dense only); see search.fusion
    fusion: str = "convex"  # "convex" (normalised scores) or "rrf" (reciprocal rank fusion)
    semantic_floor: float = 0.3  # hybrid: cosine below which a meaning-only match is not shown
    max_chars_per_file: int = 5_000_000
    extract_timeout_s: float = 60.0

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        path = cls.path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known}) if isinstance(raw, dict) else cls()

    def save(self) -> None:
        path = self.path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def effective_threads(self) -> int:
        if self.threads > 0:
            return self.threads
        return max(1, min(4, os.cpu_count() or 1))
