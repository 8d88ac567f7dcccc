"""``memex doctor`` shows the execution provider that really runs, and a requested accelerator
that fell back to the CPU is reported as a failure with its reason."""

from __future__ import annotations

import json

import onnxruntime as ort
import pytest
from memex.core.cli.main import main
from memex.core.config import Settings
from memex.core.models.onnx_session import installed_runtimes

pytestmark = pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(),
                                reason="CUDA is available here, so a request for it does not fall back")
FALLBACK = "CUDA was requested but is not available; running on CPU"


@pytest.fixture(autouse=True)
def _plain_model(monkeypatch):
    monkeypatch.setenv("MEMEX_OPTIMIZE_MODELS", "0")  # the check is about providers, not the optimised copy


def doctor(capsys, *args: str) -> tuple[int, dict[str, dict]]:
    code = main(["doctor", "--json", *args])
    checks = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in checks}


@pytest.mark.slow
def test_cuda_requested_on_a_cpu_machine_is_reported(tmp_path, capsys, reranker_dir):
    Settings(device="cuda").save()
    code, checks = doctor(capsys, "--library", str(tmp_path / "lib.db"), "--reranker", str(reranker_dir))
    assert code == 1
    for name in ("embedder", "reranker"):
        assert checks[name]["ok"] is False
        assert FALLBACK in checks[name]["detail"]
        assert "on CPUExecutionProvider" in checks[name]["detail"]
    assert "device setting: cuda" in checks["embedder"]["detail"]
    assert checks["library"]["ok"] is True  # the library itself is fine


def test_text_output_names_the_fallback(tmp_path, capsys):
    Settings(device="cuda").save()
    assert main(["doctor", "--library", str(tmp_path / "lib.db")]) == 1
    lines = capsys.readouterr().out.splitlines()
    embedder = next(line for line in lines if " embedder " in line)
    assert embedder.startswith("FAIL") and FALLBACK in embedder


def test_cpu_and_auto_run_on_cpu_without_a_warning(tmp_path, capsys):
    for device in ("cpu", "auto"):
        Settings(device=device).save()
        code, checks = doctor(capsys, "--library", str(tmp_path / f"{device}.db"))
        assert code == 0, checks
        assert checks["embedder"]["detail"].split(" on ")[1].startswith("CPUExecutionProvider")
        assert f"device setting: {device}" in checks["embedder"]["detail"]


def test_the_onnxruntime_check_names_the_installed_package(tmp_path, capsys):
    runtimes = installed_runtimes()
    assert runtimes == [f"onnxruntime {ort.__version__}"]  # this environment has the CPU package only
    _, checks = doctor(capsys, "--library", str(tmp_path / "lib.db"))
    assert checks["onnxruntime"]["ok"] is True
    assert runtimes[0] in checks["onnxruntime"]["detail"]
    assert "CPUExecutionProvider" in checks["onnxruntime"]["detail"]
