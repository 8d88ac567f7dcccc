"""A module imported when first used. numpy takes longer to import than a bm25 search or a
status takes to run; modules on those paths name it with :func:`lazy` (and import it for real
only under ``TYPE_CHECKING``) so that a call that never touches a vector never loads it."""

from __future__ import annotations

import importlib


class LazyModule:
    """Stands in for the module ``name``: the first attribute read imports it; its attributes
    are then copied here, so later reads cost what a module's do."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> object:
        module = importlib.import_module(self._name)
        self.__dict__.update(vars(module))
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy(name: str) -> LazyModule:
    return LazyModule(name)
