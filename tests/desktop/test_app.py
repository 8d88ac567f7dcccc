"""Start-up and desktop integration: one instance, the menu entry, settings, start at login."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gui_helpers import wait_idle
from memex.core.config import Settings
from memex.desktop.app import main, parse_args
from memex.desktop.install_desktop_entry import autostart_path, install
from memex.desktop.settings_dialog import SettingsDialog
from memex.desktop.single_instance import InstanceServer, send_to_running, server_name


def test_window_title_and_icon(make_window):
    window = make_window()
    assert window.windowTitle() == "Memex"
    assert not window.windowIcon().isNull()
    assert window.windowIcon().availableSizes()  # the packaged PNGs were found


def test_second_launch_hands_its_paths_to_the_running_window(qtbot, make_window, corpus):
    window = make_window()
    server = InstanceServer()
    assert server.listen()
    server.paths_received.connect(window.add_paths)
    received: list = []
    server.paths_received.connect(received.append)
    try:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # the same MEMEX_HOME: the same user
        second = subprocess.Popen([sys.executable, "-m", "memex.desktop.app", str(corpus)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)
        finally:
            if second.poll() is None:
                second.kill()
        output = second.stdout.read()
        assert second.returncode == 0, output
        assert "already running" in output
        assert received == [[str(corpus)]]
        wait_idle(qtbot, window)
        qtbot.waitUntil(lambda: [s.path for s in window.folders.sources] == [str(corpus)])
    finally:
        server.close()


def test_no_running_instance_means_no_hand_off(qapp):
    assert send_to_running(["/tmp"], name=server_name() + "-nobody") is False


def test_install_desktop_entry(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["--install-desktop-entry"]) == 0
    entry = tmp_path / "share" / "applications" / "memex.desktop"
    text = entry.read_text(encoding="utf-8")
    assert "Name=Memex" in text and "Icon=memex" in text and "Categories=Office;Utility;" in text
    assert "MimeType=inode/directory;application/pdf;" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith("%F") and ("memex-gui" in exec_line or "memex.desktop.app" in exec_line)
    for size in (16, 32, 48, 128, 256):
        icon = tmp_path / "share" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "memex.png"
        assert icon.read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "memex.svg").is_file()
    assert len(install(tmp_path / "again")) >= 8


def test_built_app_menu_entry_starts_its_own_window_program(monkeypatch):
    from memex.desktop import install_desktop_entry

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/Memex app/memex")
    assert install_desktop_entry.launch_command() == "'/opt/Memex app/memex-gui'"


def test_arguments():
    args = parse_args(["a", "b", "--library", "x.db", "--minimized"])
    assert args.paths == ["a", "b"] and args.library == "x.db" and args.minimized
    assert not args.install_desktop_entry


def test_settings_dialog_reports_what_needs_a_restart(qtbot, reranker_dir):
    settings = Settings()
    dialog = SettingsDialog(settings, start_at_login=False, minimise_to_tray=False, tray_available=False)
    qtbot.addWidget(dialog)
    assert not dialog.tray.isEnabled()  # no tray here: the option says so
    dialog.chunk.setValue(300)
    dialog.ignore.setPlainText("node_modules\n*.bak\n")
    dialog.device.setCurrentIndex(dialog.device.findData("auto"))
    dialog.reranker.insertItem(1, str(reranker_dir), str(reranker_dir))
    dialog.reranker.setCurrentIndex(1)
    result = dialog.result_settings()
    assert result.settings.chunk_tokens == 300 and result.settings.ignore == ("node_modules", "*.bak")
    assert result.settings.reranker == str(reranker_dir) and result.settings.device == "auto"
    assert set(result.restart_needed) == {"reranker", "CPU/GPU"}
    assert set(result.next_scan) == {"passage size", "ignore patterns"}
    assert "Restart Memex" in result.summary()
    assert settings.chunk_tokens == 200  # the dialog edits a copy


def test_applying_settings_saves_them_and_sets_start_at_login(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    window = make_window()
    dialog = SettingsDialog(window.library.settings, start_at_login=False, minimise_to_tray=False,
                            tray_available=False)
    qtbot.addWidget(dialog)
    dialog.chunk.setValue(260)
    dialog.login.setChecked(True)
    result = dialog.result_settings()
    window.apply_settings(result)
    qtbot.waitUntil(lambda: "Settings saved" in window.status.message_text())
    assert Settings.load().chunk_tokens == 260
    assert window.library.settings.chunk_tokens == 260  # used by the next indexing run
    entry = autostart_path()
    assert entry == tmp_path / "config" / "autostart" / "memex.desktop"
    assert "--minimized" in entry.read_text(encoding="utf-8")

    dialog.login.setChecked(False)
    window.apply_settings(dialog.result_settings())
    assert not entry.exists()


def test_tray_shows_indexing_state(qtbot, make_window, corpus):
    from memex.desktop.plain import tooltip_text
    from memex.desktop.tray import Tray

    window = make_window()
    window.attach_tray(Tray(window.windowIcon(), window))  # as if the desktop had a tray
    window.add_paths([str(corpus)])
    tips: list[str] = []
    window.indexer.progress.connect(lambda job, p: tips.append(window.tray.icon.toolTip()))
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.tray.icon.toolTip() == tooltip_text("Memex — up to date"))
    assert any("Memex — indexing" in t for t in tips)
    window.tray.pause_action.setChecked(True)
    assert window.indexer.paused
    window.tray.pause_action.setChecked(False)
    assert not window.indexer.paused
