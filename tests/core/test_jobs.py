"""The job control shared by indexing and model switching: pause, cancel, progress pacing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from memex.core.errors import IndexingCancelled
from memex.core.jobs import JobControl, ProgressPacer

WAIT_S = 10  # generous upper bound for a thread to react; every wait below ends early when it does


def _stopped() -> IndexingCancelled:
    return IndexingCancelled("Indexing was cancelled")


def _checkpoint_in_thread(job: JobControl) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    """Run ``job.checkpoint()`` on a thread; ``passed`` is set when it returns normally."""
    passed, raised = threading.Event(), []

    def run() -> None:
        try:
            job.checkpoint()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            raised.append(exc)
            return
        passed.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, passed, raised


def test_checkpoint_passes_straight_through_when_neither_paused_nor_cancelled() -> None:
    calls: list[str] = []
    job = JobControl(stopped=_stopped, on_pause=lambda: calls.append("paused"))
    job.checkpoint()
    assert calls == [] and job.paused_s == 0.0 and not job.cancelled


def test_pause_blocks_until_resumed_and_reports_once() -> None:
    waiting, reports = threading.Event(), []
    pause = threading.Event()
    pause.set()
    job = JobControl(pause=pause, stopped=_stopped, on_pause=lambda: (reports.append("paused"), waiting.set()))
    thread, passed, raised = _checkpoint_in_thread(job)
    assert waiting.wait(WAIT_S), "the paused job never said it was waiting"
    assert not passed.wait(0.3), "a paused job went on before it was resumed"
    pause.clear()
    assert passed.wait(WAIT_S), "the job did not go on once resumed"
    thread.join(WAIT_S)
    assert reports == ["paused"] and raised == []
    assert job.paused_s > 0  # the wait is left out of the job's speed


def test_cancel_while_paused_raises_the_jobs_own_cancellation() -> None:
    waiting = threading.Event()
    cancel, pause = threading.Event(), threading.Event()
    pause.set()
    job = JobControl(cancel, pause, stopped=_stopped, on_pause=waiting.set)
    thread, passed, raised = _checkpoint_in_thread(job)
    assert waiting.wait(WAIT_S)
    cancel.set()  # the pause stays set: a cancel alone must end the wait
    thread.join(WAIT_S)
    assert not thread.is_alive() and not passed.is_set()
    assert len(raised) == 1 and isinstance(raised[0], IndexingCancelled)
    assert job.cancelled and pause.is_set()


def test_cancelled_and_paused_stops_without_waiting_or_saying_paused() -> None:
    cancel, pause, reports = threading.Event(), threading.Event(), []
    cancel.set()
    pause.set()
    job = JobControl(cancel, pause, stopped=_stopped, on_pause=lambda: reports.append("paused"))
    with pytest.raises(IndexingCancelled):
        job.checkpoint()
    assert reports == []


def test_each_job_raises_its_own_exception() -> None:
    class Stopped(Exception):
        pass

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Stopped):
        JobControl(cancel, stopped=Stopped).checkpoint()


def test_throttle_lets_the_first_and_the_forced_last_report_through() -> None:
    now = [100.0]
    job = JobControl(stopped=_stopped, interval_s=0.1, clock=lambda: now[0])
    assert job.report_due()  # the first report, whatever the clock says
    now[0] += 0.05
    assert not job.report_due()  # too soon
    now[0] += 0.01
    assert job.report_due(force=True)  # a new phase or the last report: always
    now[0] += 0.09
    assert not job.report_due()  # the forced report restarted the interval
    now[0] += 0.02
    assert job.report_due()
    assert job.report_due(force=True)  # the last one, even right after another


def test_interval_zero_reports_everything() -> None:
    job = JobControl(stopped=_stopped, interval_s=0.0, clock=lambda: 5.0)
    assert all(job.report_due() for _ in range(5))


# -- the two jobs that use it ---------------------------------------------------------------
def _files(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        (folder / f"{i:02}.txt").write_text(f"Notes number {i} on lighthouses, tides and topic {i % 5}.\n",
                                            encoding="utf-8")
    return folder


def test_indexing_cancelled_while_paused_stops_at_once_and_says_so(tmp_path, library) -> None:
    folder = _files(tmp_path / "docs", 5)
    cancel, pause, phases = threading.Event(), threading.Event(), []
    pause.set()

    def progress(p) -> None:
        phases.append(p.phase)
        if p.phase == "paused":
            cancel.set()  # from the job's own thread: the wait must end without a resume

    report = library.index([folder], progress=progress, cancel=cancel, pause=pause)
    assert report.cancelled and report.added == 0
    assert phases == ["scanning", "paused", "cancelled"]
    assert library.index([folder]).added == 5  # nothing half-done was left behind


def test_a_paused_model_switch_embeds_nothing_until_resumed(tmp_path, library, fp32_embedder_dir) -> None:
    library.index([_files(tmp_path / "docs", 8)])
    pause, paused, events = threading.Event(), threading.Event(), []

    def progress(p) -> None:
        events.append((p.phase, p.done))
        if p.phase == "embedding" and not pause.is_set() and not paused.is_set():
            pause.set()  # after the first batch
        elif p.phase == "paused":
            paused.set()

    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(
        library.switch_embedder(fp32_embedder_dir, progress=progress, pause=pause, batch_size=2)), daemon=True)
    worker.start()
    assert paused.wait(120), f"the switch never paused: {events}"
    held = len(events)
    worker.join(0.3)
    assert worker.is_alive()
    assert len(events) == held  # nothing embedded (or reported) while paused
    pause.clear()
    worker.join(120)
    result = outcome[0]
    assert result.switched and not result.cancelled and result.embedded == result.total == 8
    phases = [phase for phase, _ in events]
    assert phases[:3] == ["embedding", "paused", "embedding"] and phases[-1] == "done"
    assert phases.count("paused") == 1


def test_the_pacer_lets_through_the_first_report_a_new_phase_a_forced_one_and_one_per_interval() -> None:
    now = [100.0]
    pacer = ProgressPacer(0.5, clock=lambda: now[0])
    seen = []
    for t, phase, force in [(0.0, "scanning", False), (0.1, "scanning", False), (0.2, "reading", False),
                            (0.3, "reading", False), (0.8, "reading", False), (0.9, "reading", True),
                            (1.0, "reading", False), (1.5, "reading", False)]:
        now[0] = 100.0 + t
        if pacer.due(phase, force=force):
            seen.append((t, phase))
    assert seen == [(0.0, "scanning"), (0.2, "reading"), (0.8, "reading"), (0.9, "reading"), (1.5, "reading")]
