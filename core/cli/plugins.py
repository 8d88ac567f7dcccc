"""Commands that other installed distributions add to ``memex``, the way ``llm`` plugins do.

A distribution declares an entry point in the ``memex.commands`` group; its name is the command
and it points at an object with ``help``, ``add_arguments(parser)`` and ``run(args) -> int``::

    [project.entry-points."memex.commands"]
    bench = "memex_bench.command:command"

Core never imports such code by name: without the distribution the command is simply absent,
and one that fails to load is skipped with a one-line warning, so it cannot break the others.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from .output import say

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

GROUP = "memex.commands"

Run = Callable[[argparse.Namespace], int]
P = TypeVar("P", bound=argparse.ArgumentParser)


@runtime_checkable
class PluginCommand(Protocol):
    """What a ``memex.commands`` entry point names (a module with these names will do)."""

    help: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def entry_points(group: str) -> Sequence[EntryPoint]:
    """The installed entry points of ``group`` (importlib.metadata is loaded only now: reading
    it costs every command time, and only plugin commands need it)."""
    from importlib.metadata import entry_points as installed

    return tuple(installed(group=group))


def add_plugin_commands(sub: argparse._SubParsersAction[P], parents: Sequence[P],
                        parser_class: type[P]) -> list[str]:
    """Add every installed plugin command to ``sub`` (each with ``parents``' options, in a
    ``parser_class`` parser like the built-in ones, its help as the parser's description) and
    return their names; parsing one sets ``args.plugin_run`` (see :func:`plugin_run`).
    Built-in commands keep their names."""
    added: list[str] = []
    for point in sorted(entry_points(group=GROUP), key=lambda point: point.name):
        if point.name in sub.choices:
            _skip(point, "a command of that name already exists")
            continue
        try:
            command, options = _load(point, parents, parser_class)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break memex
            _skip(point, f"it failed to load ({type(exc).__name__}: {exc})")
            continue
        # no help=: `memex --help` lists plugin commands apart, as developer commands (see main)
        parser = sub.add_parser(point.name, parents=[*parents, options], description=command.help)
        parser.set_defaults(plugin_run=command.run)
        added.append(point.name)
    return added


def plugin_run(args: argparse.Namespace) -> Run | None:
    """How to run the plugin command ``args`` were parsed for (None: a built-in command)."""
    run: Run | None = getattr(args, "plugin_run", None)
    return run


def _load(point: EntryPoint, parents: Sequence[P],
          parser_class: type[P]) -> tuple[PluginCommand, P]:
    """The plugin's command and a parser holding its options, both checked before the command
    is added (argparse cannot take a half-added command back)."""
    command = point.load()
    if not isinstance(command, PluginCommand) or not isinstance(command.help, str):
        raise TypeError(f"{point.value} has no help text, add_arguments and run")
    options = parser_class(add_help=False)
    command.add_arguments(options)
    parser_class(add_help=False, parents=[*parents, options])  # options that clash raise here
    return command, options


def _skip(point: EntryPoint, why: str) -> None:
    source = f" from {point.dist.name}" if point.dist is not None else ""
    say(f"memex: warning: the command '{point.name}'{source} is left out: {why}", err=True)
