"""``memex models``: list, download, remove, import and choose models."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..errors import MemexError, ModelError
from . import output
from .models_use import add_use_arguments, run_use
from .output import say

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
COPIED_EXTRAS = ("config.json", "sentence_bert_config.json", "special_tokens_map.json", "tokenizer_config.json",
                 "memex-model.json", "1_Pooling/config.json")


def add_models_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser,
                      scripted: argparse.ArgumentParser) -> None:
    """Register ``memex models …`` on the top-level subcommands. ``common`` (``--library``,
    ``--json``) goes to the actions that read a library (what is in use, switching);
    ``scripted`` (``--json`` alone) to those that only touch the models folder."""
    models = sub.add_parser("models", help="list, download, remove, import and choose models")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="catalogue and installed models")
    p = actions.add_parser("download", parents=[scripted], help="download a catalogue model from the Hugging Face Hub")
    p.add_argument("name", metavar="NAME", help="a catalogue model's name (see: memex models list)")
    p.add_argument("--force", action="store_true", help="download again even when installed")
    p = actions.add_parser("remove", parents=[common], help="delete a downloaded or imported model")
    p.add_argument("name", metavar="NAME", help="the model's name (see: memex models list)")
    p = actions.add_parser("import", parents=[scripted], help="add a local folder with model.onnx and tokenizer.json")
    p.add_argument("folder", metavar="FOLDER", help="the folder holding model.onnx and tokenizer.json")
    p.add_argument("--name", help="name to give it (default: the folder's name)")
    p.add_argument("--kind", choices=["embedder", "reranker"], default="embedder",
                   help="what the model does (default: embedder)")
    p = actions.add_parser("use", parents=[common], conflict_handler="resolve",
                           help="choose the reranker (or switch the library's embedder)")
    add_use_arguments(p)
    if not any(a.dest == "name" for a in p._actions):
        p.add_argument("name", metavar="NAME", help='a model name; "none" turns reranking off')
    if "--yes" not in p._option_string_actions:
        p.add_argument("--yes", action="store_true", help="do not ask before downloading or switching")
    if "--kind" not in p._option_string_actions:
        p.add_argument("--kind", choices=["embedder", "reranker"], help="default: the model's own kind")


def cmd_models(args: argparse.Namespace) -> int:
    return {"list": cmd_list, "download": cmd_download, "remove": cmd_remove, "import": cmd_import,
            "use": cmd_use}[args.models_command](args)


# -- what is in use -----------------------------------------------------------------------
@dataclass(frozen=True)
class Usage:
    embedder: str  # the embedder setting ("all-MiniLM-L6-v2-int8" for the default)
    reranker: str | None
    library: frozenset[str]  # model ids / specs of the library's vectors

    def reasons(self, name: str) -> list[str]:
        found = []
        if self.embedder == name:
            found.append("embedder setting")
        if self.reranker == name:
            found.append("reranker setting")
        if any(m == name or m.startswith(f"local:{name}:") for m in self.library):
            found.append("library vectors")
        return found


def library_models(path: Path) -> frozenset[str]:
    """Model ids (and specs) of the vectors in the library at ``path``; empty if it has none."""
    if not path.is_file():
        return frozenset()
    from ..store import open_connection
    from ..store.vectors import active_space, pending_space

    try:
        conn = open_connection(path, readonly=True)
    except MemexError:
        return frozenset()
    try:
        spaces = [active_space(conn), pending_space(conn)]
    except Exception:  # an old or foreign file: nothing in use there
        spaces = []
    finally:
        conn.close()
    return frozenset(v for s in spaces if s is not None for v in (s.model_id, s.spec) if v)


def usage(args: argparse.Namespace) -> Usage:
    from ..models.catalogue import DEFAULT_EMBEDDER

    settings = config.Settings.load()
    path = Path(args.library or settings.library or config.default_library_path()).expanduser()
    embedder = settings.embedder if settings.embedder not in (None, "", "default") else DEFAULT_EMBEDDER
    return Usage(embedder, settings.reranker or None, library_models(path))


# -- list ---------------------------------------------------------------------------------
def model_rows(args: argparse.Namespace) -> list[dict]:
    from ..models.catalogue import catalogue, imported_models, installed_folder, is_installed
    from ..models.download import partial_bytes

    used = usage(args)
    rows = []
    for spec in catalogue():
        installed = is_installed(spec)
        size = spec.size
        if installed and spec.source != "pypi":
            size = sum(p.stat().st_size for p in installed_folder(spec.name).iterdir() if p.is_file())
        rows.append({"name": spec.name, "kind": spec.kind, "source": spec.source, "size": size,
                     "installed": installed, "partial": 0 if installed else partial_bytes(spec.name),
                     "in_use": used.reasons(spec.name), "license": spec.license, "dim": spec.dim,
                     "description": spec.description})
    for spec, record in imported_models():
        rows.append({"name": spec.name, "kind": spec.kind, "source": "import", "size": record.size,
                     "installed": True, "partial": 0, "in_use": used.reasons(spec.name), "license": None,
                     "dim": None, "description": spec.description})
    return rows


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


def cmd_list(args: argparse.Namespace) -> int:
    rows = model_rows(args)
    if args.json:
        print(output.to_json(rows))
        return 0
    say(f"{'NAME':<26} {'KIND':<9} {'SIZE':>7}  {'INSTALLED':<14} {'IN USE':<17} LICENCE")
    for r in rows:
        state = "yes" if r["installed"] else f"partly ({_mb(r['partial'])})" if r["partial"] else "no"
        say(f"{r['name']:<26} {r['kind']:<9} {_mb(r['size']):>7}  {state:<14} "
              f"{', '.join(r['in_use']) or '-':<17} {r['license'] or '-'}")
    return 0


# -- download -----------------------------------------------------------------------------
class ProgressLine:
    """One updating line on stderr (only on a terminal), at most ten times a second."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.show = stream.isatty()
        self._last = 0.0

    def __call__(self, p) -> None:
        now = time.monotonic()
        if not self.show or (now - self._last < 0.1 and p.done != p.total):
            return
        self._last = now
        total = f"/{p.total / 1e6:.1f} MB" if p.total else " MB"
        percent = f" {100 * p.done / p.total:3.0f}%" if p.total else ""
        width = 24
        bar = ""
        if p.total:
            filled = int(width * p.done / p.total)
            bar = "[" + "#" * filled + "." * (width - filled) + "] "
        output.progress_line(f"{bar}{p.done / 1e6:.1f}{total}{percent}  {p.model}: {p.file}", self.stream)

    def clear(self) -> None:
        if self.show:
            output.clear_progress(self.stream)


def download(name: str, *, force: bool = False, quiet: bool = False):
    """Download on a worker thread so Ctrl-C can cancel it cleanly (partial files are kept)."""
    from ..models.download import download_model

    line = ProgressLine()
    if quiet:
        line.show = False
    cancel = threading.Event()
    result: dict = {}

    def work() -> None:
        try:
            result["record"] = download_model(name, progress=line, cancel=cancel, force=force)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            result["error"] = exc

    worker = threading.Thread(target=work, name="memex-download", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except KeyboardInterrupt:
        cancel.set()
        worker.join()
        line.clear()
        raise
    line.clear()
    if "error" in result:
        raise result["error"]
    return result["record"]


def cmd_download(args: argparse.Namespace) -> int:
    try:
        record = download(args.name, force=args.force, quiet=args.json)
    except KeyboardInterrupt:
        say(f"memex: download of {args.name} cancelled; run the same command again to continue.", err=True)
        return 130
    if args.json:
        print(output.to_json({"name": record.name, "commit": record.commit, "size": record.size,
                              "files": {k: v.sha256 for k, v in record.files.items()}}))
    else:
        say(f"Installed {record.name} ({_mb(record.size)}"
            + (f", commit {record.commit[:12]}" if record.commit else "") + ").")
    return 0


# -- remove -------------------------------------------------------------------------------
def cmd_remove(args: argparse.Namespace) -> int:
    from ..models.catalogue import get_spec, installed_folder
    from ..models.download import discard_partial, partial_bytes
    from ..models.lock import read_record

    name = args.name.strip()
    spec = get_spec(name)
    if spec is not None and spec.source == "pypi":
        raise ModelError(f"{name} is installed with Memex and cannot be removed.")
    if not _NAME.match(name):
        raise ModelError(f"{name!r} is not a model name (see: memex models list).")
    folder = installed_folder(name)
    known = spec is not None or (folder.is_dir() and read_record(folder) is not None)
    if not known:
        raise ModelError(f"No model named {name!r} is installed (see: memex models list).")
    reasons = usage(args).reasons(name)
    if reasons:
        raise ModelError(f"{name} is in use ({', '.join(reasons)}); choose another model before removing it.")
    freed = partial_bytes(name)
    discard_partial(name)
    if folder.is_dir():
        freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
    elif not freed:
        raise ModelError(f"{name} is not installed.")
    if args.json:
        print(output.to_json({"removed": name, "bytes": freed}))
    else:
        say(f"Removed {name} ({_mb(freed)} freed).")
    return 0


# -- import -------------------------------------------------------------------------------
def import_model(folder: Path, name: str, kind: str) -> Path:
    """Copy a model folder into the models folder after the safety check, with a record of its
    files' sha256; returns where it was installed.

    Nothing is read through a link that leaves the folder (the import is refused), nor from a
    file bigger than its kind can be (``model_safety.size_cap``); copies are never given wider
    permissions than their source."""
    import os

    from ..models.catalogue import MODEL_FILE, TOKENIZER_FILE, get_spec, installed_folder
    from ..models.download import PARTIAL_DIR
    from ..models.lock import FileRecord, InstallRecord, write_record
    from ..models.safety import EXTERNAL_DATA_MAX, check_external_data, checked_file, copy_model_file, size_cap

    source = folder.expanduser().resolve()
    if not source.is_dir():
        raise ModelError(f"{source} is not a folder.")
    for needed in (MODEL_FILE, TOKENIZER_FILE):
        if not (source / needed).is_file():
            raise ModelError(f"The folder {source} is not a usable model: it needs {MODEL_FILE} and {TOKENIZER_FILE}.")
    if not _NAME.match(name):
        raise ModelError(f"{name!r} cannot name a model: use letters, digits, '.', '_' and '-'.")
    if get_spec(name) is not None:
        raise ModelError(f"{name} is a catalogue model; import the folder under another name with --name.")
    target = installed_folder(name)
    if target.exists():
        raise ModelError(f"A model named {name} is already installed; remove it first or choose another --name.")
    checked_file(source, MODEL_FILE)  # inside the folder and not oversized, before it is parsed
    external = check_external_data(source / MODEL_FILE)
    caps = {MODEL_FILE: size_cap(MODEL_FILE), TOKENIZER_FILE: size_cap(TOKENIZER_FILE),
            **{e.location: EXTERNAL_DATA_MAX for e in external},
            **{extra: size_cap(extra) for extra in COPIED_EXTRAS if os.path.lexists(source / extra)}}
    try:  # links leaving the folder, FIFOs and oversized files are refused here, unread
        origins = {relative: checked_file(source, relative, cap=cap) for relative, cap in caps.items()}
    except OSError as exc:
        raise ModelError(f"Could not read the model in {source}: {exc.strerror or exc} ({exc.filename}).") from exc
    staging = config.models_dir() / PARTIAL_DIR / f"import-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        files = {}
        for relative, origin in origins.items():
            dst = staging / relative
            dst.parent.mkdir(parents=True, exist_ok=True)
            digest, size = copy_model_file(origin, dst, caps[relative])
            if "/" not in relative:
                files[relative] = FileRecord(digest, size, relative, "import")
        check_external_data(staging / MODEL_FILE)
        write_record(staging, InstallRecord(name=name, kind=kind, source="import", files=files,
                                            origin=str(source), safety_checked=True))
        os.replace(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelError(f"Could not copy the model from {source}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def cmd_import(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    name = (args.name or folder.expanduser().resolve().name).strip()
    target = import_model(folder, name, args.kind)
    if args.json:
        print(output.to_json({"imported": name, "kind": args.kind, "path": str(target)}))
    else:
        say(f"Imported {name} ({args.kind}) into {target}; choose it with: memex models use {name}")
    return 0


# -- use ----------------------------------------------------------------------------------
def _kind_of(name: str) -> str | None:
    from ..models.catalogue import get_spec, installed_folder
    from ..models.lock import read_record

    spec = get_spec(name)
    if spec is not None:
        return spec.kind
    try:
        record = read_record(installed_folder(name)) if _NAME.match(name) else None
    except ModelError:
        return None
    return record.kind if record else None


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{output.safe(question)} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_use(args: argparse.Namespace) -> int:
    from ..models.resolve import model_folder
    from ..models.switch import setting_for

    name = args.name.strip()
    folder = model_folder(name) is not None  # a model folder of one's own: an embedder unless --kind says
    kind = args.kind or ("reranker" if name.lower() == "none" else "embedder" if folder else _kind_of(name))
    if kind is None:
        raise ModelError(f"No model named {name!r} is in the catalogue or installed (see: memex models list).")
    if kind == "embedder":
        return int(run_use(args))
    settings = config.Settings.load()
    if name.lower() == "none":
        settings.with_changes(reranker=None).save()
        if args.json:
            print(output.to_json({"reranker": None}))
        else:
            say("Reranking is off.")
        return 0
    if not folder and _kind_of(name) != "reranker":
        raise ModelError(f"{name} is not a reranker.")
    from ..models.catalogue import get_spec, is_installed
    from ..models.resolve import resolve_reranker

    spec = get_spec(name)
    if spec is not None and not is_installed(spec):
        size = f" ({_mb(spec.size)})" if spec.size else ""
        if not (args.yes or _confirm(f"{name} is not downloaded{size}. Download it now?")):
            raise ModelError(f"{name} is not downloaded; download it with: memex models download {name}")
        try:
            download(name, quiet=args.json)
        except KeyboardInterrupt:
            say(f"memex: download of {name} cancelled; the reranker was not changed.", err=True)
            return 130
    resolve_reranker(name)  # verified before it is chosen
    settings = settings.with_changes(reranker=setting_for(name))
    settings.save()
    if args.json:
        print(output.to_json({"reranker": settings.reranker}))
    else:
        say(f"Reranker set to {name}.")
    return 0
