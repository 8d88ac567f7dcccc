"""What a person can get wrong gets one sentence, never "unexpected error": arguments that are
not UTF-8, values out of range, a reader that stops early, a full disk, a read-only library,
bad settings, a bad memex-model.json; and a model's name stays a name."""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import apsw
import pytest
from memex.core import config
from memex.core.cli.main import main
from memex.core.config import Settings
from memex.core.errors import MemexError, ModelError


def memex(*args: str | bytes, cwd: Path, stdout=subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MEMEX_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "memex.core", *args], cwd=cwd, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=300)


def one_sentence(err: str) -> str:
    assert "unexpected" not in err and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("memex"), err
    return lines[-1]


# -- arguments ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "named"), [
    (["search", "hel\udcfflo"], "The query"),
    (["search", "hello", "--folder", "/tmp/\udcff"], "--folder"),
    (["search", "hello", "--library", "LIB"], "--library"),
    (["status", "--library=LIB"], "--library"),
    (["remove", "/tmp/x\udcfe"], "The path"),
    (["index", "/tmp/\udcff"], "A path"),
    (["models", "use", "\udcff", "--yes"], "The model name"),
])
def test_arguments_that_are_not_utf8_are_refused_up_front(argv: list[str], named: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    library = str(tmp_path / "lib\udcff.db")
    argv = [library if a == "LIB" else a.replace("LIB", library) for a in argv]
    assert main(argv) == 2
    line = one_sentence(capsys.readouterr().err)
    assert line.startswith(f"memex: {named} is not valid UTF-8 text: ") and "\\x" in line
    assert os.listdir(tmp_path) == []  # refused before anything was opened (no .open-PID mark)


def test_undecodable_bytes_from_a_real_command_line(tmp_path: Path) -> None:
    run = memex("search", b"caf\xe9", "--mode", "hybrid", cwd=tmp_path)  # Latin-1 bytes in a UTF-8 world
    assert run.returncode == 2
    assert one_sentence(run.stderr.decode()) == ("memex: The query is not valid UTF-8 text: caf\\xe9. Memex "
                                                 "reads names, paths and queries only as UTF-8; rename the "
                                                 "file or folder, or type it again.")


@pytest.mark.parametrize("argv", [
    ["search", "x", "--k", "0"], ["search", "x", "--k", "-1"], ["search", "x", "--k", "99999999999"],
    ["search", "x", "--k", "ten"],
    ["eval", "dir", "--lexical-weight", "7"], ["eval", "dir", "--lexical-weight", "nan"],
    ["bench", "latency", "--sizes", "abc"], ["bench", "robustness", "--rounds", "-3"],
])
def test_option_values_out_of_range_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument" in err and "\x1b" not in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "said"), [
    (["search", "x", "--type", "bogus\x1b[2J"], "--type 'bogus\\x1b[2J' is not a file type Memex indexes; known"),
    (["search", "x", "--after", "2024-13-45"], "--after '2024-13-45' is not a date; use YYYY-MM-DD"),
])
def test_filter_values_that_mean_nothing_are_one_line_usage_errors(argv: list[str], said: str,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert one_sentence(err).startswith(f"memex: {said}") and "\x1b" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv", "said"), [
    (["search", "x", "--after", "2025-01-01", "--before", "2024-01-01"], "--after must be an earlier date"),
    (["search", "x", "--after", "2024-01-01", "--before", "2024-01-01"], "--after must be an earlier date"),
    (["search", " \t\x01\x1b \u200b "], "The query is empty"),
    (["search", ""], "The query is empty"),
])
def test_searches_that_cannot_match_say_why(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert one_sentence(capsys.readouterr().err).startswith(f"memex: {said}")


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("alpha beta\n", encoding="utf-8")
    assert memex("index", str(tmp_path / "docs"), cwd=tmp_path).returncode == 0
    read, write = os.pipe()
    os.close(read)  # the reader is gone before memex writes a byte (like `| head` that finished)
    try:
        run = memex("search", "alpha", "--mode", "bm25", cwd=tmp_path, stdout=write)
    finally:
        os.close(write)
    assert run.returncode == 141 and run.stderr == b""


# -- the disk, the library file ---------------------------------------------------------------------
def test_output_to_a_full_disk_is_a_sentence(tmp_path: Path) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "wb") as full:
        run = memex("status", cwd=tmp_path, stdout=full)
    assert run.returncode == 1
    assert one_sentence(run.stderr.decode()).startswith("memex: The disk is full")


def _write_until_full(path: Path) -> apsw.FullError:
    conn = apsw.Connection(str(path))
    try:
        conn.execute("PRAGMA max_page_count = 3").fetchall()  # a real SQLITE_FULL, as on a full disk
        conn.execute("CREATE TABLE t(x)")
        with pytest.raises(apsw.FullError) as caught:
            for _ in range(100):
                conn.execute("INSERT INTO t VALUES (randomblob(4000))")
        return caught.value
    finally:
        conn.close()


def test_sqlite_full_read_only_and_unopenable_are_sentences(tmp_path: Path) -> None:
    from memex.core.cli.failures import describe

    library = tmp_path / "lib.db"
    said = describe(_write_until_full(library), library)
    assert said == (f"The disk is full: the library at {library} cannot grow. Nothing was lost; free some "
                    "space and run the same command again.")
    reader = apsw.Connection(str(library), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        with pytest.raises(apsw.ReadOnlyError) as read_only:
            reader.execute("INSERT INTO t VALUES (1)")
    finally:
        reader.close()
    assert describe(read_only.value, library).startswith(f"The library at {library} cannot be written")
    with pytest.raises(apsw.CantOpenError) as cant_open:
        apsw.Connection(str(tmp_path / "no" / "such" / "lib.db"))
    assert describe(cant_open.value, library).startswith(f"The library at {library} cannot be opened")
    wrapped = RuntimeError("worker failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))
    assert describe(wrapped, None).startswith(f"The disk is full while writing {tmp_path / 'x'}")
    assert describe(ValueError("a bug"), library) is None  # a real bug still says so


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 1.9 MB file system (tmpfs), grown later to 64 MB; skipped where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1900k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_while_indexing_is_a_sentence_and_the_next_run_finishes_exactly(
        tmp_path: Path, small_disk: Path) -> None:
    rng = random.Random(1)
    words = ["".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(3000)]
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"f{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(1000)), encoding="utf-8")
    library = small_disk / "lib.db"
    full = memex("index", str(docs), "--library", str(library), cwd=tmp_path)
    assert full.returncode == 1
    assert one_sentence(full.stderr.decode()) == (
        f"memex: The disk is full: the library at {library} cannot grow. Nothing was lost; free some space "
        "and run the same command again.")
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # space freed
    again = memex("index", str(docs), "--library", str(library), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    status = json.loads(memex("status", "--json", "--library", str(library), cwd=tmp_path).stdout)
    fresh = tmp_path / "fresh.db"  # the same folder indexed in one go on a roomy disk
    assert memex("index", str(docs), "--library", str(fresh), cwd=tmp_path).returncode == 0
    expected = json.loads(memex("status", "--json", "--library", str(fresh), cwd=tmp_path).stdout)
    assert (status["documents"], status["failed"]) == (6, 0)
    assert status["chunks"] == status["chunks_embedded"] == expected["chunks"] == expected["chunks_embedded"]


# -- settings -------------------------------------------------------------------------------------
BAD = {"fusion": "nonsense", "library": 123, "threads": "many", "ignore": "x", "lexical_weight": 7,
       "device": 1, "index_hidden": "yes", "extract_timeout_s": float("nan"), "chunk_tokens": 0,
       "embedder": ["a"], "semantic_floor": True}


def test_each_bad_setting_is_named_and_takes_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    path = Settings.path()
    path.write_text(json.dumps({**BAD, "chunk_overlap": 12, "reranker": None}), encoding="utf-8")
    settings, problems = Settings.load_checked()
    assert len(problems) == len(BAD)
    for key, problem in zip(BAD, problems, strict=True):
        assert problem.startswith(f'{path}: "{key}" is ') and "using the default" in problem
        assert getattr(settings, key) == getattr(Settings(), key)
    assert settings.chunk_overlap == 12  # the good keys are kept
    assert main(["status"]) == 0  # the command still runs
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("memex: warning: ")] == [f"memex: warning: {p}" for p in problems]


@pytest.mark.parametrize(("text", "said"), [
    ("{not json", "is not valid JSON (line 1"), ("[1, 2]", "must hold a JSON object"),
    ("\"x\"", "must hold a JSON object"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
])
def test_a_settings_file_that_is_not_a_json_object_is_named(text: str | bytes, said: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = Settings.path()
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    settings, problems = Settings.load_checked()
    assert settings == Settings() and len(problems) == 1
    assert problems[0].startswith(str(path)) and said in problems[0]
    assert main(["status"]) == 0
    assert f"memex: warning: {path}" in capsys.readouterr().err


def test_a_bad_value_is_never_saved() -> None:
    path = Settings.path()
    Settings(threads=2).save()
    before = path.read_bytes()
    for bad in (Settings(threads=-1), Settings(fusion="nonsense"), Settings(lexical_weight=7.0),
                Settings(ignore="x"), Settings(device="gpu"), Settings(library="a\0b")):  # type: ignore[arg-type]
        with pytest.raises(MemexError, match="not saved"):
            bad.save()
    assert path.read_bytes() == before


def test_the_settings_devices_are_the_runtime_devices() -> None:
    from memex.core.models.onnx_session import DEVICES

    assert set(config.DEVICES) == set(DEVICES)


# -- models ---------------------------------------------------------------------------------------
def _model_folder(tmp_path: Path, spec: object) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x08\x3a\x00")  # never loaded: the settings are refused first
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    (folder / "memex-model.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


@pytest.mark.parametrize(("spec", "key"), [
    ({"max_tokens": "many"}, "max_tokens"), ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": 1e9}, "max_tokens"),
    ({"dim": -3}, "dim"), ({"dim": True}, "dim"), ({"pooling": "max"}, "pooling"), ({"normalize": "yes"}, "normalize"),
    ({"query_prefix": 5}, "query_prefix"), ({"sha256": "abc"}, "sha256"), ([1, 2], None),
])
def test_memex_model_json_values_are_checked(tmp_path: Path, spec: object, key: str | None,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from memex.core.models.resolve import resolve_embedder

    folder = _model_folder(tmp_path, spec)
    wanted = f'"{key}" is' if key else "must hold a JSON object"
    with pytest.raises(ModelError, match=wanted) as caught:
        resolve_embedder(str(folder))
    assert str(caught.value).startswith(str(folder / "memex-model.json")) and "\n" not in str(caught.value)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("words to embed\n", encoding="utf-8")
    library = str(tmp_path / "lib.db")
    assert main(["index", str(tmp_path / "docs"), "--embedder", str(folder), "--library", library]) == 1
    assert one_sentence(capsys.readouterr().err) == f"memex: {caught.value}"


def test_model_names_are_names_and_paths_are_paths(tmp_path: Path) -> None:
    from memex.core.models.resolve import model_folder
    from memex.core.models.switch import setting_for

    for name in ("X", "all-MiniLM-L6-v2-int8", "my.model_v2"):
        assert model_folder(name) is None and setting_for(name) == name
    for path in ("./X", "../X", "..", ".", "~/models/X", "/abs/X", "a/b", "a\\b"):
        assert model_folder(path) is not None and Path(setting_for(path)).is_absolute()
    assert setting_for(None) is None and setting_for(" default ") is None


def test_an_imported_model_chosen_by_name_keeps_working_from_any_folder(
        tmp_path: Path, fp32_embedder_dir: Path) -> None:
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    (here / "docs").mkdir(parents=True)
    elsewhere.mkdir()
    (here / "docs" / "a.txt").write_text("The committee approved the telescope budget.\n", encoding="utf-8")
    assert memex("index", "docs", cwd=here).returncode == 0
    imported = memex("models", "import", str(fp32_embedder_dir), "--name", "X", cwd=here)
    assert imported.returncode == 0, imported.stderr
    used = memex("models", "use", "X", "--yes", cwd=here)
    assert used.returncode == 0, used.stderr
    assert Settings.load().embedder == "X"  # a name, not here/X
    found = memex("search", "telescope budget", "--k", "1", cwd=elsewhere)
    assert found.returncode == 0 and b"a.txt" in found.stdout, found.stderr
    assert b"local:X:" in memex("status", cwd=elsewhere).stdout
    missing = memex("models", "use", "./X", "--yes", cwd=elsewhere)  # a path: the folder is not here
    assert missing.returncode == 1
    assert "choose it by its name" in one_sentence(missing.stderr.decode())
    for name in ("all-MiniLM-L6-v2-int8", "a/b", "..", ".hidden"):
        refused = memex("models", "import", str(fp32_embedder_dir), "--name", name, cwd=here)
        assert refused.returncode == 1 and one_sentence(refused.stderr.decode())


def test_the_window_switch_by_name_saves_the_name(tmp_path: Path, fp32_embedder_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's switch goes through Library.switch_embedder with the chosen name."""
    from memex.core.cli.models import import_model
    from memex.core.library import Library

    import_model(fp32_embedder_dir, "Y", "embedder")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Sourdough bread rises overnight.\n", encoding="utf-8")
    with Library.open(tmp_path / "lib.db", reranker=False) as lib:
        lib.index([tmp_path / "docs"])
        result = lib.switch_embedder("Y")
        assert result.switched and result.settings_saved
        assert lib.settings.embedder == "Y"
    assert Settings.load().embedder == "Y"
    monkeypatch.chdir(tmp_path / "docs")
    with Library.open(tmp_path / "lib.db", reranker=False) as lib:
        assert [Path(h.path).name for h in lib.search("bread", k=1)] == ["a.txt"]
