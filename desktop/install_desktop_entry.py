"""Desktop integration on Linux: the menu entry and icons (``memex-gui --install-desktop-entry``)
and the start-at-login entry (the settings dialog's checkbox). Follows the XDG base directory
spec: ``$XDG_DATA_HOME`` (default ``~/.local/share``) and ``$XDG_CONFIG_HOME`` (``~/.config``)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
ENTRY_NAME = "memex.desktop"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def autostart_path() -> Path:
    return config_home() / "autostart" / ENTRY_NAME


def launch_command() -> str:
    """How to start the window from a menu: the built app's own ``memex-gui``; else ``memex-gui``
    if it is on PATH; else this Python running the module (a virtual environment that is not
    activated)."""
    if getattr(sys, "frozen", False):
        return shlex.quote(str(Path(sys.executable).with_name("memex-gui")))
    exe = shutil.which("memex-gui")
    if exe:
        return shlex.quote(exe)
    return f"{shlex.quote(sys.executable)} -m memex.desktop.app"


def entry_text(exec_args: str = "%F", extra: dict[str, str] | None = None) -> str:
    """The packaged .desktop file with ``Exec`` pointing at this installation."""
    template = (resources.files("memex.resources") / ENTRY_NAME).read_text(encoding="utf-8")
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={launch_command()} {exec_args}".rstrip()
        lines.append(line)
    for key, value in (extra or {}).items():
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def install(target: Path | None = None) -> list[Path]:
    """Copy the menu entry and the icons into the user's data folder; returns what was written."""
    base = target or data_home()
    written: list[Path] = []
    apps = base / "applications"
    apps.mkdir(parents=True, exist_ok=True)
    entry = apps / ENTRY_NAME
    entry.write_text(entry_text(), encoding="utf-8")
    written.append(entry)
    icons = resources.files("memex.resources") / "icons"
    for size in ICON_SIZES:
        src = icons / f"memex-{size}.png"
        if src.is_file():
            dest = base / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "memex.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read_bytes())
            written.append(dest)
    svg = icons / "memex.svg"
    if svg.is_file():
        dest = base / "icons" / "hicolor" / "scalable" / "apps" / "memex.svg"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(svg.read_bytes())
        written.append(dest)
    _refresh_caches(base)
    return written


def _refresh_caches(base: Path) -> None:
    """Tell the desktop about the new entry (best effort; the tools may not be there)."""
    import subprocess

    for command in (["update-desktop-database", str(base / "applications")],
                    ["gtk-update-icon-cache", "-q", "-t", "-f", str(base / "icons" / "hicolor")]):
        if shutil.which(command[0]):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(command, capture_output=True, timeout=10, check=False)


def start_at_login_enabled() -> bool:
    return autostart_path().is_file()


def set_start_at_login(enabled: bool) -> Path:
    """Write or remove the autostart entry (Linux); returns its path."""
    path = autostart_path()
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry_text("--minimized", {"X-GNOME-Autostart-enabled": "true"}), encoding="utf-8")
    elif path.exists():
        path.unlink()
    return path


def main() -> int:
    written = install()
    print(f"Installed the Memex menu entry: {written[0]}")
    print(f"Icons: {data_home() / 'icons' / 'hicolor'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
