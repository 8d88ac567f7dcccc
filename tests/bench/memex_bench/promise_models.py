"""Promise: model downloads and model folders are bounded by what they declare.

Each measurement runs in its own process (``python -m memex_bench.promise_models CASE``)
with its own ``MEMEX_HOME``, so peak memory is that process's alone:

* a lying server announces 100 bytes for tokenizer.json and sends 28 MB without a
  Content-Length; a second one announces nothing and sends 40 MiB: bytes written past the
  declared size (the catalogue's, else the Hub's, else the cap for the file's kind);
* a real tokenizer.json padded to 40 MB with extra vocabulary: peak memory and time until it is
  refused, against loading the real 466 KB one, and against parsing the padded one unbounded;
* ``memex models import`` of folders whose files link to a secret outside them: how many such
  targets were copied, and copies with wider permissions than their source.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

PART = "promise: models"
REPO = "memex-bench/lying"
COMMIT = "0" * 40
SECRET = b"memex-bench secret outside the model folder\n"
_MODEL = b"\x08\x08\x3a\x00"  # a ModelProto: ir_version 8 and an empty graph


def padded_tokenizer(source: Path, target: Path, size: int) -> Path:
    """A real tokenizer.json grown to about ``size`` bytes with extra WordPiece entries (which
    the tokenizers library parses and keeps, so its cost is that of a real big vocabulary)."""
    tokenizer = json.loads(source.read_text(encoding="utf-8"))
    vocab = tokenizer["model"]["vocab"]
    first = len(vocab)
    per_entry = len(f'"##pad{0:09d}x": {first}, ')
    for i in range((size - len(json.dumps(tokenizer))) // per_entry):
        vocab[f"##pad{i:09d}x"] = first + i
    target.write_text(json.dumps(tokenizer), encoding="utf-8")
    return target


def bundled_tokenizer() -> Path:
    return Path(str(resources.files("memex.resources") / "models" / "bert-uncased-tokenizer.json"))


# --- a lying Hub ---------------------------------------------------------------------------------


def _serve(body: bytes, declared: int | None) -> ThreadingHTTPServer:
    """Answers every file with ``body``, announcing ``declared`` bytes (None: no size at all);
    the body goes without a Content-Length and ends when the connection closes."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            self._headers()

        def do_GET(self) -> None:  # noqa: N802
            self._headers(body=True)
            for at in range(0, len(body), 1 << 16):
                try:
                    self.wfile.write(body[at:at + (1 << 16)])
                except OSError:
                    return

        def _headers(self, body: bool = False) -> None:
            self.send_response(200)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("ETag", f'"{hashlib.sha256(body_sum).hexdigest()}"')
            if declared is not None and not body:
                self.send_header("X-Linked-Size", str(declared))
                self.send_header("Content-Length", str(declared))
            self.end_headers()

    body_sum = b"what the file should have been"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _child_download(sent: int, declared: int | None) -> dict:
    from memex.core.errors import MemexError
    from memex.core.models.catalogue import HubFile, ModelSpec
    from memex.core.models.download import download_model, partial_folder

    server = _serve(os.urandom(1 << 16) * (sent >> 16), declared)
    spec = ModelSpec(name="lying-server", kind="reranker", source="hub", repo=REPO, revision=COMMIT,
                     files=(HubFile("tokenizer.json", "tokenizer.json"),))
    written = 0

    def progress(p) -> None:
        nonlocal written
        written = max(written, p.file_done)

    error = ""
    try:
        download_model(spec, endpoint=f"http://127.0.0.1:{server.server_address[1]}", progress=progress, attempts=1)
    except MemexError as exc:
        error = str(exc)
    server.shutdown()
    left = sum(p.stat().st_size for p in partial_folder(spec.name).glob("*.part"))
    return {"written": written, "left": left, "error": error}


def _child_tokenizer(path: str, unbounded: bool) -> dict:
    import resource

    from memex.core.errors import MemexError
    from memex.core.models.embedding import load_tokenizer

    before = _reset_peak()
    start = time.perf_counter()
    error = ""
    try:
        if unbounded:
            from tokenizers import Tokenizer

            Tokenizer.from_file(path)
        else:
            load_tokenizer(path)
    except MemexError as exc:
        error = str(exc)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM") if before is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    base = before if before is not None else 0
    return {"seconds": seconds, "peak_mib": peak / 1024, "grew_mib": (peak - base) / 1024, "error": error}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> int | None:
    """This process's resident memory now (KiB), after resetting its peak to it (Linux); else None."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except (OSError, KeyError):
        return None


def _child(argv: list[str]) -> None:
    case = argv[0]
    if case == "download":
        result = _child_download(int(argv[1]), None if argv[2] == "none" else int(argv[2]))
    else:
        result = _child_tokenizer(argv[1], case == "parse")
    print(json.dumps(result))


def _run_child(home: Path, *argv: str) -> dict:
    env = dict(os.environ, MEMEX_HOME=str(home), HF_HUB_OFFLINE="0", MEMEX_OFFLINE="0")
    done = subprocess.run([sys.executable, "-m", "memex_bench.promise_models", *argv], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"promise_models {argv[0]} failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- import ----------------------------------------------------------------------------------------


def _import_cases(workdir: Path) -> tuple[int, int, int, int]:
    """(outside targets copied, import attempts, copies wider than their source, copies checked)."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "import-home"
    secret = workdir / "secret.txt"
    secret.write_bytes(SECRET)
    secret.chmod(0o640)
    tokenizer = bundled_tokenizer().read_bytes()
    cases = {"tokenizer.json": "link", "model.onnx": "link", "config.json": "link", "1_Pooling": "dirlink",
             "inside": "inside"}
    attempts = 0
    for name, how in cases.items():
        folder = workdir / f"model-{name.replace('.', '-')}"
        folder.mkdir()
        (folder / "model.onnx").write_bytes(_MODEL)
        (folder / "tokenizer.json").write_bytes(tokenizer)
        (folder / "tokenizer.json").chmod(0o640)
        if how == "link":
            (folder / name).unlink(missing_ok=True)
            (folder / name).symlink_to(secret)
        elif how == "dirlink":
            (workdir / "outside-pooling").mkdir(exist_ok=True)
            (workdir / "outside-pooling" / "config.json").write_bytes(SECRET)
            (folder / name).symlink_to(workdir / "outside-pooling")
        else:
            (folder / "real-config.json").write_text('{"max_position_embeddings": 512}', encoding="utf-8")
            (folder / "config.json").symlink_to("real-config.json")  # inside the folder: fine
        env = dict(os.environ, MEMEX_HOME=str(home))
        subprocess.run([sys.executable, "-m", "memex.core", "models", "import", str(folder)], env=env,
                       capture_output=True, timeout=120, check=False)
        attempts += 1
    copied = wider = checked = 0
    for path in (home / "models").rglob("*") if (home / "models").is_dir() else ():
        if path.is_file() and not path.is_symlink():
            copied += SECRET in path.read_bytes()
            if path.name == "tokenizer.json":
                wider += bool(stat.S_IMODE(path.stat().st_mode) & ~0o640)
                checked += 1
    return copied, attempts, wider, checked


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None) -> list[dict]:
    from .robustness import _row

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _: None)
    rows = []
    say("models: lying servers")
    lying = _run_child(workdir / "home-lying", "download", str(28 << 20), "100")
    past = max(0, lying["written"] - 100)
    rows.append(_row(PART, "bytes written past declared size by a lying server", past, "0 (never a read buffer)",
                     past == 0 and lying["left"] == 0 and bool(lying["error"]),
                     f"announced 100 B, sent 28 MiB without Content-Length; wrote {lying['written']} B, kept "
                     f"{lying['left']} B"))
    silent = _run_child(workdir / "home-silent", "download", str(40 << 20), "none")
    cap = 32 << 20
    past = max(0, silent["written"] - cap)
    rows.append(_row(PART, "bytes written past the tokenizer cap, no size announced", past, "0",
                     past == 0 and silent["left"] == 0 and bool(silent["error"]),
                     f"sent 40 MiB; stopped at {silent['written'] / (1 << 20):.0f} MiB"))
    say("models: oversized tokenizer.json")
    big = padded_tokenizer(bundled_tokenizer(), workdir / "tokenizer.json", 40_000_000)
    normal = _run_child(workdir, "tokenizer", str(bundled_tokenizer()))
    refused = _run_child(workdir, "tokenizer", str(big))
    unbounded = _run_child(workdir, "parse", str(big))
    rows.append(_row(PART, "oversized tokenizer.json: peak memory / time before refusal",
                     f"+{refused['grew_mib']:.0f} MiB / {refused['seconds'] * 1000:.1f} ms",
                     "<= normal load", bool(refused["error"]) and refused["grew_mib"] <= normal["grew_mib"] + 8
                     and refused["seconds"] <= normal["seconds"] + 0.05,
                     f"40 MB file; a normal 466 KB load: +{normal['grew_mib']:.0f} MiB / "
                     f"{normal['seconds'] * 1000:.0f} ms; the 40 MB one parsed unbounded (as before): "
                     f"+{unbounded['grew_mib']:.0f} MiB / {unbounded['seconds']:.1f} s"))
    say("models: import through links")
    copied, attempts, wider, checked = _import_cases(workdir / "import")
    rows.append(_row(PART, "import: outside-link targets copied", copied, "0", copied == 0,
                     f"{attempts} imports with links to a file or folder outside"))
    rows.append(_row(PART, "import: copies wider than their source", wider, "0", wider == 0 and checked == 1,
                     f"0640 tokenizer.json; {checked} of 1 legitimate import (links inside the folder) installed"))
    return rows


if __name__ == "__main__":
    _child(sys.argv[1:])
