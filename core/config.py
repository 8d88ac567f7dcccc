"""Where Memex keeps its files, and the user's settings (a small JSON file, never pickled)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from .errors import MemexError

if TYPE_CHECKING:
    from .indexing.scan import IgnoreRules

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


DEVICES = ("cpu", "auto", "cuda", "directml", "coreml")  # the same as onnx_session.DEVICES
FUSIONS = ("convex", "rrf")


class SettingsError(MemexError):
    """A settings value that cannot be used (it is never written to the settings file)."""


def _text(value: Any) -> bool:
    """A string a path or model setting can hold: no NUL, nothing that is not UTF-8."""
    if not isinstance(value, str) or "\0" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _number(low: float, high: float, *, above_low: bool = False) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return False
        return (low < v if above_low else low <= v) and v <= high
    return check


# key -> (is the value usable, what is allowed: said to the person when it is not)
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "library": (lambda v: v is None or _text(v), "a path to a library file, or null"),
    "embedder": (lambda v: v is None or _text(v), 'a model name, a model folder, "default" or null'),
    "reranker": (lambda v: v is None or _text(v), "a model name, a model folder, or null"),
    "device": (lambda v: v in DEVICES, " or ".join(f'"{d}"' for d in DEVICES)),
    "threads": (_whole(0, 256), "a whole number from 0 (automatic) to 256"),
    "chunk_tokens": (_whole(16, 4096), "a whole number from 16 to 4096"),
    "chunk_overlap": (_whole(0, 2048), "a whole number from 0 to 2048"),
    "ignore": (lambda v: isinstance(v, list | tuple) and all(_text(p) for p in v), "a list of file name patterns"),
    "index_hidden": (lambda v: isinstance(v, bool), "true or false"),
    "ocr": (lambda v: isinstance(v, bool), "true or false"),
    "lexical_weight": (_number(0.0, 1.0), "a number from 0 to 1"),
    "fusion": (lambda v: v in FUSIONS, " or ".join(f'"{f}"' for f in FUSIONS)),
    "semantic_floor": (_number(-1.0, 1.0), "a number from -1 to 1"),
    "max_chars_per_file": (_whole(1000, 10**12), "a whole number of characters, 1000 or more"),
    "extract_timeout_s": (_number(0.0, 86400.0, above_low=True), "a number of seconds above 0, at most 86400"),
}


def _shown(value: Any) -> str:
    text = json.dumps(value)  # ASCII, control characters escaped
    return text if len(text) <= 60 else text[:57] + "..."


def problems_in(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, sentence) for each known key whose value cannot be used."""
    found = []
    for key, value in values.items():
        check = CHECKS.get(key)
        if check is not None and not check[0](value):
            found.append((key, f'"{key}" is {_shown(value)}; it must be {check[1]}'))
    return found


def automatic_threads() -> int:
    """Threads for model inference when the setting says 0 (automatic): up to four cores,
    so the rest of the machine (and the window) stays responsive."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    """User settings: a value, never changed in place (threads may be reading it); make a
    changed copy with :meth:`with_changes` and hand it to ``Library.update_settings``.

    Unknown keys in the file are ignored; missing keys take defaults; a key whose value
    cannot be used takes its default, with a warning (see ``load_checked``)."""

    library: str | None = None
    embedder: str | None = None  # None: the bundled default; else a catalogue name or a folder
    reranker: str | None = None  # None: no reranking; else a folder with model.onnx
    device: str = "cpu"  # "cpu" | "cuda" | "directml" | "coreml" | "auto"
    threads: int = 0  # 0: min(4, cores)
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    ignore: tuple[str, ...] = DEFAULT_IGNORE  # any sequence given is kept as a tuple
    index_hidden: bool = False
    ocr: bool = True  # read scanned pages and pictures of text (after every file's words are in)
    lexical_weight: float = 0.4  # hybrid fusion: share of the BM25 side (0 = dense only); see search.fusion
    fusion: str = "convex"  # "convex" (normalised scores) or "rrf" (reciprocal rank fusion)
    semantic_floor: float = 0.45  # hybrid: cosine below which a meaning-only match is not shown (search.arrange)
    max_chars_per_file: int = 5_000_000
    extract_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.ignore, list):  # from the file or the dialog: keep an unchangeable copy
            object.__setattr__(self, "ignore", tuple(self.ignore))

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with these fields changed (this one stays as it is)."""
        return replace(self, **changes)

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        return cls.load_checked()[0]

    @classmethod
    def load_checked(cls) -> tuple[Settings, list[str]]:
        """The settings, and one sentence per problem in the file (naming it): a file that is
        not a JSON object gives the defaults; a bad key gives that key's default."""
        path = cls.path()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(), []
        except UnicodeDecodeError:
            return cls(), [f"{path} is not UTF-8 text; using the default settings."]
        except ValueError as exc:
            where = f" (line {exc.lineno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
            return cls(), [f"{path} is not valid JSON{where}; using the default settings."]
        except OSError as exc:
            return cls(), [f"{path} could not be read ({exc.strerror or exc}); using the default settings."]
        if not isinstance(raw, dict):
            return cls(), [f"{path} must hold a JSON object {{...}}, not {type(raw).__name__}; "
                           "using the default settings."]
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        warnings = []
        for key, problem in problems_in(values):
            del values[key]
            default = getattr(cls(), key)
            shown = "the built-in list" if isinstance(default, tuple) else _shown(default)
            warnings.append(f"{path}: {problem}; using the default ({shown}).")
        return cls(**values), warnings

    def problems(self) -> list[str]:
        """Why these settings cannot be saved (empty: they can)."""
        return [problem for _, problem in problems_in(asdict(self))]

    def save(self) -> None:
        """Write the settings; refuses (SettingsError) a value that would not load back."""
        bad = self.problems()
        if bad:
            raise SettingsError(f"The settings were not saved: {bad[0]}.")
        path = self.path()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def effective_threads(self) -> int:
        """Threads for model inference: the setting, or :func:`automatic_threads` for 0."""
        return self.threads if self.threads > 0 else automatic_threads()

    def ignore_rules(self) -> IgnoreRules:
        """The names the scan and the watcher skip: the ignore patterns, and hidden entries
        unless ``index_hidden``."""
        from .indexing.scan import IgnoreRules  # here: loading settings needs no extractors

        return IgnoreRules(self.ignore, self.index_hidden)
