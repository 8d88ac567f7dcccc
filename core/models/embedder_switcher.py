"""Switching a library's embedding model, one switch at a time: what it would cost, the
re-embedding run, and an unfinished switch dropped or found (the work itself: ``switch``).
``Library`` offers these as its ``*_embedder_switch`` methods."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LibraryError
from ..store.vector_index import forget_cached
from ..store.writer_lock import LibraryPlace
from .model_set import EMBED_BATCH_SIZE, ModelSet
from .switch import (
    SWITCH_BATCH,
    ModelSwitch,
    PendingSwitch,
    SwitchEstimate,
    SwitchProgress,
    SwitchResult,
    discard_pending,
    estimate_switch,
    pending_switch,
    setting_for,
)

if TYPE_CHECKING:
    from ..store import Store
    from .protocols import Embedder


class EmbedderSwitcher:
    """The switches of the library at ``path``. ``save_setting`` records the embedder setting
    once a switch is done (in the library's settings and their file) and says whether the file
    could be written."""

    def __init__(self, path: Path, store: Store, models: ModelSet,
                 save_setting: Callable[[str | None], bool]) -> None:
        self.path = path
        self.store = store
        self.models = models
        self.save_setting = save_setting
        self._lock = threading.Lock()  # one model switch at a time

    def estimate(self, spec: str | os.PathLike[str] | None) -> SwitchEstimate:
        return estimate_switch(self.store.connection(), self.models.switch_target(spec),
                               embed_batch=EMBED_BATCH_SIZE)

    def switch(self, spec: str | os.PathLike[str] | None, *,
               progress: Callable[[SwitchProgress], None] | None = None,
               cancel: threading.Event | None = None, pause: threading.Event | None = None,
               batch_size: int = SWITCH_BATCH) -> SwitchResult:
        if not self._lock.acquire(blocking=False):
            raise LibraryError("A model switch is already running for this library.")
        try:
            target = self.models.switch_target(spec)
            setting = setting_for(spec)
            place = LibraryPlace(self.path, "switching its model")
            result = ModelSwitch(self.store.connection(), target, setting, batch_size=batch_size,
                                 embed_batch=EMBED_BATCH_SIZE, progress=progress, cancel=cancel,
                                 pause=pause, guard=place.check).run()
            if result.cancelled:
                return result
            return replace(result, settings_saved=self._adopt(target, setting))
        finally:
            self._lock.release()

    def cancel(self) -> str | None:
        if not self._lock.acquire(blocking=False):
            raise LibraryError("A model switch is running; stop it first.")
        try:
            return discard_pending(self.store.connection())
        finally:
            self._lock.release()

    def pending(self) -> PendingSwitch | None:
        return pending_switch(self.store.connection())

    def _adopt(self, target: Embedder, setting: str | None) -> bool:
        """After a swap: this library embeds with ``target`` from now on, and the setting says
        so. Returns whether the settings file could be written."""
        self.models.adopt(target)
        forget_cached(self.store.connection())
        return self.save_setting(setting)
