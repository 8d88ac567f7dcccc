"""What a front end (the window) may use from the core, besides the façade.

The core has two doors, and a front end imports through them only:

- ``memex.core.library.Library``, the façade: everything about one open library (indexing,
  refreshing, removing, search, status, page previews, switching the embedding model). Its
  writes return what they changed (``types.Changes``: ``IndexReport.changes``,
  ``SwitchResult.changes``) so a window asks again only for that.
- this module: what needs no open library. The value types that façade calls hand back
  where they live beside their code, and a few free functions: the model catalogue and
  model downloads, the query words a preview highlights, the folder watcher.

Public as they are, being plain values or pure helpers: ``memex.core.types``,
``memex.core.errors``, ``memex.core.config`` (Settings, paths), ``memex.core.display_text``
and ``memex.core.humanize``. Every other core module is internal and may move;
``tests/desktop/test_boundaries.py`` keeps the window to these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import Settings
from .jobs import ProgressPacer
from .models.catalogue import ModelSpec, catalogue, imported_models, is_installed
from .models.download import DownloadCancelled, DownloadProgress, download_model
from .models.switch import SwitchEstimate, SwitchProgress, SwitchResult
from .preview.pages import RENDERABLE_KINDS, RenderedPage, match_spans
from .search.query import query_terms

if TYPE_CHECKING:
    from .indexing.watcher import FolderWatcher
    from .library import Library
    from .service.host import ServiceHost
    from .types import Changes

__all__ = [
    # model catalogue and downloads (no library needed)
    "ModelSpec", "catalogue", "imported_models", "is_installed",
    "DownloadCancelled", "DownloadProgress", "download_model",
    # what Library.estimate_embedder_switch / switch_embedder hand back
    "SwitchEstimate", "SwitchProgress", "SwitchResult",
    # previews: what Library.render_page hands back, and the words it highlights
    "RENDERABLE_KINDS", "RenderedPage", "match_spans", "query_terms",
    # keeping the sources in sync
    "folder_watcher",
    # passing a job's progress on at one pace (Library.index / switch_embedder progress callbacks)
    "ProgressPacer",
    # serving the open library to the CLI and other programs while the window runs
    "resident_service",
]


def folder_watcher(on_changes: Callable[[list[str]], None], settings: Settings, *,
                   debounce_s: float = 1.0, max_delay_s: float = 10.0,
                   on_notice: Callable[[str], None] | None = None,
                   force_polling: bool = False) -> FolderWatcher:
    """A watcher (not started) that skips what ``settings`` says indexing skips (its ignore
    patterns and hidden files) and calls ``on_changes(paths)`` from its own thread; hand
    the paths to ``Library.refresh``. See ``FolderWatcher`` for the rest."""
    from .indexing.watcher import FolderWatcher  # watchdog: loaded when first wanted

    return FolderWatcher(on_changes, rules=settings.ignore_rules(),
                         debounce_s=debounce_s, max_delay_s=max_delay_s, on_notice=on_notice,
                         force_polling=force_polling)


def resident_service(library: Library, on_write: Callable[[Changes], None] | None = None) -> ServiceHost:
    """Serve ``library`` to the CLI, MCP and scripts over a socket only this user can open,
    until ``close()``; ``on_write`` hears (from a service thread) what a CLI ``memex index``
    handed to it changed. Raises a MemexError (one line) when it cannot: another process
    serves this library, the runtime folder is not safely the user's, or (Windows) there are
    no Unix sockets."""
    from .service.host import ServiceHost

    return ServiceHost(library, on_write=on_write).start()
