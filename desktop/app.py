"""Starting the window: ``memex-gui [PATH…]`` (and ``memex gui``).

Paths given are indexed and watched. Only one window runs per user: a second launch hands its
paths to the first and exits. ``--install-desktop-entry`` adds Memex to the desktop's menu.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

    from .main_window import MainWindow
    from .single_instance import InstanceServer

APP_ID = "memex"
SMOKE_TEST_MS = 3000  # long enough for the first paint and the library to open


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="memex-gui", description="Open the Memex window.")
    parser.add_argument("paths", nargs="*", help="files or folders to index and watch")
    parser.add_argument("--library", help="library file (default: the one in your user data folder)")
    parser.add_argument("--minimized", action="store_true", help="start in the tray (or minimised)")
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add Memex to the applications menu (Linux) and exit")
    parser.add_argument("--smoke-test", action="store_true",
                        help="open the window, quit a few seconds later, exit 0 if it was shown (checks an install)")
    return parser.parse_args(argv)


def _end_smoke_test(app: QApplication, window: QWidget) -> None:
    shown = window.isVisible() or window.isMinimized()
    if sys.stdout is not None:
        print("memex-gui: the window started" if shown else "memex-gui: the window was not shown")
    app.exit(0 if shown else 1)


def main(argv_paths: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # extraction runs in spawned processes (frozen builds)
    args = parse_args(sys.argv[1:] if argv_paths is None else list(argv_paths))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.install_desktop_entry:
        from .install_desktop_entry import main as install_main

        return install_main()

    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:
        if sys.stderr is not None:
            print("The Memex window needs PySide6: pip install 'memex-desktop[gui]'", file=sys.stderr)
        return 2

    from .platform_check import platform_problem

    problem = platform_problem()
    if problem is not None:  # Qt would abort with a message that never says what to install
        if sys.stderr is not None:
            print(problem, file=sys.stderr)
        return 2

    from . import qtcompat, style
    from .single_instance import InstanceServer

    qtcompat.apply()
    paths = [os.path.abspath(os.path.expanduser(p)) for p in args.paths]
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "memex-gui"])
    app.setApplicationName("Memex")
    app.setOrganizationName("Memex")
    app.setDesktopFileName(APP_ID)
    handed_over = _hand_to_running_window(paths, args)
    if handed_over is not None:
        return handed_over
    server = InstanceServer()
    server.listen()

    style.apply_style(app)
    app.setWindowIcon(style.app_icon())
    window = _show_window(args, paths, server)
    from .service_host import serve_while_open

    app.aboutToQuit.connect(serve_while_open(window).close)  # serves the CLI until the window ends
    if args.smoke_test:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(SMOKE_TEST_MS, lambda: _end_smoke_test(app, window))
    return _run_until_closed(app, window, server)


def _hand_to_running_window(paths: list[str], args: argparse.Namespace) -> int | None:
    """When a Memex window already runs for this user: hand it ``paths`` and say how this
    launch ends (its exit code); ``None`` when this launch is the one to open the window."""
    from .single_instance import send_to_running

    if not send_to_running(paths, activate=not args.minimized):
        return None
    if args.smoke_test:  # the window that answered is not the one under test
        if sys.stderr is not None:
            print("memex-gui: another Memex window is running for this user folder", file=sys.stderr)
        return 1
    if paths and sys.stdout is not None:  # a GUI script on Windows has no console
        print(f"Memex is already running; it is indexing {len(paths)} path(s) now.")
    return 0


def _show_window(args: argparse.Namespace, paths: list[str], server: InstanceServer) -> MainWindow:
    """The window, taking paths and "come to the front" from later launches; shown, or in the
    tray (minimised where there is none) with ``--minimized``."""
    from .main_window import MainWindow
    from .tray import tray_available

    window = MainWindow(library_path=args.library, paths=paths)
    server.paths_received.connect(window.add_paths)
    server.activate_requested.connect(window.bring_to_front)
    if args.minimized:
        if window.tray is None and tray_available():
            window.set_tray_enabled(True)
        if window.tray is None:
            window.showMinimized()
    else:
        window.show()
    return window


def _run_until_closed(app: QApplication, window: MainWindow, server: InstanceServer) -> int:
    """Run the event loop; then stop the window's work and return its exit code."""
    code = 1
    try:
        code = int(app.exec())
    finally:
        window.shutdown()
        server.close()
    if not getattr(window, "workers_stopped", True):
        # A worker is still inside native code (a model being loaded or built). Tearing the
        # interpreter down under it can abort the process; what was written is committed, so
        # leave without the teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
