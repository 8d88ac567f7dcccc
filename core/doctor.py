"""``memex doctor``: is every part of the stack present and working, and is the library sound?"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import MemexError
from .models.protocols import RunsOnDevice
from .store.connection import has_fts5
from .store.health import file_problems, sqlite_versions, vec_version
from .types import Check

if TYPE_CHECKING:
    from .library import Library


def _check(name: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except MemexError as exc:
        return Check(name, False, str(exc))
    except Exception as exc:  # doctor reports every failure instead of stopping at one
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def run_checks(library: Library) -> list[Check]:
    """Every check, in the order ``memex doctor`` prints them; a failing one never stops the rest."""
    return [
        _check("sqlite", _sqlite),
        _check("fts5", lambda: _fts5(library)),
        _check("sqlite-vec", _vec),
        _check("onnxruntime", _providers),
        _check("embedder", lambda: _embedder(library)),
        _check("reranker", lambda: _reranker(library)),
        _check("library", lambda: _integrity(library)),
    ]


def _sqlite() -> str:
    return f"{sqlite_versions()}, Python {platform.python_version()}"


def _fts5(library: Library) -> str:
    if not has_fts5(library.store.connection()):
        raise MemexError("this SQLite has no FTS5")
    return "FTS5 available"


def _vec() -> str:
    return f"sqlite-vec {vec_version()}"


def _providers() -> str:
    from .models.onnx_session import installed_runtimes, ort

    runtimes = installed_runtimes()
    text = (f"onnxruntime {ort.__version__} ({', '.join(runtimes) or 'package not identified'}): "
            f"{', '.join(ort.get_available_providers())}")
    if len(runtimes) > 1:  # they install into the same folder, so one has overwritten the other
        raise MemexError(text + " — more than one ONNX Runtime package is installed; uninstall all of them "
                         "and reinstall the one you want (README, GPU)")
    return text


def _embedder(library: Library) -> str:
    emb = library.embedder
    if not isinstance(emb, RunsOnDevice):  # a model given to Library.open that is not ONNX
        return f"{emb.model_id} ({emb.dim} dimensions)"
    text = (f"{emb.model_id} ({emb.dim} dimensions) on {', '.join(emb.providers)} "
            f"(device setting: {library.settings.device})")
    if emb.warnings:
        raise MemexError(text + " — " + "; ".join(emb.warnings))
    return text


def _reranker(library: Library) -> str:
    rr = library.reranker
    if rr is None:
        return "none configured (results are not reranked)"
    if not isinstance(rr, RunsOnDevice):
        return rr.model_id
    text = f"{rr.model_id} on {', '.join(rr.providers)}"
    if rr.warnings:
        raise MemexError(text + " — " + "; ".join(rr.warnings))
    return text


def _integrity(library: Library) -> str:
    problems = file_problems(library.path, readonly=library.readonly)
    if problems:
        raise MemexError(problems[0])
    status = library.status()
    return (f"{status.path}: {status.documents} documents, {status.chunks} chunks "
            f"({status.chunks_pending} waiting for vectors), {status.failed} failed files"
            + ("; read-only, so the full-text index was not checked" if library.readonly else ""))
