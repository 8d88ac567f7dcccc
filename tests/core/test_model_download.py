"""Downloading catalogue models from a Hub-shaped local server: verified, resumable, cancellable,
offline-aware; the catalogue itself; and ``memex models`` end to end (real files, real models)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from memex.core import config
from memex.core.cli.main import main
from memex.core.errors import ChecksumMismatch, ModelError
from memex.core.models.catalogue import (
    MODEL_FILE,
    catalogue,
    get_spec,
    installed_folder,
    is_installed,
)
from memex.core.models.download import (
    DownloadCancelled,
    DownloadError,
    OfflineError,
    download_model,
    partial_folder,
)
from memex.core.models.embedding import load_embedder
from memex.core.models.lock import LOCK_FILE, read_record
from memex.core.models.rerank import load_reranker
from memex.core.models.resolve import resolve_embedder, resolve_reranker
from memex.core.models.safety import UnsafeModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubserver import FakeHub  # noqa: E402

RERANKER = "bge-reranker-base"  # the catalogue reranker without pinned sums: the Hub's are used
REPO = "Xenova/bge-reranker-base"
ONNX_PATH = "onnx/model_quantized.onnx"
QUERY = "how do plants make energy from light"
PASSAGES = ["Photosynthesis turns light into chemical energy.", "The train leaves at eight."]


@pytest.fixture(scope="module")
def served(reranker_dir: Path) -> dict[str, bytes]:
    return {ONNX_PATH: (reranker_dir / "model.onnx").read_bytes(),
            "tokenizer.json": (reranker_dir / "tokenizer.json").read_bytes()}


@pytest.fixture
def hub(served):
    server = FakeHub().start()
    server.add_repo(REPO, dict(served))
    yield server
    server.stop()


def _flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    for i in range(at, at + 8):
        out[i] ^= 0xFF
    return bytes(out)


def _nothing_installed(name: str = RERANKER) -> bool:
    return not installed_folder(name).exists() and not is_installed(get_spec(name))


@pytest.mark.slow
def test_download_installs_a_verified_model_that_loads_and_scores(hub, served) -> None:
    events = []
    record = download_model(RERANKER, endpoint=hub.url, progress=events.append)
    commit = hub.repos[REPO].commit
    assert record.commit == commit and record.source == "hub" and record.safety_checked
    assert {k: (v.verified, v.sha256) for k, v in record.files.items()} == {
        MODEL_FILE: ("hub", hashlib.sha256(served[ONNX_PATH]).hexdigest()),
        "tokenizer.json": ("hub", hashlib.sha256(served["tokenizer.json"]).hexdigest())}
    folder = installed_folder(RERANKER)
    assert sorted(p.name for p in folder.iterdir()) == sorted([MODEL_FILE, "tokenizer.json", LOCK_FILE])
    assert read_record(folder) == record and not partial_folder(RERANKER).exists()
    total = len(served[ONNX_PATH]) + len(served["tokenizer.json"])
    assert events[-1].done == events[-1].total == total
    assert {e.file for e in events} == {MODEL_FILE, "tokenizer.json"}
    assert all(a.done <= b.done for a, b in zip(events, events[1:], strict=False))
    # every byte is fetched at the resolved commit, not at a branch that may move meanwhile
    assert all(f"/resolve/{commit}/" in r.path for r in hub.requests if r.method == "GET")

    reranker = load_reranker(RERANKER, threads=1)
    assert reranker.model_id == RERANKER and np.isfinite(reranker.score(QUERY, PASSAGES)).all()
    seen = len(hub.requests)
    assert download_model(RERANKER, endpoint=hub.url) == record  # installed: no connection made
    assert len(hub.requests) == seen


def test_a_file_changed_after_installation_is_refused(hub) -> None:
    download_model(RERANKER, endpoint=hub.url)
    model = installed_folder(RERANKER) / MODEL_FILE
    model.write_bytes(_flip(model.read_bytes(), 2_000_000))
    with pytest.raises(ChecksumMismatch, match="does not match its pinned checksum"):
        resolve_reranker(RERANKER)


def test_a_corrupted_download_is_refused_and_nothing_is_installed(hub, served) -> None:
    hub.corrupt[ONNX_PATH] = _flip(served[ONNX_PATH], 1_000_000)
    with pytest.raises(ChecksumMismatch, match="does not match the checksum the Hub reported") as caught:
        download_model(RERANKER, endpoint=hub.url)
    assert "nothing was installed" in str(caught.value)
    assert _nothing_installed()
    assert not (partial_folder(RERANKER) / f"{MODEL_FILE}.part").exists()  # bad bytes are not resumed from
    del hub.corrupt[ONNX_PATH]
    assert download_model(RERANKER, endpoint=hub.url).files[MODEL_FILE].size == len(served[ONNX_PATH])


@pytest.mark.slow
def test_an_interrupted_download_resumes_on_the_next_call(hub, served) -> None:
    hub.drops[ONNX_PATH] = (5_000_000, 1)  # the server drops the connection once, 5 MB in
    with pytest.raises(DownloadError, match="run the download again to continue") as caught:
        download_model(RERANKER, endpoint=hub.url, attempts=1)
    assert "\n" not in str(caught.value)
    assert _nothing_installed()
    assert (partial_folder(RERANKER) / f"{MODEL_FILE}.part").stat().st_size == 5_000_000

    record = download_model(RERANKER, endpoint=hub.url, attempts=1)
    assert hub.ranges(ONNX_PATH) == [None, "bytes=5000000-"]
    assert record.files[MODEL_FILE].sha256 == hashlib.sha256(served[ONNX_PATH]).hexdigest()
    assert load_reranker(RERANKER, threads=1).score(QUERY, PASSAGES).shape == (2,)


def test_a_dropped_connection_is_resumed_within_one_call(hub) -> None:
    hub.drops[ONNX_PATH] = (3_000_000, 1)
    download_model(RERANKER, endpoint=hub.url)
    assert hub.ranges(ONNX_PATH) == [None, "bytes=3000000-"]
    assert is_installed(get_spec(RERANKER))


def test_cancel_keeps_what_arrived_and_the_next_call_resumes(hub) -> None:
    cancel = threading.Event()

    def progress(p) -> None:
        if p.file == MODEL_FILE and p.file_done >= 1_000_000:
            cancel.set()

    hub.chunk_delay = 0.002
    with pytest.raises(DownloadCancelled, match="cancelled"):
        download_model(RERANKER, endpoint=hub.url, progress=progress, cancel=cancel)
    assert _nothing_installed()
    kept = (partial_folder(RERANKER) / f"{MODEL_FILE}.part").stat().st_size
    assert kept >= 1_000_000
    hub.chunk_delay = 0.0
    download_model(RERANKER, endpoint=hub.url)
    assert hub.ranges(ONNX_PATH)[-1] == f"bytes={kept}-"
    assert is_installed(get_spec(RERANKER))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_gives_one_clear_sentence() -> None:
    with pytest.raises(DownloadError) as caught:
        download_model(RERANKER, endpoint=f"http://127.0.0.1:{_closed_port()}", timeout=5)
    message = str(caught.value)
    assert message.startswith("Memex could not connect to 127.0.0.1:") and "\n" not in message
    assert "memex models import" in message
    assert _nothing_installed()


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "MEMEX_OFFLINE"])
def test_offline_mode_makes_no_connection(hub, monkeypatch, variable) -> None:
    monkeypatch.setenv(variable, "1")
    with pytest.raises(OfflineError, match=f"offline mode \\({variable} is set\\)"):
        download_model(RERANKER, endpoint=hub.url)
    assert hub.requests == [] and _nothing_installed()


def test_a_catalogue_pin_is_enforced_before_anything_is_fetched(hub, served) -> None:
    spec = get_spec("ms-marco-TinyBERT-L-2-v2")
    hub.add_repo(spec.repo, {ONNX_PATH: served[ONNX_PATH], "tokenizer.json": served["tokenizer.json"]},
                 commit=spec.revision)
    with pytest.raises(ChecksumMismatch, match="than the one the catalogue pins"):
        download_model(spec.name, endpoint=hub.url)
    assert [r.method for r in hub.requests] == ["HEAD"] and _nothing_installed(spec.name)


def test_a_catalogue_pin_is_enforced_at_load(reranker_dir: Path) -> None:
    folder = installed_folder("ms-marco-TinyBERT-L-2-v2")
    folder.mkdir()
    for name in (MODEL_FILE, "tokenizer.json"):
        shutil.copyfile(reranker_dir / name, folder / name)
    with pytest.raises(ChecksumMismatch, match="pinned checksum"):  # placed by hand, no record
        resolve_reranker("ms-marco-TinyBERT-L-2-v2")
    files = {n: {"sha256": hashlib.sha256((folder / n).read_bytes()).hexdigest(), "size": (folder / n).stat().st_size}
             for n in (MODEL_FILE, "tokenizer.json")}
    record = {"format": 1, "name": folder.name, "kind": "reranker", "source": "hub", "files": files,
              "safety_checked": True}
    (folder / LOCK_FILE).write_text(json.dumps(record), encoding="utf-8")  # a record that agrees with the files
    with pytest.raises(ChecksumMismatch, match="not the one the catalogue pins"):
        resolve_reranker("ms-marco-TinyBERT-L-2-v2")


# -- an ONNX file whose tensor points outside its folder ---------------------------------------
def _pb(number: int, payload: bytes | int) -> bytes:
    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
            value >>= 7
            if not value:
                return bytes(out)

    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def _unsafe_onnx(location: str = "../../secret.bin") -> bytes:
    tensor = _pb(1, 4) + _pb(2, 1) + _pb(8, b"w") + _pb(13, _pb(1, b"location") + _pb(2, location.encode()))
    return _pb(1, 8) + _pb(7, _pb(5, tensor + _pb(14, 1)))


def test_a_model_reading_files_outside_its_folder_is_not_installed(hub, served) -> None:
    hub.repos[REPO].files[ONNX_PATH] = _unsafe_onnx()
    with pytest.raises(UnsafeModel, match="outside|leaves the model's folder"):
        download_model(RERANKER, endpoint=hub.url)
    assert _nothing_installed() and not partial_folder(RERANKER).exists()


# -- the catalogue ------------------------------------------------------------------------------
LICENCES = {"Apache-2.0", "MIT"}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
HEX40 = re.compile(r"^[0-9a-f]{40}$")


def test_the_catalogue_is_complete_and_well_formed() -> None:
    specs = catalogue()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    embedders = {s.name for s in specs if s.kind == "embedder"}
    rerankers = {s.name for s in specs if s.kind == "reranker"}
    assert {"all-MiniLM-L6-v2-int8", "bge-small-en-v1.5", "multilingual-e5-small"} <= embedders
    assert len(embedders) >= 4
    assert rerankers == {"ms-marco-MiniLM-L-6-v2", "ms-marco-TinyBERT-L-2-v2", "jina-reranker-v1-tiny-en",
                         "bge-reranker-base"}
    e5 = get_spec("multilingual-e5-small")
    assert (e5.query_prefix, e5.passage_prefix) == ("query: ", "passage: ")
    for s in specs:
        assert s.kind in ("embedder", "reranker") and s.source in ("pypi", "hub"), s.name
        assert s.license in LICENCES and s.description, s.name
        assert 128 <= s.max_tokens <= 8192, s.name
        if s.kind == "embedder":
            assert s.dim == 384 and s.pooling in ("mean", "cls") and s.normalize, s.name
        else:
            assert s.dim is None and s.pooling is None and not s.query_prefix and not s.passage_prefix, s.name
        if s.source == "pypi":
            assert s.package and HEX64.match(s.sha256 or "") and s.size, s.name
            continue
        assert re.match(r"^[\w.-]+/[\w.-]+$", s.repo or ""), s.name
        assert s.revision is None or HEX40.match(s.revision), s.name
        locals_ = [f.local for f in s.files]
        assert locals_[:2] == [MODEL_FILE, "tokenizer.json"] and s.tokenizer == "tokenizer.json", s.name
        for f in s.files:
            assert f.path.endswith(".onnx") == (f.local == MODEL_FILE), s.name
            assert f.sha256 is None or HEX64.match(f.sha256), (s.name, f.local)
            assert f.size is None or f.size > 0, (s.name, f.local)
        sizes = [f.size for f in s.files]
        assert s.size == (None if None in sizes else sum(sizes)), s.name
        if s.revision is not None:  # a pinned revision comes with pinned files
            assert all(f.sha256 for f in s.files), s.name


# -- memex models ------------------------------------------------------------------------------
def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _row(capsys, name: str) -> dict:
    code, out, _ = _run(capsys, "models", "list", "--json")
    assert code == 0
    return next(r for r in json.loads(out) if r["name"] == name)


def test_cli_list_download_use_and_remove(hub, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    row = _row(capsys, RERANKER)
    assert (row["kind"], row["installed"], row["in_use"], row["license"]) == ("reranker", False, [], "MIT")
    default = _row(capsys, "all-MiniLM-L6-v2-int8")
    assert default["installed"] and default["in_use"] == ["embedder setting"]
    code, out, _ = _run(capsys, "models", "list")
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "KIND", "SIZE", "INSTALLED", "IN", "USE", "LICENCE"]

    code, out, err = _run(capsys, "models", "download", RERANKER)
    assert code == 0 and out.startswith(f"Installed {RERANKER} (23 MB, commit ") and err == ""
    assert _row(capsys, RERANKER)["installed"]

    code, out, _ = _run(capsys, "models", "use", RERANKER)
    assert code == 0 and config.Settings.load().reranker == RERANKER
    assert _row(capsys, RERANKER)["in_use"] == ["reranker setting"]
    code, _, err = _run(capsys, "models", "remove", RERANKER)
    assert code == 1 and "in use (reranker setting)" in err and installed_folder(RERANKER).is_dir()

    assert _run(capsys, "models", "use", "none")[0] == 0 and config.Settings.load().reranker is None
    code, out, _ = _run(capsys, "models", "remove", RERANKER, "--json")
    assert code == 0 and json.loads(out)["removed"] == RERANKER and _nothing_installed()
    code, _, err = _run(capsys, "models", "remove", RERANKER)
    assert code == 1 and "not installed" in err
    code, _, err = _run(capsys, "models", "remove", "all-MiniLM-L6-v2-int8")
    assert code == 1 and "installed with Memex" in err


def test_cli_download_failures_are_one_line(hub, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    code, _, err = _run(capsys, "models", "download", RERANKER)
    assert code == 1 and err.count("\n") == 1 and err.startswith("memex: Memex could not connect")
    code, _, err = _run(capsys, "models", "download", "no-such-model")
    assert code == 1 and "No model named 'no-such-model'" in err
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    hub.drops[ONNX_PATH] = (1_000_000, 3)  # each response stops after 1 MB: more drops than one call retries
    code, _, err = _run(capsys, "models", "download", RERANKER)
    assert code == 1 and "run the download again" in err
    assert hub.ranges(ONNX_PATH) == [None, "bytes=1000000-", "bytes=2000000-"]
    code, _, _ = _run(capsys, "models", "download", RERANKER)  # the re-run resumes and finishes
    assert code == 0 and hub.ranges(ONNX_PATH)[-1] == "bytes=3000000-" and is_installed(get_spec(RERANKER))


def _model_folder(dst: Path) -> Path:
    """A copy of the default int8 embedder as a user's model folder."""
    model = resolve_embedder(None)
    dst.mkdir(parents=True)
    shutil.copyfile(model.onnx_path, dst / MODEL_FILE)
    shutil.copyfile(model.tokenizer_path, dst / "tokenizer.json")
    (dst / "memex-model.json").write_text(json.dumps({"max_tokens": 256, "dim": 384}), encoding="utf-8")
    return dst


def test_cli_import_records_checksums_and_the_model_loads(tmp_path, capsys, embedder) -> None:
    source = _model_folder(tmp_path / "minilm-copy")
    code, out, _ = _run(capsys, "models", "import", str(source), "--name", "my-minilm")
    assert code == 0 and "Imported my-minilm (embedder)" in out
    folder = installed_folder("my-minilm")
    record = read_record(folder)
    assert record.source == "import" and record.origin == str(source.resolve())
    assert record.files[MODEL_FILE].sha256 == resolve_embedder(None).sha256
    assert set(record.files) == {MODEL_FILE, "tokenizer.json", "memex-model.json"}

    model = load_embedder("my-minilm", threads=1)
    assert model.model_id == f"local:my-minilm:{record.files[MODEL_FILE].sha256[:12]}"
    # The same model: the default runs from its optimised int8 copy, the imported file as it is.
    assert float(model.embed_query(QUERY) @ embedder.embed_query(QUERY)) >= 0.995
    row = _row(capsys, "my-minilm")
    assert (row["kind"], row["source"], row["installed"]) == ("embedder", "import", True)
    with pytest.raises(ModelError, match="is an embedder, not a reranker"):
        resolve_reranker("my-minilm")

    settings = config.Settings.load()
    settings.with_changes(embedder="my-minilm").save()
    code, _, err = _run(capsys, "models", "remove", "my-minilm")
    assert code == 1 and "in use (embedder setting)" in err
    settings.with_changes(embedder=None).save()
    assert _run(capsys, "models", "remove", "my-minilm")[0] == 0 and not folder.exists()


def test_cli_import_refuses_bad_folders(tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "models", "import", str(empty))
    assert code == 1 and "needs model.onnx and tokenizer.json" in err
    unsafe = tmp_path / "unsafe"
    unsafe.mkdir()
    (unsafe / MODEL_FILE).write_bytes(_unsafe_onnx())
    (unsafe / "tokenizer.json").write_text("{}", encoding="utf-8")
    code, _, err = _run(capsys, "models", "import", str(unsafe))
    assert code == 1 and "will not load the model" in err and not installed_folder("unsafe").exists()
    assert not any((config.models_dir() / ".partial").glob("*"))
    code, _, err = _run(capsys, "models", "import", str(unsafe), "--name", "bge-small-en-v1.5")
    assert code == 1 and "catalogue model" in err
    code, _, err = _run(capsys, "models", "import", str(unsafe), "--name", "../escape")
    assert code == 1 and "cannot name a model" in err
