"""THIRD_PARTY_NOTICES for the frozen app, generated from what the build really collected.

Every file PyInstaller puts into the app has a source path; the installed distributions' RECORD
files say which distribution each path belongs to. The notices list those distributions with the
licence their metadata declares and the full text of every licence file they ship. A distribution
that ships no licence file gets the matching standard text from ``resources/licenses`` (when the
licence is one Memex has a text for). Files that belong to no distribution are the Python runtime
(its own licence is added) and system libraries (listed by name).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANDARD_TEXTS = REPO / "resources" / "licenses"
OWN_DISTRIBUTION = "memex-desktop"
_LICENSE_FILE = re.compile(r"^(licen[cs]e|copying|notice|authors|thirdpartynotices|copyright)", re.IGNORECASE)
_MAX_TEXT = 2 << 20  # a licence file larger than this is not a licence file
_SHORT_NOTE = 600  # licence files shorter than this name a licence without giving its text
# Declared licence (metadata) -> standard texts in resources/licenses. The LGPL-3.0 is a set of
# additional permissions on top of the GPL-3.0, so it needs both texts.
_STANDARD = (
    (re.compile(r"LGPL-?3|LGPLv3"), ("LGPL-3.0", "GPL-3.0")),
    (re.compile(r"(?<![AL])GPL-?3|(?<![AL])GPLv3"), ("GPL-3.0",)),
    (re.compile(r"AGPL|Affero", re.IGNORECASE), ("AGPL-3.0",)),
    (re.compile(r"Apache"), ("Apache-2.0",)),
    (re.compile(r"\bMIT\b(?!-)"), ("MIT",)),
)


@dataclass
class Component:
    """One distribution found in the build, with the licence texts that go into the notices."""

    name: str
    version: str
    licence: str
    homepage: str
    texts: list[tuple[str, str]] = field(default_factory=list)  # (title, text)


def _declared_licence(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression.strip()
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    text = (meta.get("License") or "").strip()
    if text and len(text) <= 120 and "\n" not in text:
        return text
    return "; ".join(classifiers) if classifiers else (text.splitlines()[0] if text else "not declared")


def _homepage(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    for url in meta.get_all("Project-URL") or []:
        label, _, value = url.partition(",")
        if label.strip().lower() in {"homepage", "home", "source", "repository", "source code"}:
            return value.strip()
    home = (meta.get("Home-page") or "").strip()
    return home if home.startswith("http") and "TODO" not in home else ""


def _licence_files(dist: metadata.Distribution) -> list[tuple[str, str]]:
    texts = []
    for item in dist.files or []:
        if not _LICENSE_FILE.match(item.name) or item.name.endswith((".py", ".pyc", ".so", ".json")):
            continue
        path = Path(dist.locate_file(item))
        try:
            if not path.is_file() or path.stat().st_size > _MAX_TEXT:
                continue
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            texts.append((str(item), text))
    return texts


def standard_texts_for(licence: str) -> list[Path]:
    """The standard licence texts Memex ships that apply to a declared licence (maybe none)."""
    names: list[str] = []
    for pattern, texts in _STANDARD:
        if pattern.search(licence):
            names += [name for name in texts if name not in names]
    return [path for path in (STANDARD_TEXTS / f"{name}.LICENSE" for name in names) if path.is_file()]


def component(dist: metadata.Distribution) -> Component:
    licence = _declared_licence(dist)
    item = Component(dist.metadata["Name"], dist.version, licence, _homepage(dist), _licence_files(dist))
    if sum(len(text) for _, text in item.texts) < _SHORT_NOTE:  # none, or a one-line note that names the licence
        for standard in standard_texts_for(licence):
            item.texts.append((f"{standard.stem} (standard text; the package does not ship it)",
                               standard.read_text(encoding="utf-8").strip()))
    return item


def _file_owners() -> dict[Path, metadata.Distribution]:
    owners: dict[Path, metadata.Distribution] = {}
    for dist in metadata.distributions():
        for item in dist.files or []:
            try:
                owners.setdefault(Path(dist.locate_file(item)).resolve(), dist)
            except OSError:
                continue
    return owners


def classify(sources: Iterable[str | Path]) -> tuple[list[metadata.Distribution], list[Path]]:
    """The distributions that own any of ``sources``, and the sources no distribution owns.

    Memex's own files (this repository) and the Python standard library are left out of both.
    """
    owners = _file_owners()
    stdlib = Path(sys.base_prefix).resolve()
    found: dict[str, metadata.Distribution] = {}
    unowned: list[Path] = []
    for source in sources:
        path = Path(source).resolve()
        dist = owners.get(path)
        if dist is not None:
            if dist.metadata["Name"].lower() != OWN_DISTRIBUTION:
                found.setdefault(dist.metadata["Name"].lower(), dist)
        elif not (path.is_relative_to(REPO) or path.is_relative_to(stdlib)):
            unowned.append(path)
    return sorted(found.values(), key=lambda d: d.metadata["Name"].lower()), sorted(set(unowned))


def python_licence() -> str:
    """The licence of the Python runtime that the app embeds."""
    base = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = (base / "lib" / version, base, Path("/usr/lib") / version)
    for folder in candidates:
        path = folder / "LICENSE.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace").strip()
    return "Python Software Foundation License (text not found on the build machine: https://docs.python.org/3/license.html)"


def render(components: list[Component], system_libraries: list[Path]) -> str:
    rule = "=" * 78
    out = [
        "THIRD-PARTY NOTICES FOR MEMEX",
        "",
        "Memex is free software under the GNU Affero General Public License v3.0 or later (see LICENSE).",
        "This build bundles the components below; each keeps its own licence. The list is generated",
        "from the files the build collected, so it matches this build exactly. The bundled embedding",
        "model and tokenizer are described in licenses/NOTICE.md.",
        "",
        "Components: " + ", ".join(f"{c.name} {c.version} ({c.licence})" for c in components),
        "",
    ]
    for item in components:
        out += [rule, f"{item.name} {item.version}", f"Licence: {item.licence}"]
        if item.homepage:
            out.append(f"Home: {item.homepage}")
        for title, text in item.texts:
            out += ["", f"--- {title} ---", "", text]
        out.append("")
    out += [rule, f"Python {sys.version.split()[0]}", "Licence: PSF-2.0", "", python_licence(), ""]
    if system_libraries:
        out += [rule, "System libraries copied from the build machine (licences as distributed by the system):", ""]
        out += [f"  {p.name}" for p in system_libraries]
        out.append("")
    return "\n".join(out)


def write_notices(sources: Iterable[str | Path], target: Path) -> list[Component]:
    """Write THIRD_PARTY_NOTICES for the build whose collected source files are ``sources``."""
    dists, unowned = classify(sources)
    components = [component(d) for d in dists]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(components, unowned), encoding="utf-8")
    return components


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write THIRD_PARTY_NOTICES for the given source files.")
    parser.add_argument("output", type=Path)
    parser.add_argument("sources", nargs="+", help="files the build bundles")
    args = parser.parse_args(argv)
    components = write_notices(args.sources, args.output)
    print(f"{args.output}: {len(components)} components")
    return 0


if __name__ == "__main__":
    sys.exit(main())
