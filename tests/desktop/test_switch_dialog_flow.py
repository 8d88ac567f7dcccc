"""Choosing another embedding model in the window: a confirmation with the measured cost, the
switch in the progress area (pause, cancel), searches answering throughout, and indexing
never stuck behind the switch."""

from __future__ import annotations

import dataclasses
import os

import pytest
from gui_helpers import search_for, wait_idle
from memex.core.config import Settings
from memex.desktop.install_desktop_entry import start_at_login_enabled
from memex.desktop.settings_dialog import RESTART_FIELDS, SettingsResult

DEFAULT_ID = "all-MiniLM-L6-v2-int8"
TIMEOUT = 120_000


def _choose_embedder(window, embedder: str | None) -> None:
    """What the settings dialog hands the window when only the embedding model changed."""
    settings = dataclasses.replace(window.library.settings, embedder=embedder)
    window.apply_settings(SettingsResult(settings, start_at_login_enabled(), window.prefs.minimise_to_tray,
                                         [RESTART_FIELDS["embedder"]], []))


def _indexed_window(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([corpus])
    wait_idle(qtbot, window)
    return window


def test_a_new_embedder_is_confirmed_with_its_cost_then_switched(qtbot, make_window, corpus, fp32_embedder_dir):
    window = _indexed_window(qtbot, make_window, corpus)
    chunks = window.library.status().chunks
    asked = []
    window.model_switch.confirm = lambda estimate: asked.append(estimate) or True
    shown: list[tuple[str, str]] = []
    window.model_switch.progress.connect(lambda p: shown.append((window.status.phase.text(),
                                                                  window.status.counts.text())))

    with qtbot.waitSignal(window.model_switch.finished, timeout=TIMEOUT) as done:
        _choose_embedder(window, str(fp32_embedder_dir))
        assert window.library.settings.embedder is None  # set when the switch completes, not before
    result = done.args[0]
    assert result.switched and result.previous_model_id == DEFAULT_ID

    estimate, = asked
    assert estimate.chunks_to_embed == chunks and estimate.chunks_per_s > 0 and estimate.seconds > 0
    assert any(phase.startswith("Switching to all-MiniLM-L6-v2") and f"of {chunks} passage" in counts
               for phase, counts in shown)
    assert window.library.status().embedder == result.model_id
    assert window.library.settings.embedder == str(fp32_embedder_dir.resolve())
    qtbot.waitUntil(lambda: Settings.load().embedder == str(fp32_embedder_dir.resolve()))
    assert not window.status.running
    assert "Now searching by meaning with all-MiniLM-L6-v2" in window.status.message_text()
    assert os.path.basename(search_for(qtbot, window, "sourdough starter")[0].path) == "bread.txt"


@pytest.mark.slow
def test_searches_answer_while_the_switch_is_paused_and_cancel_keeps_the_model(qtbot, make_window, corpus,
                                                                               fp32_embedder_dir):
    window = _indexed_window(qtbot, make_window, corpus)
    window.model_switch.confirm = lambda estimate: True
    window.model_switch.set_paused(True)  # holds the switch before its first batch
    with qtbot.waitSignal(window.model_switch.progress, timeout=TIMEOUT,
                          check_params_cb=lambda p: p.phase == "paused"):
        _choose_embedder(window, str(fp32_embedder_dir))
    assert window.status.running and window.status.phase.text() == "Paused"
    assert window.model_switch.in_flight  # the write lane is running the (paused) switch
    hits = search_for(qtbot, window, "tomatoes mulch")
    assert os.path.basename(hits[0].path) == "garden-notes.txt"
    assert window.library.status().embedder == DEFAULT_ID

    with qtbot.waitSignal(window.model_switch.cancelled, timeout=TIMEOUT) as stopped:
        window.status.cancel_button.click()
    assert stopped.args[0].cancelled
    assert not window.status.running
    assert "search keeps using all-MiniLM-L6-v2-int8" in window.status.message_text()
    assert window.library.status().embedder == DEFAULT_ID
    assert window.library.settings.embedder is None and Settings.load().embedder is None
    pending = window.library.pending_embedder_switch()
    assert pending is not None and pending.done == 0  # kept for a later resume
    assert os.path.basename(search_for(qtbot, window, "sourdough starter")[0].path) == "bread.txt"


def test_indexing_goes_ahead_of_a_switch_which_then_completes(qtbot, make_window, corpus, fp32_embedder_dir,
                                                              tmp_path):
    window = _indexed_window(qtbot, make_window, corpus)
    window.model_switch.confirm = lambda estimate: True
    window.model_switch.set_paused(True)
    with qtbot.waitSignal(window.model_switch.progress, timeout=TIMEOUT,
                          check_params_cb=lambda p: p.phase == "paused"):
        _choose_embedder(window, str(fp32_embedder_dir))

    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "lighthouse.txt").write_text("The lighthouse keeper logged every foghorn signal.\n", encoding="utf-8")
    during_switch = []
    window.indexer.finished.connect(lambda job, report: during_switch.append((report, window.model_switch.active)))
    window.add_paths([extra])
    wait_idle(qtbot, window)
    (report, switching), = during_switch
    assert report.added == 1 and switching  # indexed while the switch waited, not after it
    qtbot.waitUntil(lambda: window.model_switch.in_flight and window.status.running, timeout=TIMEOUT)

    with qtbot.waitSignal(window.model_switch.finished, timeout=TIMEOUT) as done:
        window.model_switch.set_paused(False)
    assert done.args[0].switched
    assert done.args[0].total == window.library.status().chunks  # the new file's passages included
    assert os.path.basename(search_for(qtbot, window, "lighthouse foghorn")[0].path) == "lighthouse.txt"


def test_declining_keeps_the_current_model(qtbot, make_window, corpus, fp32_embedder_dir):
    window = _indexed_window(qtbot, make_window, corpus)
    window.model_switch.confirm = lambda estimate: False
    with qtbot.waitSignal(window.model_switch.declined, timeout=TIMEOUT):
        _choose_embedder(window, str(fp32_embedder_dir))
    qtbot.waitUntil(lambda: "not changed" in window.status.message_text())
    assert window.library.settings.embedder is None
    assert window.library.status().embedder == DEFAULT_ID
    assert window.library.pending_embedder_switch() is None


def test_an_unusable_model_folder_is_reported(qtbot, make_window, corpus, tmp_path):
    window = _indexed_window(qtbot, make_window, corpus)
    window.model_switch.confirm = lambda estimate: True
    shown: list[str] = []  # every status message, since a later one (indexing done…) may replace it
    original = window.status.show_message
    window.status.show_message = lambda text, *a, **k: (shown.append(text), original(text, *a, **k))
    with qtbot.waitSignal(window.model_switch.failed, timeout=TIMEOUT) as failed:
        _choose_embedder(window, str(tmp_path))
    assert "not a usable model" in failed.args[0]
    qtbot.waitUntil(lambda: any("Cannot use that embedding model" in text for text in shown))
    assert window.library.settings.embedder is None
