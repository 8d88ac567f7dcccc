"""The model download dialog and the settings dialog's model choices, against a Hub-shaped local
server (offscreen Qt, real downloads, real model files)."""

from __future__ import annotations

import socket

import pytest
from hubserver import FakeHub
from memex.core.config import Settings
from memex.core.models.catalogue import MODEL_FILE, get_spec, installed_folder, is_installed
from memex.core.models.download import partial_folder
from memex.desktop.model_download_dialog import STEPS, ModelDownloadDialog
from memex.desktop.settings_dialog import NOT_DOWNLOADED, SettingsDialog
from PySide6.QtCore import Qt

NAME, REPO, ONNX_PATH = "bge-reranker-base", "Xenova/bge-reranker-base", "onnx/model_quantized.onnx"


@pytest.fixture
def hub(reranker_dir, monkeypatch):
    server = FakeHub().start()
    server.add_repo(REPO, {ONNX_PATH: (reranker_dir / "model.onnx").read_bytes(),
                           "tokenizer.json": (reranker_dir / "tokenizer.json").read_bytes()})
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()


def _dialog(qtbot, **kwargs) -> ModelDownloadDialog:
    dialog = ModelDownloadDialog(NAME, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_download_dialog_shows_progress_and_installs(qtbot, hub) -> None:
    seen: list[int] = []
    dialog = _dialog(qtbot, start=False)
    dialog.progressed.connect(lambda p: seen.append(p.done))
    with qtbot.waitSignal(dialog.completed, timeout=60_000) as done:
        dialog.start()
    assert done.args == [NAME] and dialog.state == "done" and dialog.record.name == NAME
    assert dialog.bar.value() == STEPS and "installed and verified" in dialog.file.text()
    assert seen and seen == sorted(seen)
    assert is_installed(get_spec(NAME))
    qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)  # now "Close"
    assert not dialog.isVisible()


def test_cancel_stops_keeps_partial_files_and_a_new_download_resumes(qtbot, hub) -> None:
    hub.chunk_delay = 0.005
    dialog = _dialog(qtbot)
    qtbot.waitUntil(lambda: dialog.bar.maximum() == STEPS and dialog.bar.value() > 0, timeout=30_000)
    assert dialog.file.text() == f"File: {MODEL_FILE}" and " of 23.4 MB" in dialog.bytes.text()
    qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: dialog.state == "cancelled", timeout=30_000)
    assert dialog.isVisible() and "kept" in dialog.message.text()
    assert not installed_folder(NAME).exists()
    kept = (partial_folder(NAME) / f"{MODEL_FILE}.part").stat().st_size
    assert kept > 0

    hub.chunk_delay = 0.0
    again = _dialog(qtbot)
    qtbot.waitUntil(lambda: again.state == "done", timeout=60_000)
    assert hub.ranges(ONNX_PATH)[-1] == f"bytes={kept}-"


def test_a_failed_download_says_why(qtbot, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dialog = _dialog(qtbot, endpoint=f"http://127.0.0.1:{port}")
    qtbot.waitUntil(lambda: dialog.state == "failed", timeout=30_000)
    assert dialog.error.startswith("Memex could not connect") and dialog.message.text() == dialog.error
    assert not installed_folder(NAME).exists()


def test_settings_lists_catalogue_models_and_downloads_the_chosen_one(qtbot, hub) -> None:
    dialog = SettingsDialog(Settings(), start_at_login=False, minimise_to_tray=False, tray_available=False)
    qtbot.addWidget(dialog)
    dialog.show()
    rerankers = [dialog.reranker.itemText(i) for i in range(dialog.reranker.count())]
    for name in (NAME, "ms-marco-MiniLM-L-6-v2"):  # the name, its size and languages, "not downloaded"
        assert any(text.startswith(f"{name}  ·  ") and text.endswith(NOT_DOWNLOADED) for text in rerankers)
    embedders = [dialog.embedder.itemData(i) for i in range(dialog.embedder.count())]
    assert {"bge-small-en-v1.5", "multilingual-e5-small"} <= set(embedders)
    assert "all-MiniLM-L6-v2-int8" not in embedders  # the built-in default is the first entry
    assert not dialog.reranker_download.isEnabled() and not dialog.embedder_download.isEnabled()

    dialog.reranker.setCurrentIndex(dialog.reranker.findData(NAME))
    assert dialog.reranker_download.isEnabled()
    dialog.accept()  # a model that is not downloaded is fetched before the settings are saved
    assert dialog.download is not None and dialog.download.name == NAME
    assert dialog.isVisible() and dialog.result() != SettingsDialog.DialogCode.Accepted
    qtbot.waitUntil(lambda: dialog.download.state == "done", timeout=60_000)
    index = dialog.reranker.findData(NAME)
    text = dialog.reranker.itemText(index)
    assert text.startswith(NAME) and not text.endswith(NOT_DOWNLOADED) and not dialog.reranker_download.isEnabled()
    assert dialog.result_settings().settings.reranker == NAME
    dialog.download.close()
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
