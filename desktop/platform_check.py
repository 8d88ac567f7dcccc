"""Before Qt starts: the system libraries its X11 (xcb) platform needs, named as packages.

Without them Qt aborts the process with a long plugin message that never says what to install
(on a bare Debian, ``libxcb-cursor0`` is the usual one). The window says it in one line instead.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# The shared libraries Qt's xcb platform plugin loads, and the Debian/Ubuntu package of each.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will start on X11 here: Linux, and the platform asked for (or the default
    with an X display and no Wayland one) is xcb."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen == "xcb"
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def missing_packages(load: Callable[[str], object] = ctypes.CDLL) -> list[str]:
    """The packages whose libraries cannot be loaded, in a stable order."""
    missing = []
    for library, package in XCB_LIBRARIES.items():
        try:
            load(library)
        except OSError:
            missing.append(package)
    return missing


def platform_problem(env: Mapping[str, str] | None = None, platform: str = sys.platform,
                     load: Callable[[str], object] = ctypes.CDLL) -> str | None:
    """One line saying what to install for the window to start, or None when nothing is missing."""
    if not uses_xcb(os.environ if env is None else env, platform):
        return None
    missing = missing_packages(load)
    if not missing:
        return None
    names = " ".join(missing)
    return (f"The Memex window needs system libraries that are not installed ({names}); "
            f"on Debian or Ubuntu: sudo apt install {names}")
