"""One control for a long job (an indexing run, a model switch): stop, pause, and the pace of
its progress reports.

The caller keeps plain ``threading.Event`` objects (the window's buttons set and clear them);
the job calls :meth:`JobControl.checkpoint` between two steps, never in the middle of one, so
a stop or a pause always lands where the library is consistent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PROGRESS_INTERVAL_S = 0.1  # at most this often a progress report that is not forced
RESUME_POLL_S = 0.05  # how soon a paused job notices it was resumed (a stop is noticed at once)


class ProgressPacer:
    """How often progress is passed on: the first report, every forced one (the last, say) and
    every change of phase always; others once ``interval_s`` has passed since the last one let
    through (0: all of them). One pace for the jobs themselves and for a window showing them."""

    def __init__(self, interval_s: float = PROGRESS_INTERVAL_S, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._last_time: float | None = None
        self._last_phase: str | None = None

    def due(self, phase: str | None = None, *, force: bool = False) -> bool:
        """Whether to pass this report on (and if so, count it as the last one)."""
        now = self._clock()
        changed = phase is not None and phase != self._last_phase
        if (not force and not changed and self._last_time is not None
                and now - self._last_time < self.interval_s):
            return False
        self._last_time, self._last_phase = now, phase if phase is not None else self._last_phase
        return True


class JobControl:
    """Cancel and pause flags for one job, and its progress throttle.

    ``stopped`` makes the exception :meth:`checkpoint` raises when the job is cancelled (each
    job has its own: ``IndexingCancelled`` for indexing, say). ``on_pause`` is called once each
    time the job stops to wait, before it waits (to report "paused"). ``interval_s`` is the
    least time between two reports :meth:`report_due` lets through unforced (0: all of them).
    """

    def __init__(self, cancel: threading.Event | None = None, pause: threading.Event | None = None, *,
                 stopped: Callable[[], BaseException], on_pause: Callable[[], None] | None = None,
                 interval_s: float = PROGRESS_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cancel = cancel if cancel is not None else threading.Event()
        self.pause = pause if pause is not None else threading.Event()  # set: wait at the next checkpoint
        self.pacer = ProgressPacer(interval_s, clock=clock)
        self.paused_s = 0.0  # time spent waiting while paused (left out of speeds)
        self._stopped = stopped
        self._on_pause = on_pause
        self._clock = clock

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def checkpoint(self) -> None:
        """Between two steps: while paused, wait (a cancel ends the wait at once); then, when
        cancelled, raise the job's own exception."""
        if self.pause.is_set() and not self.cancel.is_set():
            paused_at = self._clock()
            if self._on_pause is not None:
                self._on_pause()
            while self.pause.is_set() and not self.cancel.wait(RESUME_POLL_S):
                pass
            self.paused_s += self._clock() - paused_at
        if self.cancel.is_set():
            raise self._stopped()

    def report_due(self, force: bool = False) -> bool:
        """Whether to send a progress report now: the first one and every forced one (a new
        phase, the last report) always; others when ``interval_s`` passed since the last."""
        return self.pacer.due(force=force)
