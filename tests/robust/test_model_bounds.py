"""Model folders and downloads are hostile input: nothing is read past a size a real file of its
kind could have, nothing past what a server declared reaches the disk, and nothing is read or
copied through a link that leaves a model folder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.cli.main import main
from memex.core.cli.models import import_model
from memex.core.errors import ModelError
from memex.core.models.catalogue import HubFile, ModelSpec, installed_folder
from memex.core.models.download import DownloadError, download_model, partial_folder
from memex.core.models.embedding import load_tokenizer
from memex.core.models.lock import LOCK_FILE, read_record
from memex.core.models.resolve import resolve_embedder, resolve_reranker
from memex.core.models.safety import UnsafeModel
from memex_bench.promise_models import padded_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from hubserver import FakeHub  # noqa: E402

REPO = "Xenova/bge-reranker-base"
ONNX_PATH = "onnx/model_quantized.onnx"
MODEL = b"\x08\x08\x3a\x00"  # a ModelProto: ir_version 8, an empty graph
MIB = 1 << 20
TOKENIZER_MAX, SETTINGS_MAX, ONNX_MAX = 32 * MIB, MIB, 2048 * MIB  # the caps model_safety documents
BUNDLED_TOKENIZER = Path(__file__).resolve().parents[2] / "resources" / "models" / "bert-uncased-tokenizer.json"
# Loads a tokenizer in a fresh process; prints the error, seconds and how far peak memory grew (MiB).
LOAD_TOKENIZER = """
import json, pathlib, sys, time
from memex.core.models.embedding import load_tokenizer
status = pathlib.Path("/proc/self/status")
def kib(field):
    return next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith(field + ":"))
pathlib.Path("/proc/self/clear_refs").write_text("5")  # peak memory starts again from here
before, start, error = kib("VmRSS"), time.perf_counter(), ""
try:
    load_tokenizer(sys.argv[1])
except Exception as exc:
    error = str(exc)
print(json.dumps({"error": error, "seconds": time.perf_counter() - start, "grew_mib": (kib("VmHWM") - before) / 1024}))
"""


# --- downloads -----------------------------------------------------------------------------------


@pytest.fixture
def hub(reranker_dir: Path):
    server = FakeHub().start()
    server.add_repo(REPO, {ONNX_PATH: (reranker_dir / "model.onnx").read_bytes(),
                           "tokenizer.json": (reranker_dir / "tokenizer.json").read_bytes()})
    yield server
    server.stop()


class Written:
    """The most bytes of each file the download reported as written to disk."""

    def __init__(self) -> None:
        self.most: dict[str, int] = {}

    def __call__(self, p) -> None:
        self.most[p.file] = max(self.most.get(p.file, 0), p.file_done)


def _spec(**sizes: int) -> ModelSpec:
    """bge-reranker-base's repository, with catalogue sizes where given."""
    return ModelSpec(name="bounded-reranker", kind="reranker", source="hub", repo=REPO,
                     files=(HubFile("model.onnx", ONNX_PATH, size=sizes.get("onnx")),
                            HubFile("tokenizer.json", "tokenizer.json", size=sizes.get("tokenizer"))))


def _refused(spec: ModelSpec, hub: FakeHub, written: Written) -> str:
    with pytest.raises(DownloadError) as caught:
        download_model(spec, endpoint=hub.url, progress=written)
    message = str(caught.value)
    assert "\n" not in message and "more than" in message
    assert not installed_folder(spec.name).exists()
    assert not list(partial_folder(spec.name).glob("*.part"))  # what came was deleted
    return message


def test_a_server_declaring_100_bytes_and_sending_more_writes_at_most_100(hub) -> None:
    hub.declared["tokenizer.json"] = 100
    hub.no_length.add("tokenizer.json")  # the body goes on until the connection closes
    hub.corrupt["tokenizer.json"] = b"x" * (28 << 20)
    written = Written()
    message = _refused(_spec(), hub, written)
    assert written.most["tokenizer.json"] == 100 and "100 bytes set by the Hub" in message


def test_a_content_length_over_the_declared_size_is_refused_before_writing(hub) -> None:
    hub.declared["tokenizer.json"] = 100  # HEAD says 100; the GET announces the whole file
    written = Written()
    _refused(_spec(), hub, written)
    assert written.most.get("tokenizer.json", 0) == 0
    assert hub.ranges("tokenizer.json") == [None]


def test_a_file_with_no_declared_size_stops_at_the_cap_for_its_kind(hub) -> None:
    hub.no_length.add("tokenizer.json")
    hub.corrupt["tokenizer.json"] = b"y" * (TOKENIZER_MAX + (4 << 20))
    written = Written()
    message = _refused(_spec(), hub, written)
    assert written.most["tokenizer.json"] == TOKENIZER_MAX and "32 MiB set by Memex's limit" in message


def test_the_catalogue_size_bounds_a_server_that_declares_none(hub) -> None:
    real = len(hub.repos[REPO].files["tokenizer.json"])
    hub.no_length.add("tokenizer.json")
    hub.corrupt["tokenizer.json"] = hub.repos[REPO].files["tokenizer.json"] * 3
    written = Written()
    message = _refused(_spec(tokenizer=real), hub, written)
    assert written.most["tokenizer.json"] == real and "set by the catalogue" in message


def test_a_hub_reporting_an_oversized_tokenizer_is_refused_before_any_byte(hub) -> None:
    hub.declared["tokenizer.json"] = 40 << 20
    with pytest.raises(DownloadError, match="more than the 32 MiB Memex accepts"):
        download_model(_spec(), endpoint=hub.url)
    assert hub.ranges("tokenizer.json") == []


def test_an_honest_server_without_sizes_still_installs(hub) -> None:
    hub.no_length.update({"tokenizer.json", ONNX_PATH})
    record = download_model(_spec(), endpoint=hub.url)
    assert record.files["tokenizer.json"].size == len(hub.repos[REPO].files["tokenizer.json"])
    installed = installed_folder("bounded-reranker")
    assert (installed / "tokenizer.json").read_bytes() == hub.repos[REPO].files["tokenizer.json"]


# --- model folders -------------------------------------------------------------------------------


def _folder(root: Path, name: str = "model", tokenizer: bytes | None = None) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "model.onnx").write_bytes(MODEL)
    (folder / "tokenizer.json").write_bytes(tokenizer or _bert_tokenizer())
    return folder


def _bert_tokenizer() -> bytes:
    return BUNDLED_TOKENIZER.read_bytes()


def _sparse(path: Path, size: int) -> Path:
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


@pytest.mark.parametrize(("name", "size"), [("tokenizer.json", TOKENIZER_MAX + 1), ("model.onnx", ONNX_MAX + 1),
                                            ("config.json", SETTINGS_MAX + 1), ("memex-model.json", 64 << 20),
                                            ("1_Pooling/config.json", 8 << 20)])
def test_an_oversized_file_in_a_model_folder_is_refused_unread(tmp_path: Path, name: str, size: int) -> None:
    folder = _folder(tmp_path)
    (folder / name).parent.mkdir(exist_ok=True)
    _sparse(folder / name, size)
    with pytest.raises(UnsafeModel) as caught:
        resolve_embedder(str(folder))
    assert "\n" not in str(caught.value) and "Memex accepts for a" in str(caught.value)
    assert Path(name).name in str(caught.value)


def test_a_real_40_mb_tokenizer_is_refused_fast_and_without_memory(tmp_path: Path, shared_dir: Path) -> None:
    big = padded_tokenizer(shared_dir / "models" / "all-MiniLM-L6-v2" / "tokenizer.json",
                            tmp_path / "tokenizer.json", 40_000_000)
    assert 38_000_000 < big.stat().st_size < 42_000_000
    done = subprocess.run([sys.executable, "-c", LOAD_TOKENIZER, str(big)], capture_output=True, text=True,
                          timeout=120, check=True)
    result = json.loads(done.stdout.splitlines()[-1])
    assert "more than the 32 MiB Memex accepts for a tokenizer.json" in result["error"]
    assert result["grew_mib"] < 16 and result["seconds"] < 1.0  # parsing it took ~420 MiB and 2-3 s


def test_files_growing_past_their_cap_while_read_are_cut_off(tmp_path: Path) -> None:
    from memex.core.models.safety import read_bounded

    path = tmp_path / "config.json"
    path.write_bytes(b"{}" + b" " * 100)
    assert read_bounded(path, 102) == b"{}" + b" " * 100
    with pytest.raises(UnsafeModel):
        read_bounded(path, 101)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeModel, match="not a regular file"):
        read_bounded(tmp_path / "fifo", 100)  # refused without waiting for a writer


def test_a_fifo_in_place_of_a_tokenizer_is_refused_without_hanging(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "tokenizer.json").unlink()
    os.mkfifo(folder / "tokenizer.json")
    with pytest.raises(ModelError):
        resolve_embedder(str(folder))
    # In a child process: opening a FIFO to read blocks (holding the interpreter) until a writer comes.
    code = "import sys; from memex.core.models.embedding import load_tokenizer; load_tokenizer(sys.argv[1])"
    try:
        done = subprocess.run([sys.executable, "-c", code, str(folder / "tokenizer.json")], capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("loading a FIFO as a tokenizer blocked waiting for a writer")
    assert done.returncode != 0 and "is not a regular file" in done.stderr


def test_an_oversized_install_record_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _sparse(folder / LOCK_FILE, 16 << 20)
    with pytest.raises(ModelError, match="Memex accepts"):
        read_record(folder)


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "config.json", "memex-model.json"])
def test_a_model_folder_linking_outside_is_refused(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_bytes(MODEL if name == "model.onnx" else _bert_tokenizer() if name == "tokenizer.json" else b"{}")
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(outside)
    for resolve in (resolve_embedder, resolve_reranker):
        with pytest.raises(UnsafeModel, match="link outside the folder"):
            resolve(str(folder))


def test_links_inside_the_folder_are_fine(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "files").mkdir()
    os.replace(folder / "tokenizer.json", folder / "files" / "tokenizer.json")
    (folder / "tokenizer.json").symlink_to("files/tokenizer.json")
    (folder / "files" / "settings.json").write_text('{"max_tokens": 128}', encoding="utf-8")
    (folder / "memex-model.json").symlink_to(folder / "files" / "settings.json")
    model = resolve_embedder(str(folder))
    assert model.max_tokens == 128 and load_tokenizer(model.tokenizer_path).token_to_id("[PAD]") == 0
    target = import_model(folder, "linked-inside", "embedder")
    assert (target / "tokenizer.json").read_bytes() == _bert_tokenizer()
    assert not (target / "tokenizer.json").is_symlink()



def test_a_hugging_face_cache_snapshot_is_read_but_not_beyond_its_repository(tmp_path: Path) -> None:
    """A snapshot's files are links into the repository's ``blobs/``: inside what was given.
    A link from the snapshot to another repository, or out of the cache, is still refused."""
    repo = tmp_path / "hub" / "models--org--minilm"
    snapshot = repo / "snapshots" / "0123abcd"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name, data in (("model.onnx", MODEL), ("tokenizer.json", _bert_tokenizer())):
        blob = repo / "blobs" / name.replace(".", "-")
        blob.write_bytes(data)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    assert resolve_embedder(str(snapshot)).tokenizer_path.resolve().parent == repo / "blobs"

    other = tmp_path / "hub" / "models--org--other" / "blobs"
    other.mkdir(parents=True)
    (other / "tok").write_bytes(_bert_tokenizer())
    (snapshot / "tokenizer.json").unlink()
    (snapshot / "tokenizer.json").symlink_to(os.path.relpath(other / "tok", snapshot))
    with pytest.raises(UnsafeModel, match="link outside the folder"):
        resolve_embedder(str(snapshot))

# --- import --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tokenizer.json", "model.onnx", "config.json", "special_tokens_map.json",
                                  "1_Pooling"])
def test_import_refuses_links_leaving_the_folder_and_copies_nothing(tmp_path: Path, name: str, capsys) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "config.json").write_text('{"secret": "do not copy"}', encoding="utf-8")
    (secret / "config.json").chmod(0o640)
    folder = _folder(tmp_path)
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(secret if name == "1_Pooling" else secret / "config.json")
    code = main(["models", "import", str(folder), "--name", "hostile"])
    err = capsys.readouterr().err
    assert code == 1 and "link outside the folder" in err and len(err.strip().splitlines()) == 1
    models = installed_folder("hostile").parent
    assert not installed_folder("hostile").exists()
    assert not any(b"do not copy" in p.read_bytes() for p in models.rglob("*") if p.is_file())


def test_import_never_widens_permissions(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "tokenizer.json").chmod(0o640)
    (folder / "model.onnx").chmod(0o755)
    (folder / "config.json").write_text('{"max_position_embeddings": 256}', encoding="utf-8")
    (folder / "config.json").chmod(0o600)
    target = import_model(folder, "modes", "embedder")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in target.iterdir() if p.name != LOCK_FILE}
    assert modes == {"tokenizer.json": 0o640 & ~_umask(), "model.onnx": 0o644 & ~_umask(),
                     "config.json": 0o600 & ~_umask()}
    assert resolve_embedder("modes").max_tokens == 256  # the copy is a working model


def test_import_refuses_an_oversized_tokenizer_before_copying(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _sparse(folder / "tokenizer.json", TOKENIZER_MAX + 1)
    with pytest.raises(UnsafeModel, match="32 MiB Memex accepts for a tokenizer.json"):
        import_model(folder, "big", "embedder")
    assert not installed_folder("big").exists()
    assert not any(p.is_file() for p in installed_folder("big").parent.rglob("*"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
