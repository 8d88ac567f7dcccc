"""Entry point of the frozen app: one program, two names.

PyInstaller builds ``memex`` (the command line) and ``memex-gui`` (the window) from this one
script; the name the program was started under picks which ``main`` runs. The multiprocessing
hand-off comes first, before anything heavy is imported: extraction and model optimisation run in
spawned children, and in a frozen app a child is this same executable started with special
arguments.
"""

import multiprocessing
import os
import sys

# Before anything else, in the program and in every child it spawns: memex.core's __init__ switches
# ONNX Runtime's telemetry off (core/models/onnx_privacy.py), which works only before ONNX Runtime loads.
import memex.core  # noqa: F401


def _program_name() -> str:
    name = os.path.basename(sys.executable if getattr(sys, "frozen", False) else sys.argv[0])
    return os.path.splitext(name)[0].lower()


def main() -> int:
    multiprocessing.freeze_support()
    if _program_name() == "memex-gui":
        from memex.desktop.app import main as gui_main

        return gui_main()
    from memex.core.cli.main import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
