"""``memex-gui --smoke-test``: opens the window, quits by itself, and says whether it was shown
(the frozen app's check relies on it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("PySide6")


def test_smoke_test_opens_the_window_and_quits(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MEMEX_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "memex.desktop.app", "--smoke-test", "--library",
                           str(tmp_path / "lib.db")], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "memex-gui: the window started" in proc.stdout
    assert (tmp_path / "lib.db").is_file()  # the window opened its library
