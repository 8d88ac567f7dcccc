"""packaging/notices.py: THIRD_PARTY_NOTICES from the files a build collected."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import apsw
import numpy
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def notices():
    spec = importlib.util.spec_from_file_location("memex_packaging_notices", REPO / "packaging" / "notices.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_sources_are_mapped_to_their_distributions(notices, tmp_path):
    stray = tmp_path / "libstray.so.1"
    stray.write_bytes(b"\x7fELF")
    sources = [apsw.__file__, numpy.__file__, json.__file__, REPO / "core" / "library.py", stray]
    dists, unowned = notices.classify(sources)
    assert [d.metadata["Name"].lower() for d in dists] == ["apsw", "numpy"]
    assert unowned == [stray.resolve()]  # the standard library and Memex's own files are not third-party


def test_a_package_without_licence_files_gets_the_standard_texts(notices):
    from importlib import metadata

    qt = notices.component(metadata.distribution("pyside6-essentials"))
    assert qt.licence.startswith("LGPL-3.0")
    titles = " ".join(title for title, _ in qt.texts)
    assert "LGPL-3.0" in titles and "GPL-3.0" in titles
    assert any("GNU LESSER GENERAL PUBLIC LICENSE" in text for _, text in qt.texts)

    mupdf = notices.component(metadata.distribution("pymupdf"))  # ships a one-line note naming the AGPL
    assert any("GNU AFFERO GENERAL PUBLIC LICENSE" in text for _, text in mupdf.texts)


def test_licence_files_of_a_package_are_included(notices):
    from importlib import metadata

    ort = notices.component(metadata.distribution("onnxruntime"))
    assert ort.licence == "MIT License"
    assert any(title.endswith("LICENSE") and "Microsoft" in text for title, text in ort.texts)
    assert any("ThirdPartyNotices" in title for title, _ in ort.texts)


def test_standard_texts_follow_the_declared_licence(notices):
    names = {licence: [p.stem for p in notices.standard_texts_for(licence)] for licence in (
        "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", "MIT License, Apache License, Version 2.0",
        "AGPL-3.0-or-later", "MIT-CMU", "BSD-3-Clause")}
    assert names == {
        "LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only": ["LGPL-3.0", "GPL-3.0"],
        "MIT License, Apache License, Version 2.0": ["Apache-2.0", "MIT"],
        "AGPL-3.0-or-later": ["AGPL-3.0"],
        "MIT-CMU": [],  # a different licence that happens to start with MIT
        "BSD-3-Clause": [],  # BSD packages ship their own text
    }


def test_write_notices(notices, tmp_path):
    target = tmp_path / "THIRD_PARTY_NOTICES.txt"
    components = notices.write_notices([apsw.__file__, sys.modules["numpy"].__file__], target)
    text = target.read_text(encoding="utf-8")
    assert [c.name.lower() for c in components] == ["apsw", "numpy"]
    assert "apsw 3." in text and "Roger Binns" in text  # apsw's own licence file
    assert "Licence: PSF-2.0" in text  # the embedded Python runtime
