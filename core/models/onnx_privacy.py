"""ONNX Runtime's telemetry, switched off before ONNX Runtime can start it.

Builds of ONNX Runtime from 1.2x on Linux and macOS start a telemetry uploader (Microsoft's
1DS client) while the module is imported: it writes a device id and an event queue under
``$XDG_CACHE_HOME/Microsoft/DeveloperTools/.onnxruntime`` (process path, OS, CPU, memory; model
file and producer names once a session opens) and, some seconds later, looks up and posts to
``mobile.events.data.microsoft.com`` from its own native threads. ``disable_telemetry_events()``
only mutes later session events: the uploader, the device id and the start-up event stay. What
stops it is an environment variable that ONNX Runtime reads once, when it is first loaded.

``memex.core`` sets it when the package is imported, so it holds before any module here or any
library (PyMuPDF's layout add-on imports ONNX Runtime too) loads ONNX Runtime, and every child
process inherits it. ``onnx_session`` is the one module that imports ``onnxruntime``.
"""

from __future__ import annotations

import os

# Read by ONNX Runtime when it is first loaded. The 1.3x wheels read ORT_DISABLE_TELEMETRY; the
# upstream source has also spelt it ORT_TELEMETRY_DISABLED. Both are set, overriding "0".
TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1", "ORT_TELEMETRY_DISABLED": "1"}


def keep_onnxruntime_offline() -> None:
    """Switch ONNX Runtime's telemetry off for this process and the processes it starts.

    Must run before ``onnxruntime`` is first imported; calling it again is harmless."""
    os.environ.update(TELEMETRY_OFF)
