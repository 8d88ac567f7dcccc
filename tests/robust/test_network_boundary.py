"""No byte leaves, seen from outside the process: real ``memex index`` + ``memex search`` runs under
``strace -f`` (every thread and child, native ones included) make no network attempt and leave
no telemetry folder under HOME; and no code path can load ONNX Runtime with its telemetry on.

ONNX Runtime (1.2x+, Linux/macOS) starts a telemetry uploader while it is imported: a device id
and an event queue under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` at once, a lookup of
``mobile.events.data.microsoft.com`` from a C++ thread ~10 s later. Python socket guards
(test_privacy.py) never see that thread; strace does.

The checker (tests/bench/memex_bench/network_trace.py, standard library only) is loaded from this
tree by path, so these tests judge whichever ``memex`` is importable (PYTHONPATH=/tmp/basepkg: the
original code) with the same rules.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_checker():
    checker = REPO / "tests" / "bench" / "memex_bench" / "network_trace.py"
    spec = importlib.util.spec_from_file_location("memex_network_trace", checker)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


nt = _load_checker()

# A direct import of ONNX Runtime anywhere but core/models/onnx_session.py (the one owner).
_ORT_IMPORT = re.compile(r"^\s*(?:import\s+onnxruntime\b|from\s+onnxruntime\b)"
                         r"|import_module\(\s*[\"']onnxruntime|__import__\(\s*[\"']onnxruntime", re.MULTILINE)


def _memex_core_dir() -> Path:
    """The ``memex.core`` that runs (this tree, or the original code under PYTHONPATH)."""
    import memex.core

    return Path(memex.core.__file__).parent


def test_only_onnx_session_imports_onnxruntime() -> None:
    core = _memex_core_dir()
    sources = [*core.rglob("*.py"), *(REPO / "desktop").rglob("*.py"), *(REPO / "packaging").rglob("*.py"),
               *(REPO / "packaging").glob("*.spec")]
    offenders = [f"{path}:{text[:match.start()].count(chr(10)) + 1}"
                 for path in sources if path != core / "models" / "onnx_session.py"
                 for text in [path.read_text(encoding="utf-8")] for match in _ORT_IMPORT.finditer(text)]
    assert len(sources) > 50
    assert offenders == [], "import ONNX Runtime through memex.core.models.onnx_session: " + ", ".join(offenders)


# Every way Memex code loads ONNX Runtime: the session owner, the models, and PyMuPDF's layout
# add-on (imported with pymupdf when installed) through the PDF extractor and on its own.
LOADERS = {
    "session owner": "import memex.core.models.onnx_session",
    "embedder and reranker": ("import memex.core.models.embedding, memex.core.models.rerank, "
                              "memex.core.models.rerank_optimize"),
    "pdf extractor": "import memex.core.extract.pdf",
    "pymupdf after memex.core": "import memex.core, pymupdf",
}


@pytest.mark.parametrize("code", LOADERS.values(), ids=LOADERS.keys())
def test_loading_onnxruntime_keeps_its_telemetry_off(tmp_path: Path, code: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = nt.private_env(home)
    env["ORT_DISABLE_TELEMETRY"] = "0"  # a shell that opts in still gets it off in Memex
    probe = f"{code}\nimport os, sys\nprint(os.environ.get('ORT_DISABLE_TELEMETRY'), 'onnxruntime' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    switch, loaded = run.stdout.split()
    assert switch == "1"  # set in this process, so in every child it starts too
    assert loaded == "True" or "pymupdf" in code  # (PyMuPDF loads it only with its layout add-on)
    assert nt.telemetry_folders(home) == []


def test_the_trace_reader_sees_lookups_and_leaves_local_traffic() -> None:
    trace = "\n".join([
        '101 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 8',
        '101 connect(8, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file)',
        '102 connect(9, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16 '
        '<unfinished ...>',
        '102 <... connect resumed>) = 0',
        '102 sendto(9, "\\6mobile\\6events", 50, MSG_NOSIGNAL, NULL, 0) = 50',
        '103 13:00:01.5 sendto(4, "x", 1, 0, {sa_family=AF_INET, sin_port=htons(443), '
        'sin_addr=inet_addr("192.0.2.7")}, 16) = 1',
        '104 connect(4, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH',
        '105 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 5',
        '106 bind(5, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("0.0.0.0")}, 16) = 0',
        '107 connect(5, {sa_family=AF_UNIX, sun_path=@"/tmp/.X11-unix/X0"}, 20) = 0',
        # allowed: loopback, our own folder, uuidd, a socket pair, reading a socket's own name
        '201 connect(3, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '201 connect(3, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '202 connect(6, {sa_family=AF_UNIX, sun_path="/work/run/memex.sock"}, 110) = 0',
        '203 connect(6, {sa_family=AF_UNIX, sun_path="/run/uuidd/request"}, 110) = -1 ENOENT',
        '204 socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0, [3, 4]) = 0',
        '204 getsockname(4, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr("192.0.2.9")}, [16]) = 0',
        '204 +++ exited with 0 +++',
    ])
    attempts = nt.parse_trace(trace, allowed_unix_roots=["/work/run"])
    assert [(a.pid, a.call) for a in attempts] == [
        (101, "connect"), (102, "connect"), (103, "sendto"), (104, "connect"), (105, "socket"), (106, "bind"),
        (107, "connect")]
    assert "DNS" in attempts[0].target and attempts[1].target == "DNS query to 10.255.255.53:53"
    assert attempts[3].target == "to [2001:db8::1]:443" and attempts[5].target == "listening on 0.0.0.0:8080"


def test_index_and_search_reach_no_other_machine(tmp_path: Path, reranker_dir: Path) -> None:
    """Real processes, fresh HOME, no CI variables (ONNX Runtime hides in CI); the search lingers
    15 s after it answers, past the uploader's first attempt (~10 s after ONNX Runtime loads)."""
    try:
        nt.strace_path()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    netns = nt.network_namespace_available()  # a second net where allowed: nothing could leave
    runs, folders = nt.index_and_search(tmp_path, linger_s=15.0, netns=netns, reranker=reranker_dir)
    attempts = [str(attempt) for run in runs for attempt in run.attempts]
    assert attempts == [], f"network attempts (network namespace: {netns}):\n" + "\n".join(attempts)
    assert folders == [], f"telemetry folders under HOME: {folders}"
    for name in ("index", "search"):  # strace ran the command and followed its threads and children
        traced = (tmp_path / f"{name}.trace").read_text()
        assert re.search(r"^\d+\s+\+\+\+ exited with 0 \+\+\+$", traced, re.MULTILINE), name
    index_pids = set(re.findall(r"^(\d+)\s", (tmp_path / "index.trace").read_text(), re.MULTILINE))
    assert len(index_pids) >= 2  # the extraction child was watched too
    # ... and so were the OCR process (the picture's page was read) and the mail reader.
    import apsw

    library = apsw.Connection(str(tmp_path / "library.db"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        assert library.execute("SELECT count(*) FROM ocr_pages WHERE state = 'done'").fetchone()[0] == 1
        assert library.execute("SELECT count(*) FROM documents WHERE parent_id IS NOT NULL").fetchone()[0] == 1
    finally:
        library.close()
