"""Files per second and time left for one indexing run, paused time left out (pure: no Qt)."""

from __future__ import annotations

import time


class RunMeter:
    """Files per second and time left for one run (fed with successive progress snapshots)."""

    def __init__(self, now: float | None = None) -> None:
        self.started = time.monotonic() if now is None else now
        self.paused_for = 0.0
        self._paused_at: float | None = None

    def pause(self, paused: bool, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if paused and self._paused_at is None:
            self._paused_at = now
        elif not paused and self._paused_at is not None:
            self.paused_for += now - self._paused_at
            self._paused_at = None

    def rate(self, files_done: int, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        elapsed = now - self.started - self.paused_for
        if self._paused_at is not None:
            elapsed -= now - self._paused_at
        if files_done < 3 or elapsed < 1.0:
            return None  # too early for a useful figure
        return files_done / elapsed

    def eta(self, files_done: int, files_total: int, now: float | None = None) -> float | None:
        rate = self.rate(files_done, now)
        if rate is None or files_total <= files_done:
            return None
        return (files_total - files_done) / rate
