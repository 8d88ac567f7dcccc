"""Handing a file to the system: open it (at a page where the viewer allows; a message or an
attachment as the file the library hands out for it), show it in its folder, copy its path.
Finding that file and a viewer may run ``xdg-mime`` or write a file, and so happens off the GUI
thread; starting it is non-blocking (a detached process or the desktop's URL handler)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from memex.core.library import Library
from PySide6.QtCore import QObject, QProcess, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication

from .tasks import TaskManager, describe_error

# Viewers that can open a PDF at a page: name → arguments before the file.
PDF_VIEWERS: tuple[tuple[str, Callable[[str, int], list[str]]], ...] = (
    ("evince", lambda path, page: [f"--page-index={page}", path]),
    ("okular", lambda path, page: ["-p", str(page), path]),
    ("zathura", lambda path, page: [f"--page={page}", path]),
    ("qpdfview", lambda path, page: ["--unique", f"{path}#{page}"]),
)
PAGED_BY_VIEWER = frozenset({"pdf"})


@dataclass(frozen=True)
class OpenPlan:
    """How to open a file: run ``command`` detached, or hand ``path`` to the desktop."""

    path: str
    page: int
    command: tuple[str, ...] | None = None
    message: str = ""
    problem: str = ""  # why it cannot be opened (nothing is started then)


def default_pdf_app() -> str:
    """The desktop id of the default PDF application on Linux ("" when unknown)."""
    if not shutil.which("xdg-mime"):
        return ""
    try:
        out = subprocess.run(["xdg-mime", "query", "default", "application/pdf"], capture_output=True,
                             text=True, timeout=3, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().lower()


def default_app(path: str) -> str | None:
    """The desktop id of the application the desktop opens ``path`` with, "" when it has
    none, None when that cannot be known (no ``xdg-mime``)."""
    if not shutil.which("xdg-mime"):
        return None
    try:
        mime = subprocess.run(["xdg-mime", "query", "filetype", path], capture_output=True, text=True,
                              timeout=3, check=False).stdout.strip()
        if not mime:
            return None
        app = subprocess.run(["xdg-mime", "query", "default", mime], capture_output=True, text=True,
                             timeout=3, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return app


def viewer_command(path: str, page: int, which: Callable[[str], str | None] = shutil.which,
                   preferred: str = "") -> list[str] | None:
    """A command opening the PDF ``path`` at ``page`` with an installed viewer (the user's
    default one first when it is one of ours), or None."""
    ordered = sorted(PDF_VIEWERS, key=lambda v: 0 if v[0] in preferred else 1)
    for name, args in ordered:
        exe = which(name)
        if exe:
            return [exe, *args(path, page)]
    return None


def plan_open(path: str, kind: str, page: int) -> OpenPlan:
    """Decide how to open ``path`` (runs on a worker: may call ``xdg-mime``)."""
    name = os.path.basename(path)
    paged = kind in PAGED_BY_VIEWER and page > 1
    if sys.platform.startswith("linux") and kind in PAGED_BY_VIEWER:
        command = viewer_command(path, page, preferred=default_pdf_app())
        if command:
            return OpenPlan(path, page, tuple(command), f"Opened {name} at page {page}")
    look = f"; look at page {page}" if paged else ""
    if sys.platform.startswith("linux") and default_app(path) == "":
        return OpenPlan(path, page, problem=f"No application is set to open {name}. Choose one with "
                                            "“Open With…” in your file manager, then try again.")
    if sys.platform == "darwin":
        return OpenPlan(path, page, ("open", path), f"Opened {name}{look}")
    return OpenPlan(path, page, None, f"Opened {name}{look}")


def reveal_command(path: str) -> list[str] | None:
    """A command selecting ``path`` in the file manager, or None to just open its folder."""
    if sys.platform == "darwin":
        return ["open", "-R", path]
    if sys.platform == "win32":
        return ["explorer", f"/select,{os.path.normpath(path)}"]
    if shutil.which("dbus-send"):
        uri = QUrl.fromLocalFile(path).toString()
        return ["dbus-send", "--session", "--dest=org.freedesktop.FileManager1", "--type=method_call",
                "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1.ShowItems",
                f"array:string:{uri}", "string:"]
    return None


class Opener(QObject):
    """Runs the plans; reports what happened as a sentence for the status area."""

    message = Signal(str)
    error = Signal(str)

    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.library: Library | None = None  # says what file opens a document (see Library.open_target)
        self.launched: list[tuple[str, ...] | str] = []  # what was started (for the curious)

    def open(self, path: str, kind: str, page: int) -> None:
        """Open the document ``path`` (for a message in a mailbox or an attachment, the file
        the library hands out for it: an exported message, the attachment, the mailbox)."""
        library = self.library

        def plan() -> OpenPlan:
            target = library.open_target(path) if library is not None else path
            if not os.path.exists(target):
                return OpenPlan(target, page, problem=f"{target} is not there any more (moved or deleted?).")
            return plan_open(target, kind, page)

        self.tasks.run(plan, self._run_plan, lane="read", failure=lambda exc: self.error.emit(describe_error(exc)))

    def _run_plan(self, plan: OpenPlan) -> None:
        if plan.problem:
            self.error.emit(plan.problem)
            return
        if plan.command:
            ok = self.launch(plan.command)
        elif sys.platform == "win32":
            try:
                os.startfile(plan.path)  # type: ignore[attr-defined]  # noqa: S606
                ok = True
            except OSError as exc:
                self.error.emit(describe_error(exc))
                return
        else:
            ok = self.open_url(plan.path)
        if ok:
            self.message.emit(plan.message)
        else:
            self.error.emit(f"No application could open {os.path.basename(plan.path)}.")

    def reveal(self, path: str) -> None:
        command = reveal_command(path)
        if command and self.launch(tuple(command)):
            self.message.emit(f"Showing {os.path.basename(path)} in its folder")
        elif self.open_url(os.path.dirname(path)):
            self.message.emit(f"Opened the folder of {os.path.basename(path)}")
        else:
            self.error.emit(f"Could not open the folder {os.path.dirname(path)}.")

    def copy_path(self, path: str) -> None:
        QGuiApplication.clipboard().setText(path)
        self.message.emit("Path copied")

    # -- the two ways of starting things (replaceable, e.g. in tests) ---------------------
    def launch(self, command: tuple[str, ...]) -> bool:
        self.launched.append(command)
        ok, _pid = QProcess.startDetached(command[0], list(command[1:]))
        return bool(ok)

    def open_url(self, path: str) -> bool:
        self.launched.append(path)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(path))
