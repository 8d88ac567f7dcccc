"""PyMuPDF with MuPDF's own messages kept off stderr.

MuPDF prints repair notes and errors about damaged files ("syntax error: ICC profile ...")
straight to the process's stderr, which is the user's terminal for ``memex index``. Memex
reports what it could not read itself, once per file, in its own words."""

from __future__ import annotations

from types import ModuleType


def quiet_pymupdf() -> ModuleType:
    """The ``pymupdf`` module, its error and warning display turned off (cheap, idempotent)."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    return pymupdf
