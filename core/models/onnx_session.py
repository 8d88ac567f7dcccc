"""ONNX Runtime session setup: thread counts, graph optimisation and execution providers.

A requested accelerator that is missing, or that ONNX Runtime silently drops while building
the session (a CUDA library that fails to load, say), never stops Memex: the model runs on the
CPU and the caller gets a warning sentence to show.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from pathlib import Path
from types import ModuleType

# Memex's one import of ONNX Runtime (tests/robust/test_network_boundary.py fails on any other);
# other modules take ``ort`` from here. Its telemetry is already off: memex.core's __init__ set
# the variable ONNX Runtime reads when it loads (see onnx_privacy).
import onnxruntime as ort

from ..config import automatic_threads
from ..errors import ModelError
from .safety import check_external_data

# Also mute session events, for builds that do not read the variable (Windows sends ETW events).
ort.disable_telemetry_events()

CPU = "CPUExecutionProvider"

# device name -> (provider, label used in messages)
_DEVICES: dict[str, tuple[str, str]] = {
    "cuda": ("CUDAExecutionProvider", "CUDA"),
    "directml": ("DmlExecutionProvider", "DirectML"),
    "coreml": ("CoreMLExecutionProvider", "Core ML"),
}
DEVICES = ("cpu", "auto", *_DEVICES)
# Packages that all install the same `onnxruntime` module (so only one of them may be installed).
RUNTIME_PACKAGES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino", "onnxruntime-qnn")


def onnxruntime_module(name: str) -> ModuleType:
    """A part of ONNX Runtime that ``import onnxruntime`` leaves out (``quantization``,
    ``transformers``), imported after ONNX Runtime itself has been loaded here."""
    return importlib.import_module(f"{ort.__name__}.{name}")


def default_threads() -> int:
    """Threads when none are asked for (0): the settings' own rule."""
    return automatic_threads()


def installed_runtimes() -> list[str]:
    """The ONNX Runtime packages installed, as "name version"; more than one is a broken install."""
    found = []
    for name in RUNTIME_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return found


def available_devices() -> list[str]:
    """Devices this ONNX Runtime build can use, "cpu" first (for ``memex doctor``)."""
    available = set(ort.get_available_providers())
    return ["cpu"] + [name for name, (provider, _) in _DEVICES.items() if provider in available]


def runs_on_cpu(device: str) -> bool:
    """Whether ``device`` means the CPU provider alone (no accelerator will be asked for)."""
    return _providers_for(device)[1] is None


def _providers_for(device: str) -> tuple[list[str], str | None, list[str]]:
    """Providers to ask for, the accelerator expected (if any), and warnings so far."""
    available = set(ort.get_available_providers())
    device = (device or "cpu").strip().lower()
    if device == "cpu":
        return [CPU], None, []
    if device == "auto":
        for provider, _ in _DEVICES.values():
            if provider in available:
                return [provider, CPU], provider, []
        return [CPU], None, []
    if device not in _DEVICES:
        choices = ", ".join(DEVICES)
        return [CPU], None, [f"Unknown device {device!r} (choose one of {choices}); running on CPU"]
    provider, label = _DEVICES[device]
    if provider not in available:
        return [CPU], None, [f"{label} was requested but is not available; running on CPU"]
    return [provider, CPU], provider, []


def create_session(model_path: str | Path, *, threads: int, device: str) -> tuple[ort.InferenceSession, list[str]]:
    """Open ``model_path`` for inference; returns the session and user-facing warnings.

    ``threads`` <= 0 means min(4, cores). ``device`` is "cpu", "cuda", "directml", "coreml"
    or "auto" (the first accelerator available, else CPU, without a warning). A model whose
    external data lies outside its folder raises ``UnsafeModel`` (a ``ModelError``).
    """
    # Before ONNX Runtime reads any file the model names. The built-in scanner takes ~25 ms on a
    # 90 MB model; the onnx package (when installed) would take a second to parse it.
    check_external_data(model_path, use_onnx=False)
    providers, accelerator, warnings = _providers_for(device)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads if threads > 0 else default_threads()
    # Idle worker threads would otherwise spin for a while after each run, taking CPU from the
    # window and from searches that run beside indexing.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only; fallbacks are reported through `warnings`
    if accelerator == "DmlExecutionProvider":
        options.enable_mem_pattern = False  # DirectML does not support memory patterns
    try:
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except Exception as exc:
        if accelerator is None:
            raise ModelError(f"The model {model_path} could not be loaded: {exc}") from exc
        # The accelerator itself failed to initialise: retry on the CPU.
        label = next(lb for p, lb in _DEVICES.values() if p == accelerator)
        try:
            session = ort.InferenceSession(str(model_path), sess_options=options, providers=[CPU])
        except Exception as exc2:
            raise ModelError(f"The model {model_path} could not be loaded: {exc2}") from exc2
        warnings.append(f"{label} could not be started ({exc}); running on CPU")
        return session, warnings
    if accelerator is not None and accelerator not in session.get_providers():
        label = next(lb for p, lb in _DEVICES.values() if p == accelerator)
        warnings.append(f"{label} was requested but could not be started; running on CPU")
    return session, warnings


def shrink_arena(session: ort.InferenceSession, feed: dict) -> None:
    """Run ``feed`` (keep it tiny) and then free the session's unused CPU arena memory.

    ONNX Runtime keeps the activations of its largest run for reuse: after indexing with
    batches of 8 long chunks that is ~80 MB the app would hold while it sits idle. Shrinking
    after every run measured 12-17% slower embedding, so callers do it once things settle.
    Safe beside other runs of the same session: chunks in use are kept."""
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    session.run(None, feed, options)
