"""``memex serve`` and the CLI through it, as a user runs them: real processes, a real library.
The CLI answers the same with the service and without it; ``index`` is handed to the service."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_process import running_service

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix domain sockets only")]

MEMEX = Path(sys.executable).with_name("memex")


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs = root / "docs"
        self.library = root / "lib.db"
        self.runtime = Path(tempfile.mkdtemp(prefix="mx"))  # short: socket paths are ~100 bytes at most
        self.env = {**os.environ, "MEMEX_HOME": str(root / "home"), "XDG_RUNTIME_DIR": str(self.runtime),
                    "NO_COLOR": "1"}
        self.env.pop(NO_SERVICE, None)

    def memex(self, *args: str, service: bool = True, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env if service else {**self.env, NO_SERVICE: "1"}
        proc = subprocess.run([str(MEMEX), *args], capture_output=True, text=True, timeout=180, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"memex {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def socket(self) -> Path | None:
        found = list((self.runtime / "memex").glob("library-*.sock"))
        return found[0] if found else None


NO_SERVICE = "MEMEX_NO_SERVICE"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("service-cli"))
    s.docs.mkdir()
    (s.docs / "tax.txt").write_text("The tax return is due in April.\nReceipts go in the blue folder.\n")
    (s.docs / "garden.md").write_text("# Garden\n\nTomatoes need sun and water every day.\n")
    (s.docs / "budget.md").write_text("# Budget\n\nTax, rent and groceries for the year.\n")
    (s.docs / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    s.memex("index", "--library", str(s.library), str(s.docs), service=False)
    yield s
    shutil.rmtree(s.runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def serving(setup: Setup) -> Iterator[subprocess.Popen[str]]:
    with running_service([str(MEMEX), "serve", "--library", str(setup.library)],
                         setup.env, lambda: setup.socket() is not None) as proc:
        yield proc


@pytest.mark.parametrize("args", [
    ["search", "tax"],
    ["search", "tax", "--mode", "bm25", "--json"],
    ["search", "sunny vegetables", "--mode", "dense", "--json"],
    ["search", "tax", "--type", "md", "--k", "1"],
    ["search", "tax", "--folder", "{docs}", "--after", "2000-01-01", "--no-rerank", "--json"],
    ["search", "nothing-matches-this-zzz", "--mode", "bm25"],
    ["status"],
    ["status", "--json"],
    ["status", "--failed"],
])
def test_cli_answers_the_same_with_and_without_the_service(setup, serving, args):
    args = [a.replace("{docs}", str(setup.docs)) for a in args]
    via = setup.memex(*args, "--library", str(setup.library))
    own = setup.memex(*args, "--library", str(setup.library), service=False)
    assert (via.stdout, via.returncode) == (own.stdout, own.returncode)
    assert via.stdout.strip()


def test_the_service_path_loads_no_library(setup, serving):
    """Answered by the service: no Library, no SQLite, no models in the CLI process."""
    code = ("import sys; from memex.core.cli.main import main; "
            f"code = main(['search', 'tax', '--mode', 'bm25', '--library', {str(setup.library)!r}]); "
            "heavy = sorted(m for m in ('memex.core.library', 'apsw', 'numpy', 'onnxruntime', 'tokenizers') "
            "if m in sys.modules); print(heavy, file=sys.stderr); sys.exit(code or bool(heavy))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=setup.env)
    assert proc.returncode == 0, proc.stderr
    assert "tax.txt" in proc.stdout


def test_bm25_and_status_without_the_service_load_no_models(setup):
    for args in (["search", "tax", "--mode", "bm25", "--no-rerank"], ["status"]):
        code = ("import sys; from memex.core.cli.main import main; "
                f"code = main({[*args, '--library', str(setup.library)]!r}); "
                "heavy = sorted(m for m in ('onnxruntime', 'tokenizers', 'numpy', 'sqlite_vec', "
                "'memex.core.indexing.runner', 'memex.core.extract.worker', 'multiprocessing') "
                "if m in sys.modules); "
                "print(heavy, file=sys.stderr); sys.exit(code or bool(heavy))")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={**setup.env, NO_SERVICE: "1"})
        assert proc.returncode == 0, proc.stderr


def test_errors_through_the_service_are_the_same_line(setup, serving):
    via = setup.memex("search", "tax", "--type", "exe", "--library", str(setup.library), check=False)
    own = setup.memex("search", "tax", "--type", "exe", "--library", str(setup.library), service=False, check=False)
    assert (via.returncode, via.stderr) == (own.returncode, own.stderr) and via.returncode == 2


def test_a_second_serve_is_refused_in_one_line(setup, serving):
    proc = setup.memex("serve", "--library", str(setup.library), check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "already serves this library" in proc.stderr


def test_index_is_handed_to_the_running_service(setup, serving):
    (setup.docs / "new.txt").write_text("Quarterly invoices from the plumber.\n")
    proc = setup.memex("index", "--library", str(setup.library))
    assert "it does this indexing run" in proc.stderr
    assert "1 added" in proc.stdout and "broken.pdf" in proc.stdout  # the earlier failure is listed
    found = setup.memex("search", "plumber invoices", "--mode", "bm25", "--library", str(setup.library))
    assert "new.txt" in found.stdout


def test_serve_keeps_the_sources_in_sync(setup, serving):
    (setup.docs / "watched.md").write_text("# Kayak\n\nThe kayak paddles hang in the shed.\n")
    deadline = time.monotonic() + 60
    while "watched.md" not in setup.memex("search", "kayak paddles", "--mode", "bm25",
                                          "--library", str(setup.library)).stdout:
        assert time.monotonic() < deadline, "memex serve did not index a new file in its source"
        time.sleep(0.5)


def test_ctrl_c_stops_the_service_and_removes_its_socket(setup, serving):
    path = setup.socket()
    assert path is not None
    serving.send_signal(signal.SIGINT)
    assert serving.wait(timeout=30) == 0
    assert not path.exists()
    assert "Stopped." in serving.stderr.read() if serving.stderr else True
    # With nobody serving, the CLI opens the library itself.
    assert "tax.txt" in setup.memex("search", "tax", "--mode", "bm25", "--library", str(setup.library)).stdout
