"""Reading network attempts from outside a process: strace's view of every thread and child.

Standard library only, so that a test can load this file beside whichever ``memex`` is installed
(the checker stays the same while the code under test changes). Used by the network promise
(``promise_network``) and tests/robust/test_network_boundary.py.

A run is watched with ``strace -f -e trace=network``, which sees native threads (ONNX Runtime's
telemetry uploader looks up its collector from a C++ thread that Python-level socket guards never
see). Reported as attempts: a connect, send or bind to a non-loopback address, a name-service
lookup (nscd, systemd-resolved, D-Bus, mDNS), an interface probe (netlink, packet sockets), an
AF_UNIX connect outside the run's own folders. Failed calls count: the attempt is the leak,
whether or not a network answered.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

STRACE_MISSING = ("strace is not installed: the network-boundary check watches every process with it "
                  "(apt-get install strace)")

# ONNX Runtime mutes its telemetry when one of these is set (onnxruntime/core/platform/
# telemetry_environment.h); a user's machine has none of them.
CI_VARIABLES = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
                "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
                "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI", "ORT_RUNNING_UNIT_TESTS")

# ONNX Runtime's own opt-out variables: Memex must set them itself, so runs start without them.
ORT_OPT_OUT = ("ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED")

# Folder names that only telemetry leaves under a home folder.
TELEMETRY_FOLDERS = ("microsoft", ".onnxruntime")

# AF_UNIX sockets of system services that resolve names or reach the network for a caller.
_NAME_SERVICES = {"nscd": "name service cache (DNS lookup)", "systemd/resolve": "systemd-resolved (DNS lookup)",
                  "dbus": "D-Bus system service", "avahi": "mDNS (avahi)", "mdns": "mDNS"}

# Local services that never reach the network: libuuid asks uuidd for time-based UUIDs (the onnx
# package names temporary external-data files with uuid1() while the reranker is optimised).
_LOCAL_SERVICES = ("/run/uuidd/request", "/var/run/uuidd/request")

_SENDING_CALLS = ("connect", "sendto", "sendmsg", "sendmmsg")
_CALL = re.compile(r"^(?P<pid>\d+)\s+(?:\d[\d:.]*\s+)?(?P<call>[a-z_0-9]+)\((?P<args>.*)$")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((?P<port>\d+)\), sin_addr=inet_addr\("(?P<addr>[^"]*)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((?P<port>\d+)\).*?inet_pton\(AF_INET6, "(?P<addr>[^"]*)"')
_UNIX = re.compile(r'sa_family=AF_UNIX, sun_path=(?P<abstract>@?)"(?P<path>(?:[^"\\]|\\.)*)"')
_PROBE_FAMILIES = ("AF_NETLINK", "AF_PACKET")

# Runs a CLI command in this process, then stays ``argv[1]`` seconds so that timers started by
# the command (an uploader's first send) fire while the process is watched.
_LINGER = ("import sys, time\nfrom memex.core.cli.main import main\n"
           "code = main(sys.argv[2:])\ntime.sleep(float(sys.argv[1]))\nsys.exit(code)\n")


@dataclass(frozen=True)
class NetworkAttempt:
    """One system call that tried to reach beyond this machine (or ask a service to)."""

    pid: int
    call: str
    target: str
    line: str

    def __str__(self) -> str:
        return f"{self.call} -> {self.target} (pid {self.pid}): {self.line[:160]}"


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _inet_targets(args: str) -> list[tuple[str, str]]:
    """(address, "address:port") of every IPv4 and IPv6 socket address in a call's arguments."""
    found = [(m["addr"], f"{m['addr']}:{m['port']}") for m in _INET.finditer(args)]
    return found + [(m["addr"], f"[{m['addr']}]:{m['port']}") for m in _INET6.finditer(args)]


def _unix_target(path: str, abstract: bool, allowed_roots: Sequence[str]) -> str | None:
    """A description when connecting to this AF_UNIX address is an attempt; None when allowed."""
    if not abstract and path in _LOCAL_SERVICES:
        return None
    if not abstract and path and any(path == root or path.startswith(root.rstrip("/") + "/")
                                     for root in allowed_roots):
        return None
    for marker, what in _NAME_SERVICES.items():
        if marker in path:
            return f"{'@' if abstract else ''}{path} ({what})"
    return f"{'@' if abstract else ''}{path} (a socket outside Memex's own folders)"


def parse_trace(text: str, *, allowed_unix_roots: Sequence[str | Path] = ()) -> list[NetworkAttempt]:
    """Every network attempt in the output of ``strace -f -e trace=network -o FILE``.

    Loopback connections and AF_UNIX sockets under ``allowed_unix_roots`` (Memex's own, in its
    folders) are allowed; socketpair and unnamed sockets never reach another machine."""
    roots = [str(root) for root in allowed_unix_roots]
    attempts: list[NetworkAttempt] = []
    for raw in text.splitlines():
        line = raw.strip()
        match = _CALL.match(line)
        if match is None:  # "<... connect resumed>", "+++ exited", "--- SIGCHLD": nothing new
            continue
        pid, call, args = int(match["pid"]), match["call"], match["args"]
        if call == "socket":
            family = args.split(",", 1)[0].strip()
            if family in _PROBE_FAMILIES:
                attempts.append(NetworkAttempt(pid, call, f"{family} socket (interface or route probe)", line))
            continue
        if call not in (*_SENDING_CALLS, "bind"):
            continue
        for address, shown in _inet_targets(args):
            if not _is_loopback(address):
                what = "DNS query to" if shown.endswith(":53") else ("listening on" if call == "bind" else "to")
                attempts.append(NetworkAttempt(pid, call, f"{what} {shown}", line))
        if call == "bind":
            continue  # binding a Unix socket path is Memex's own business
        for unix in _UNIX.finditer(args):
            described = _unix_target(unix["path"], bool(unix["abstract"]), roots)
            if described is not None:
                attempts.append(NetworkAttempt(pid, call, described, line))
    return attempts


def telemetry_folders(home: Path) -> list[Path]:
    """Folders under ``home`` named like those telemetry keeps (``Microsoft``, ``.onnxruntime``)."""
    found = []
    for folder, dirnames, _ in os.walk(home):
        found += [Path(folder, name) for name in dirnames if name.lower() in TELEMETRY_FOLDERS]
    return sorted(found)


def strace_path() -> str:
    """The strace program; RuntimeError saying how to install it when there is none."""
    path = shutil.which("strace") or ("/usr/bin/strace" if os.access("/usr/bin/strace", os.X_OK) else None)
    if path is None:
        raise RuntimeError(STRACE_MISSING)
    return path


def network_namespace_available() -> bool:
    """Whether ``unshare -rn`` may start a process with no network (a user namespace is allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        return subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def private_env(home: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a user's machine, with every per-user folder inside ``home``."""
    env = dict(os.environ if base is None else base)
    for name in (*CI_VARIABLES, *ORT_OPT_OUT):
        env.pop(name, None)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"), XDG_STATE_HOME=str(home / ".local" / "state"),
               MEMEX_HOME=str(home / "memex"))
    return env


@dataclass(frozen=True)
class TracedRun:
    command: str
    returncode: int
    stderr: str
    attempts: list[NetworkAttempt]


def traced_cli(args: Sequence[str], *, env: Mapping[str, str], trace: Path, linger_s: float = 0.0,
               netns: bool = False, allowed_unix_roots: Iterable[str | Path] = (),
               timeout_s: float = 600.0) -> TracedRun:
    """Run ``memex ARGS`` (this Python) under strace; its network attempts, read from the trace."""
    program = [sys.executable, "-c", _LINGER, str(linger_s)] if linger_s > 0 else [sys.executable, "-m", "memex.core"]
    command = [strace_path(), "-f", "-s", "64", "-e", "trace=network", "-o", str(trace), *program, *args]
    if netns:
        command = ["unshare", "-rn", *command]
    run = subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=timeout_s)
    attempts = parse_trace(trace.read_text(errors="replace") if trace.exists() else "",
                           allowed_unix_roots=list(allowed_unix_roots))
    return TracedRun(" ".join(["memex", *args]), run.returncode, run.stderr, attempts)


def _sample_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    topics = ("The cormorant dives for herring near the old lighthouse.",
              "Tide tables list the spring tides for the harbour in March.",
              "The ferry timetable changes when the winter storms arrive.")
    for number, text in enumerate(topics):
        (folder / f"note{number}.md").write_text(f"# Note {number}\n\n{text}\n", encoding="utf-8")
    _picture_of_text(folder / "whiteboard.png", "Harbour crane inspection on Friday")  # read by OCR
    (folder / "inbox.mbox").write_bytes(  # read as mail, one message
        b"From ann@example.org Tue Mar  3 09:30:00 2026\nFrom: Ann <ann@example.org>\n"
        b"Subject: Pilot boat\nDate: Tue, 03 Mar 2026 09:30:00 +0000\n\nThe pilot boat leaves at six.\n")


def _picture_of_text(path: Path, text: str) -> None:
    """A PNG of ``text``: a picture with no text layer, so indexing runs the OCR process."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=420, height=90)
    page.insert_text((20, 50), text, fontsize=18)
    page.get_pixmap(dpi=150).save(str(path))
    doc.close()


def index_and_search(workdir: Path, *, linger_s: float = 0.0, netns: bool = False,
                     reranker: Path | None = None) -> tuple[list[TracedRun], list[Path]]:
    """One real ``memex index`` and one hybrid ``memex search`` (embedder, and ``reranker`` when
    given) under strace with a fresh HOME in ``workdir``; the runs and telemetry folders left."""
    home, docs = workdir / "home", workdir / "docs"
    home.mkdir(parents=True, exist_ok=True)
    _sample_folder(docs)
    env = private_env(home)
    library = str(workdir / "library.db")
    search = ["search", "--library", library, "--mode", "hybrid", "--k", "3", "cormorant herring"]
    search += ["--reranker", str(reranker)] if reranker is not None else ["--no-rerank"]
    runs = [traced_cli(["index", "--library", library, str(docs)], env=env, trace=workdir / "index.trace",
                       netns=netns, allowed_unix_roots=[workdir]),
            traced_cli(search, env=env, trace=workdir / "search.trace", linger_s=linger_s, netns=netns,
                       allowed_unix_roots=[workdir])]
    for run in runs:
        if run.returncode != 0:
            raise RuntimeError(f"{run.command} failed ({run.returncode}): {run.stderr.strip()[-300:]}")
    return runs, telemetry_folders(home)
