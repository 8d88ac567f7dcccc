"""Build a folder of real, messy documents for the known-item evaluation.

    python tests/realfolder/build_folder.py /tmp/realfolder

What goes in, all from this machine and from package sources (nothing here is made up except
the short Chinese and German notes in written_texts.py and a few junk files made on purpose):

- HTML books and API docs: the Rust book from a rustup toolchain (or /usr/share/doc/rust-doc),
  npm's command docs, valgrind's manual, libxslt's API pages, small HTML under /usr/share/doc;
- man pages rendered to plain text with groff;
- PDFs, Word and PowerPoint files shipped as test files in package sdists (pypdf, pikepdf,
  python-docx, python-pptx), fetched once with ``pip download --no-binary :all:`` into a cache;
- extension-less text (README.Debian, copyright, README, LICENSE);
- near-empty files, the same content under two names, and broken files, as real folders have;
- the written Chinese and German texts.

Deterministic (sorted choices, fixed modification times) and idempotent: files already right
are left alone, files the previous build made and this one does not are removed. The list of
what was built, with each file's origin, is written to ``.realfolder.json`` in the folder (a
hidden file, so it is not indexed). Sources that are missing on a machine are skipped with a
line on stderr; the build fails when fewer than MIN_FILES files result."""

from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from written_texts import CHINESE, GERMAN  # noqa: E402

MIN_FILES = 250
MANIFEST = ".realfolder.json"
FIXED_MTIME = 1_700_000_000  # 2023-11-14: every file gets it, so builds compare equal
CACHE = Path(os.environ.get("REALFOLDER_CACHE", "/tmp/realfolder_cache"))
MAX_BYTES = 2_000_000  # leave out very large test files

SDISTS = {  # package → (version, archive folder prefixes, extensions, how many)
    "pypdf": ("7.1.1", ("resources/",), (".pdf",), 45),
    "pikepdf": ("10.18.0", ("tests/resources/",), (".pdf",), 30),
    "python-docx": ("1.2.0", ("features/steps/test_files/", "tests/test_files/"), (".docx",), 40),
    "python-pptx": ("1.0.2", ("features/steps/test_files/", "tests/test_files/"), (".pptx",), 35),
}
SDIST_TEXTS = ("README", "README.md", "LICENSE", "LICENSE.txt")

MAN_PAGES = (
    "ls", "cp", "find", "grep", "sed", "tar", "gzip", "ssh", "scp", "curl", "wget", "chmod",
    "chown", "ps", "kill", "nice", "du", "df", "mount", "sort", "uniq", "cut", "tr", "tail",
    "xargs", "tee", "diff", "patch", "make", "git", "less", "date", "bc", "file", "stat", "ln",
    "tmux", "zip", "unzip", "ip", "useradd", "passwd", "su", "systemctl", "journalctl",
    "apt-get", "dpkg", "gpg", "openssl", "valgrind", "ssh-keygen", "ssh_config", "hosts",
    "fstab", "ascii", "regex", "signal",
)

DEBIAN_DOCS = (  # packages of a Debian base system whose README.Debian / copyright are taken
    "adduser", "bash", "ca-certificates", "ca-certificates-java", "coreutils", "cpp", "curl",
    "dbus", "debconf", "dirmngr", "fontconfig", "gzip", "less", "openssl", "perl", "tar",
)

Plan = dict[str, bytes]  # path inside the folder → content


def say(message: str) -> None:
    print(message, file=sys.stderr)


# -- sources on this machine ------------------------------------------------------------------
def _first_existing(patterns: list[str]) -> Path | None:
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        found.sort(key=lambda p: ("stable" not in p, p))  # a stable toolchain first
        if found:
            return Path(found[0])
    return None


def rust_book(plan: Plan) -> None:
    book = _first_existing([os.path.expanduser("~/.rustup/toolchains/*/share/doc/rust/html/book"),
                            "/usr/share/doc/rust-doc/html/book", "/usr/share/doc/rust*/html/book"])
    if book is None:
        say("skipped: no Rust book found")
        return
    pages = sorted(book.glob("ch*.html")) + sorted(book.glob("appendix-*.html"))
    # the first edition's pages are now one-line redirect stubs: real folders hold such pages
    stubs = sorted(p for p in book.glob("*.html") if not p.name.startswith(("ch", "appendix")))
    for page in pages + stubs[::4]:
        plan[f"rust-book/{page.name}"] = page.read_bytes()


def _small_file(path: str) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) <= MAX_BYTES


def html_docs(plan: Plan) -> None:
    groups = [
        ("npm", "/usr/lib/node_modules/npm/docs/output/commands/*.html", 2),
        ("valgrind", "/usr/share/doc/valgrind/html/*.html", 2),
        ("libxslt", "/usr/share/doc/libxslt1-dev/**/*.html", 6),
        ("python", os.path.expanduser("~/.pyenv/versions/3.11*/lib/python3.11/**/*.html"), 1),
    ]
    for name, pattern, step in groups:
        files = [p for p in sorted(glob.glob(pattern, recursive=True)) if _small_file(p)]
        for path in files[::step]:
            plan[f"html/{name}/{Path(path).name}"] = Path(path).read_bytes()
    small = [p for p in sorted(glob.glob("/usr/share/doc/*/*.html"))
             if "valgrind" not in p and _small_file(p)]
    seen: set[bytes] = set()  # many packages link one NEWS page; keep it once
    for path in small:
        data = Path(path).read_bytes()
        if data not in seen:
            seen.add(data)
            plan[f"html/doc/{Path(path).parent.name}-{Path(path).name}"] = data


def _render_man(name: str) -> bytes | None:
    where = subprocess.run(["man", "-w", name], capture_output=True, text=True, check=False)
    source = where.stdout.strip().splitlines()[0] if where.returncode == 0 and where.stdout.strip() else ""
    if not source:
        return None
    raw = Path(source).read_bytes()
    if source.endswith(".gz"):
        raw = gzip.decompress(raw)
    env = {**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    out = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-P-cbou", "-rLL=80n"], input=raw,
                         capture_output=True, env=env, check=False)
    return out.stdout if out.returncode == 0 and out.stdout.strip() else None


def man_pages(plan: Plan) -> None:
    if shutil.which("man") is None or shutil.which("groff") is None:
        say("skipped: man pages (man or groff missing)")
        return
    for name in MAN_PAGES:
        text = _render_man(name)
        if text is None:
            say(f"skipped: man page {name}")
            continue
        plan[f"man/{name.replace('.', '_')}.txt"] = text


def plain_docs(plan: Plan) -> None:
    """Extension-less text as /usr/share/doc holds it."""
    for name in ("README.Debian", "copyright"):
        found = {Path(p).parent.name: Path(p) for p in glob.glob(f"/usr/share/doc/*/{name}")
                 if os.path.isfile(p)}
        # named packages first, so that installing another package does not change the folder
        chosen = [p for p in DEBIAN_DOCS if p in found] or sorted(found)[:8]
        for package in chosen:
            plan[f"debian/{package}/{name}"] = found[package].read_bytes()
    for path in sorted(glob.glob("/usr/share/doc/*/*.pdf")):
        if os.path.isfile(path) and os.path.getsize(path) <= MAX_BYTES * 3:
            plan[f"pdf/doc/{Path(path).name}"] = Path(path).read_bytes()


# -- package sources ----------------------------------------------------------------------------
def _sdist(package: str, version: str) -> Path | None:
    """The package's source archive: the pinned version (so the folder stays the same), or
    the newest one where that version cannot be had; downloaded once into the cache."""
    folder = CACHE / "sdists"
    stem = package.replace("-", "_").lower()

    def cached(exact: bool) -> list[Path]:
        names = sorted(p for p in folder.glob("*.tar.gz") if p.name.lower().replace("-", "_").startswith(stem + "_"))
        return [p for p in names if p.name.endswith(f"-{version}.tar.gz")] if exact else names

    for requirement, exact in ((f"{package}=={version}", True), (package, False)):
        if cached(exact):
            return cached(exact)[-1]
        folder.mkdir(parents=True, exist_ok=True)
        fetch = subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:",
                                "--no-deps", "-q", "-d", str(folder), requirement],
                               capture_output=True, text=True, check=False)
        if fetch.returncode == 0 and cached(exact):
            return cached(exact)[-1]
    say(f"skipped: sdist {package} (pip download failed)")
    return None


def _members(archive: Path) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(archive) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None and member.size <= MAX_BYTES:
                yield member.name.split("/", 1)[1], handle.read()


def sdist_files(plan: Plan) -> None:
    for package, (version, prefixes, extensions, count) in SDISTS.items():
        archive = _sdist(package, version)
        if archive is None:
            continue
        chosen: list[tuple[str, bytes]] = []
        for inner, data in _members(archive):
            if inner in SDIST_TEXTS:
                plan[f"packages/{package}/{inner}"] = data
            elif inner.startswith(prefixes) and inner.endswith(extensions):
                chosen.append((inner, data))
        step = max(1, len(chosen) // count)
        for inner, data in chosen[::step][:count]:
            kind = extensions[0].lstrip(".")
            name = inner.rsplit("/", 1)[-1]
            plan[f"{kind}/{package}/{name}"] = data


def spreadsheets(plan: Plan) -> None:
    """A few workbooks of real tables (what the folder already holds, counted)."""
    try:
        import openpyxl
    except ImportError:
        say("skipped: spreadsheets (openpyxl missing)")
        return
    import datetime
    import io

    tables = {
        "sheets/man-page-sizes.xlsx": [("page", "bytes")] + sorted(
            (p.rsplit("/", 1)[-1], len(d)) for p, d in plan.items() if p.startswith("man/")),
        "sheets/rust-book-chapters.xlsx": [("file", "bytes")] + sorted(
            (p.rsplit("/", 1)[-1], len(d)) for p, d in plan.items() if p.startswith("rust-book/ch")),
        "sheets/household-budget-2023.xlsx": [("month", "rent", "groceries", "electricity")] + [
            (month, 1150, 380 + 7 * i, 64 - i) for i, month in enumerate(
                ("January", "February", "March", "April", "May", "June"))],
    }
    for name, rows in tables.items():
        book = openpyxl.Workbook()
        sheet = book.active
        for row in rows:
            sheet.append(list(row))
        book.properties.created = book.properties.modified = datetime.datetime(2023, 11, 14)
        buffer = io.BytesIO()
        book.save(buffer)
        plan[name] = _stable_zip(buffer.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """The same workbook bytes on every build (zip entries carry the time they were written)."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the saving time
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2023-11-14T00:00:00Z", body)
            target.writestr(zipfile.ZipInfo(info.filename, (2023, 11, 14, 0, 0, 0)), body)
    return out.getvalue()


# -- made on purpose ------------------------------------------------------------------------
def written(plan: Plan) -> None:
    for path, text in {**CHINESE, **GERMAN}.items():
        plan[path] = text.encode("utf-8")


def junk_and_copies(plan: Plan) -> None:
    """Near-empty, broken and duplicated files, as any real folder has."""
    plan["misc/empty.txt"] = b""
    plan["misc/todo.txt"] = b"TODO\n"
    plan["misc/untitled.md"] = b"1\n"
    plan["misc/scan0001.txt"] = b"Test\n"
    plan["misc/contents.txt"] = "".join(f"Chapter {i} {'.' * 60} {i * 7}\n" for i in range(1, 12)).encode()
    plan["misc/letters.txt"] = b"a b c d e f g h i\n"
    plan["misc/numbers.csv"] = "".join(f"{i},{i * i},{i * 3.5}\n" for i in range(40)).encode()
    pdfs = sorted(p for p in plan if p.endswith(".pdf"))
    if pdfs:
        plan["misc/broken-truncated.pdf"] = plan[pdfs[len(pdfs) // 2]][:700]
    plan["misc/not-really.docx"] = hashlib.sha256(b"memex").digest() * 64
    plan["misc/empty.pdf"] = b""
    copies = {"rust-book/ch04-01-what-is-ownership.html": "Downloads/ownership (1).html",
              "man/tar.txt": "notes/tar-manual-copy.txt",
              "deutsch/Mietvertrag_Kuendigung.txt": "Downloads/Kündigung Kopie.txt"}
    for original, copy in copies.items():
        if original in plan:
            plan[copy] = plan[original]
    if pdfs:
        plan["Downloads/" + pdfs[0].rsplit("/", 1)[-1]] = plan[pdfs[0]]


# -- writing ----------------------------------------------------------------------------------
def plan_folder() -> Plan:
    plan: Plan = {}
    for step in (rust_book, html_docs, man_pages, plain_docs, sdist_files, spreadsheets,
                 written, junk_and_copies):
        step(plan)
    return dict(sorted(plan.items()))


def write_folder(target: Path, plan: Plan, prune: bool = False) -> tuple[int, int]:
    """Write ``plan`` into ``target``; returns (files written, files removed). Removing more
    than a tenth of an earlier build's files (a source went missing?) needs ``prune``."""
    manifest = target / MANIFEST
    if target.exists() and any(target.iterdir()) and not manifest.exists():
        raise SystemExit(f"{target} holds files this script did not make; choose an empty folder.")
    previous = json.loads(manifest.read_text("utf-8"))["files"] if manifest.exists() else {}
    dropped = set(previous) - set(plan)
    if len(dropped) > len(previous) // 10 and not prune:
        raise SystemExit(f"{target}: this build would remove {len(dropped)} of its {len(previous)} files "
                         "(a source missing on this machine?); nothing changed. Pass --prune to accept.")
    written_count = removed = 0
    for relative in sorted(set(previous) - set(plan)):
        (target / relative).unlink(missing_ok=True)
        removed += 1
        parent = (target / relative).parent
        while parent != target and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()  # a folder only the old build had
            parent = parent.parent
    for relative, data in plan.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
            written_count += 1
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    files = {p: hashlib.sha256(d).hexdigest() for p, d in plan.items()}
    manifest.write_text(json.dumps({"files": files}, indent=1, ensure_ascii=False), "utf-8")
    return written_count, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to build (empty, or built before)")
    parser.add_argument("--prune", action="store_true",
                        help="accept removing many files an earlier build made")
    args = parser.parse_args(argv)
    plan = plan_folder()
    if len(plan) < MIN_FILES:
        raise SystemExit(f"only {len(plan)} files found on this machine; {MIN_FILES} are needed")
    written_count, removed = write_folder(args.folder, plan, prune=args.prune)
    kinds: dict[str, int] = {}
    for relative in plan:
        kind = Path(relative).suffix.lower() or "(none)"
        kinds[kind] = kinds.get(kind, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    print(f"{args.folder}: {len(plan)} files ({written_count} written, {removed} removed): {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
