"""A lazily named module loads on its first use, and then behaves as the module itself."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_the_module_loads_on_first_use_only():
    code = ("import sys; from memex.core.lazy_module import lazy; import colorsys as real; "
            "del sys.modules['colorsys']; "
            "m = lazy('colorsys'); print('colorsys' in sys.modules); "
            "print(m.rgb_to_hsv(1.0, 0.0, 0.0)); print('colorsys' in sys.modules); "
            "print(m.rgb_to_hsv is sys.modules['colorsys'].rgb_to_hsv)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split("\n")[:4] == ["False", "(0.0, 1.0, 1.0)", "True", "True"]


def test_a_missing_attribute_is_an_attribute_error():
    from memex.core.lazy_module import lazy

    with pytest.raises(AttributeError):
        lazy("colorsys").no_such_function  # noqa: B018
