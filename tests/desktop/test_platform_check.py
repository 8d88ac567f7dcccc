"""The window names the system packages Qt's X11 platform needs before Qt can abort without
saying so (on a bare Debian: libxcb-cursor0)."""

from __future__ import annotations

import subprocess
import sys

from memex.desktop.platform_check import XCB_LIBRARIES, missing_packages, platform_problem, uses_xcb


def _without(*absent: str):
    def load(name: str) -> object:
        if name in absent:
            raise OSError(f"{name}: cannot open shared object file")
        return object()
    return load


def test_a_missing_cursor_library_is_named_as_the_package_to_install() -> None:
    problem = platform_problem({"DISPLAY": ":0"}, "linux", _without("libxcb-cursor.so.0"))
    assert problem is not None and "\n" not in problem
    assert problem.endswith("sudo apt install libxcb-cursor0")


def test_every_missing_library_is_named_once() -> None:
    assert missing_packages(_without(*XCB_LIBRARIES)) == list(XCB_LIBRARIES.values())


def test_nothing_is_said_when_qt_will_not_use_x11_or_nothing_is_missing() -> None:
    gone = _without("libxcb-cursor.so.0")
    assert platform_problem({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux", gone) is None
    assert platform_problem({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", gone) is None
    assert platform_problem({}, "linux", gone) is None  # no display at all: Qt says so itself
    assert platform_problem({"DISPLAY": ":0"}, "darwin", gone) is None
    assert platform_problem({"DISPLAY": ":0"}, "linux", _without()) is None
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:foo", "WAYLAND_DISPLAY": "w"}, "linux")


def test_the_window_stops_with_the_line_before_qt_starts(tmp_path) -> None:
    """A real start with the platform check failing: one line, exit 2, no Qt abort."""
    code = ("import sys; from memex.desktop import platform_check as pc;"
            "pc.missing_packages = lambda load=None: ['libxcb-cursor0'];"
            "from memex.desktop.app import main; sys.exit(main([]))")
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": ":99", "MEMEX_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "The Memex window needs system libraries that are not installed (libxcb-cursor0); "
        "on Debian or Ubuntu: sudo apt install libxcb-cursor0"]
