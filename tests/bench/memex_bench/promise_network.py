"""The network promise, tried from outside the process: no byte leaves while indexing and searching.

``runs`` rounds of a real ``memex index`` and a hybrid ``memex search`` (embedder, and the shared
test reranker when present), each under ``strace -f`` with a fresh HOME and XDG folders, read back
by ``network_trace``. The runs start without the CI variables (ONNX Runtime stays silent when it
sees them, which would hide the fault on a CI machine) and without ONNX Runtime's own opt-out
variables (Memex must set them itself). The last search lingers ``linger_s`` in its process after
it answers: ONNX Runtime's uploader makes its first attempt ~10 s after it loads, later than a
short run lasts. A network namespace (``unshare -rn``) is a second net where the kernel allows
one: attempts still show in the trace, but nothing can leave.

Also counted: the folders ONNX Runtime's telemetry keeps under HOME
(``.cache/Microsoft/DeveloperTools/.onnxruntime``: a device id and a queue of events).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .network_trace import NetworkAttempt, index_and_search, network_namespace_available, strace_path
from .robustness import _row

PART = "promise: network"


def _shared_reranker() -> Path | None:
    shared = Path(os.environ.get("MEMEX_SHARED") or Path(__file__).resolve().parents[4] / "shared")
    candidate = shared / "models" / "random-cross-encoder-L6-H384"
    return candidate if (candidate / "model.onnx").is_file() else None


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None, runs: int = 5,
            linger_s: float = 15.0) -> list[dict]:
    """``runs`` index + search rounds, each with a fresh HOME; the last search lingers ``linger_s``."""
    metric = f"network attempts in {runs} index+search runs"
    attempts: list[NetworkAttempt] = []
    folders: list[Path] = []
    try:
        strace_path()
        netns = network_namespace_available()
        reranker = _shared_reranker()
        for number in range(runs):
            if progress is not None:
                progress(f"network: index + search run {number + 1} of {runs}")
            found, left = index_and_search(Path(workdir) / f"run{number}", netns=netns, reranker=reranker,
                                           linger_s=linger_s if number == runs - 1 else 0.0)
            attempts += [attempt for run in found for attempt in run.attempts]
            folders += left
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return [_row(PART, metric, "not measured", "0", False, str(exc)[:300]),
                _row(PART, "Microsoft folders under HOME", "not measured", "0", False, "")]
    how = (f"strace -f{', in a network namespace' if netns else ''}; last search lingered {linger_s:g} s; "
           f"{'reranker loaded' if reranker else 'no reranker (shared models not found)'}")
    first = f"; first: {attempts[0]}" if attempts else ""
    return [
        _row(PART, metric, len(attempts), "0", not attempts, how + first),
        _row(PART, "Microsoft folders under HOME", len(folders), "0", not folders,
             ", ".join(str(folder.relative_to(workdir)) for folder in folders[:3])),
    ]
