"""The quick ``memex`` entry point: with a resident service it answers ``search`` and ``status``
without loading Memex's own modules, byte for byte as the full command line does; without one
(or with one it must not use) it runs the full command line. Real processes, a real library."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_process import running_service

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix domain sockets only")]

MEMEX = Path(sys.executable).with_name("memex")
NO_SERVICE = "MEMEX_NO_SERVICE"
HEAVY = ("memex.core.types", "memex.core.config", "memex.core.library", "memex.core.cli.main", "argparse",
         "apsw", "numpy")


class Setup:
    """A library at the default place of a user whose folders are the XDG ones (no MEMEX_HOME)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs = root / "docs"
        self.home = root / "home"
        self.library = root / "data" / "Memex" / "library.db"
        self.runtime = Path(tempfile.mkdtemp(prefix="mq"))  # short: socket paths are ~100 bytes at most
        self.env = {**os.environ, "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.runtime),
                    "XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config")}
        for name in (NO_SERVICE, "MEMEX_HOME", "NO_COLOR", "MEMEX_DEBUG"):
            self.env.pop(name, None)

    def run(self, args: list[str], *, service: bool = True, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        chosen = {**(env or self.env), **({} if service else {NO_SERVICE: "1"})}
        return subprocess.run([str(MEMEX), *args], capture_output=True, text=True, timeout=180, env=chosen,
                              cwd=cwd or self.root)

    def quick(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``memex ARGS`` through the quick entry point; stderr's last line lists the heavy
        modules the process loaded."""
        code = ("import sys; from memex.core.cli import quick; sys.argv = ['memex', *sys.argv[1:]]\n"
                "try:\n    code = quick.main()\nexcept SystemExit as exc:\n    code = exc.code\n"
                "sys.stdout.flush()\n"
                f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
                "sys.exit(code)")
        return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=180,
                              env=env or self.env, cwd=self.root)

    def socket(self) -> Path | None:
        found = list((self.runtime / "memex").glob("library-*.sock"))
        return found[0] if found else None


def loaded(proc: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(stderr without the LOADED line, the LOADED line)."""
    head, _, last = proc.stderr.rstrip("\n").rpartition("\n")
    if not last.startswith("LOADED"):
        head, last = (head + "\n" + last if head else last), ""
    return (head + "\n" if head else ""), last


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    s = Setup(tmp_path_factory.mktemp("quick-cli"))
    s.docs.mkdir()
    s.home.mkdir()
    (s.docs / "tax.txt").write_text("The tax return is due in April.\nReceipts go in the blue folder.\n")
    (s.docs / "garden.md").write_text("# Garden\n\nTomatoes need sun and water every day.\n")
    (s.docs / "budget.md").write_text("# Budget\n\nTax, rent and groceries for the year. Café — naïve ✓\n")
    (s.docs / "broken.pdf").write_bytes(b"%PDF-1.7 garbage")
    proc = s.run(["index", str(s.docs)], service=False)
    assert proc.returncode == 0, proc.stderr
    assert s.library.exists()
    yield s
    shutil.rmtree(s.runtime, ignore_errors=True)


@pytest.fixture(scope="module")
def serving(setup: Setup) -> Iterator[subprocess.Popen[str]]:
    with running_service([str(MEMEX), "serve", "--no-watch"],
                         setup.env, lambda: setup.socket() is not None) as proc:
        yield proc


CALLS = [
    ["search", "tax"],
    ["search", "tax", "--mode", "bm25", "--json"],
    ["search", "tax", "--type", "md", "--k", "1", "--no-rerank"],
    ["search", "tax", "--folder", "docs", "--after", "2000-01-01", "--mode", "bm25", "--json"],
    ["search", "tax", "--library", "data/Memex/library.db", "--mode", "bm25"],
    ["search", "café naïve", "--mode", "bm25"],
    ["search", "nothing-matches-this-zzz", "--mode", "bm25"],
    ["search", "tax", "--type", "exe"],  # refused by the command: exit 2, one line
    ["search", "tax", "--after", "2030-01-01", "--before", "2020-01-01"],
    ["search", "   "],
    ["search", "caf\udce9"],  # not UTF-8 (a byte a shell passes through): refused in one line
    ["search", "tax", "--k", "0"],  # a parse error: argparse's own words, from the full command line
    ["search", "tax", "--bogus"],
    ["search"],
    ["search", "--help"],
    ["status"],
    ["status", "--json"],
    ["status", "--failed"],
    ["status", "--lib", "data/Memex/library.db"],
]


@pytest.mark.parametrize("args", CALLS, ids=[ascii(" ".join(a)) for a in CALLS])
def test_quick_answers_exactly_as_the_full_command_line(setup, serving, args):
    quick = setup.run(args)
    full = setup.run(args, service=False)
    assert (quick.stdout, quick.stderr, quick.returncode) == (full.stdout, full.stderr, full.returncode)
    assert quick.stdout or quick.stderr


def test_answered_by_the_service_without_memex_modules(setup, serving):
    """The quick client loads none of Memex's library, settings or value types, nor argparse."""
    for args in (["search", "tax", "--mode", "bm25"], ["search", "tax", "--json"], ["status"]):
        proc = setup.quick(args)
        err, heavy = loaded(proc)
        assert heavy == "LOADED []", (args, heavy)
        full = setup.run(args, service=False)
        assert (proc.stdout, err, proc.returncode) == (full.stdout, full.stderr, full.returncode)


def test_calls_it_does_not_answer_run_the_full_command_line(setup, serving):
    for args in (["search", "tax", "--bogus"], ["search", "--help"], ["doctor"]):
        assert "memex.core.cli.main" in loaded(setup.quick(args))[1], args


def test_another_environment_is_not_answered_by_the_service(setup, serving):
    """A client whose time zone differs from the service's gets its own dates: the full command
    line runs in its own process."""
    env = {**setup.env, "TZ": "Pacific/Kiritimati"}
    proc = setup.quick(["search", "tax", "--mode", "bm25", "--json"], env=env)
    assert "memex.core.cli.main" in loaded(proc)[1]
    full = setup.run(["search", "tax", "--mode", "bm25", "--json"], service=False, env=env)
    assert proc.stdout == full.stdout and proc.returncode == 0


def test_a_terminal_gets_the_same_bold_highlights(setup, serving):
    def on_terminal(service: bool) -> bytes:
        main, other = pty.openpty()
        env = {**setup.env, **({} if service else {NO_SERVICE: "1"})}
        proc = subprocess.Popen([str(MEMEX), "search", "tax", "--mode", "bm25"], stdout=other,
                                stderr=subprocess.PIPE, env=env, cwd=setup.root)
        os.close(other)
        out = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            out += chunk
        os.close(main)
        assert proc.wait(timeout=120) == 0
        return out

    quick = on_terminal(True)
    assert b"\x1b[1m" in quick
    assert quick == on_terminal(False)


def test_many_clients_at_once_each_get_their_own_answer(setup, serving):
    queries = ["tax", "garden", "budget", "tomatoes", "receipts", "rent"]
    expected = {q: setup.run(["search", q, "--mode", "bm25"], service=False).stdout for q in queries}
    got: dict[str, str] = {}

    def ask(query: str) -> None:
        got[query] = setup.run(["search", query, "--mode", "bm25"]).stdout

    threads = [threading.Thread(target=ask, args=(q,)) for q in queries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert got == expected


def test_the_service_refuses_a_malformed_cli_request(setup, serving, monkeypatch):
    from memex.core.service.client import connect

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(setup.runtime))
    from memex.core.service.protocol import RequestError

    client = connect(setup.library.resolve())
    assert client is not None
    with client:
        for params in ({"argv": "search tax"}, {"argv": ["status"], "cwd": "relative", "tty": [False, False],
                                                 "no_color": False, "env": {}}):
            with pytest.raises(RequestError) as caught:
                client.call("cli", params)
            assert caught.value.code == "bad-request"


def test_without_a_service_or_with_a_stale_socket_the_full_command_line_answers(setup, serving, monkeypatch):
    other = setup.root / "other.db"
    assert setup.run(["index", "--library", str(other), str(setup.docs)], service=False).returncode == 0
    args = ["search", "tax", "--mode", "bm25", "--library", str(other)]
    full = setup.run(args, service=False)
    none = setup.quick(args)
    assert "memex.core.cli.main" in loaded(none)[1] and none.stdout == full.stdout
    from memex.core.service.address import socket_file, socket_name

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(setup.runtime))

    stale = setup.runtime / "memex" / socket_name(str(other.resolve()))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()  # the file stays; nobody listens
    try:
        assert socket_file(str(other.resolve())) == str(stale)
        proc = setup.quick(args)
        err, heavy = loaded(proc)
        assert "memex.core.cli.main" in heavy
        assert (proc.stdout, err, proc.returncode) == (full.stdout, full.stderr, full.returncode)
    finally:
        stale.unlink()


def test_the_settings_library_is_the_one_asked(setup, serving):
    """A settings file naming the library: the quick client finds its service through it; a
    settings file it cannot read plainly leaves the call to the full command line (which warns)."""
    settings = setup.root / "config" / "Memex" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    try:
        settings.write_text(json.dumps({"library": str(setup.library)}))
        proc = setup.quick(["status"])
        assert loaded(proc)[1] == "LOADED []" and str(setup.library) in proc.stdout
        settings.write_text("{not json")
        proc = setup.quick(["status"])
        err, heavy = loaded(proc)
        assert "memex.core.cli.main" in heavy and "is not valid JSON" in err
    finally:
        settings.unlink()


def test_the_service_still_speaks_for_itself(setup, serving):
    """Capturing a client's output leaves the service's own stderr alone."""
    assert setup.run(["status"]).returncode == 0
    serving.send_signal(signal.SIGINT)
    assert serving.wait(timeout=30) == 0
    err = serving.stderr.read() if serving.stderr else ""
    assert "Serving" in err and "Stopped." in err
    assert "Library:" not in err
