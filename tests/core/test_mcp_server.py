"""``memex mcp`` as an MCP client sees it: a real ``memex mcp`` process driven by the official
SDK's own client over stdio, against a real library built here."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import docgen
import pytest

mcp = pytest.importorskip("mcp", reason="memex mcp needs the MCP SDK (the test extra installs it)")
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

READ_TOOLS = {"search", "read", "sources", "status"}
SECRET = "zanzibar-marmalade-4417"


def memex_command() -> list[str]:
    script = Path(sys.executable).with_name("memex")
    return [str(script)] if script.exists() else [sys.executable, "-m", "memex.core"]



@pytest.fixture
def corpus(library, tmp_path: Path, runtime: Path):
    """A library over a 3-page PDF and a Markdown note, and a file outside every source."""
    docs = tmp_path / "papers"
    docs.mkdir()
    docgen.make_pdf(docs / "wings.pdf", ["Cover page.", "Lift and drag on swept wings.",
                                         "Shock waves form near the wing tip at high speed."])
    (docs / "soup.md").write_text("# Soup\n\nSimmer onions slowly in butter.\n")
    outside = tmp_path / "private.txt"
    outside.write_text(f"My bank password is {SECRET}.\n")
    library.index([docs])
    return library, docs, outside


def run_session(library: Path, body: Callable[[ClientSession], Awaitable[Any]], *args: str) -> Any:
    """Start ``memex mcp --library library *args`` and run ``body`` with an initialised session."""
    command, *rest = memex_command()
    params = StdioServerParameters(command=command, args=[*rest, "mcp", "--library", str(library), *args],
                                   env={key: os.environ[key] for key in ("MEMEX_HOME", "XDG_RUNTIME_DIR")})

    async def main() -> Any:
        with anyio.fail_after(120):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)

    return anyio.run(main)


def call(session: ClientSession, name: str, **arguments: Any) -> Awaitable[Any]:
    return session.call_tool(name, arguments)


def error_of(result: Any) -> dict[str, str]:
    assert result.is_error, result
    return result.structured_content["error"]


def test_lists_only_read_tools_by_default(corpus):
    library, _, _ = corpus

    async def body(session: ClientSession):
        return (await session.list_tools()).tools

    tools = run_session(library.path, body)
    assert {t.name for t in tools} == READ_TOOLS
    assert all(t.annotations.read_only_hint for t in tools)
    search = next(t for t in tools if t.name == "search")
    assert search.input_schema["required"] == ["query"] and "k" in search.input_schema["properties"]


def test_search_then_read_the_passage_and_its_page(corpus):
    library, docs, _ = corpus

    async def body(session: ClientSession):
        found = await call(session, "search", query="shock waves", k=3, mode="bm25")
        first = found.structured_content["results"][0]
        passage = await call(session, "read", id=first["id"])
        page = await call(session, "read", id=first["id"], page=2)
        by_path = await call(session, "read", path=str(docs / "wings.pdf"))
        sources = await call(session, "sources")
        status = await call(session, "status")
        return found, first, passage, page, by_path, sources, status

    found, first, passage, page, by_path, sources, status = run_session(library.path, body)
    assert not found.is_error and '"snippet"' in found.content[0].text  # text for any client, JSON too
    assert first["path"] == str(docs / "wings.pdf") and first["page"] == 3 and "Shock" in first["snippet"]
    assert ":" in first["id"]
    assert passage.structured_content["page"] == 3 and "Shock waves form" in passage.structured_content["text"]
    assert "swept wings" in page.structured_content["text"] and page.structured_content["page"] == 2
    assert by_path.structured_content["page"] == 1 and "Cover page" in by_path.structured_content["text"]
    assert [s["path"] for s in sources.structured_content["sources"]] == [str(docs)]
    assert status.structured_content["documents"] == 2 and status.structured_content["writable"] is False


@pytest.mark.slow
def test_hybrid_search_by_meaning(corpus):
    """The default mode (words and meaning) loads the embedder in the MCP process."""
    library, docs, _ = corpus

    async def body(session: ClientSession):
        return await call(session, "search", query="onions simmered slowly", k=1)

    found = run_session(library.path, body)
    assert [r["path"] for r in found.structured_content["results"]] == [str(docs / "soup.md")]


def test_writes_refused_without_allow_write(corpus, tmp_path: Path):
    library, _, outside = corpus
    more = tmp_path / "more"
    more.mkdir()
    (more / "note.txt").write_text("Quarterly figures for the lighthouse keepers.\n")

    async def body(session: ClientSession):
        return await call(session, "add_source", path=str(more)), await call(session, "index", paths=[str(more)])

    added, indexed = run_session(library.path, body)
    assert error_of(added)["code"] == "read-only" and error_of(indexed)["code"] == "read-only"
    assert "--allow-write" in error_of(added)["message"]
    assert [s.path for s in library.sources()] != [str(more)] and len(library.sources()) == 1


def test_allow_write_adds_and_indexes_a_folder(corpus, tmp_path: Path):
    library, _, _ = corpus
    more = tmp_path / "more"
    more.mkdir()
    (more / "note.txt").write_text("Quarterly figures for the lighthouse keepers.\n")

    async def body(session: ClientSession):
        tools = {t.name for t in (await session.list_tools()).tools}
        indexed = await call(session, "index", paths=[str(more)])
        found = await call(session, "search", query="lighthouse keepers", mode="bm25")
        return tools, indexed, found

    tools, indexed, found = run_session(library.path, body, "--allow-write")
    assert tools == READ_TOOLS | {"add_source", "index"}
    assert not indexed.is_error and indexed.structured_content["added"] == 1
    assert found.structured_content["results"][0]["path"] == str(more / "note.txt")


def test_hostile_reads_and_arguments_are_refused(corpus, tmp_path: Path):
    library, docs, outside = corpus
    (docs / "link.txt").symlink_to(outside)  # a link inside a source, leading out of it

    async def body(session: ClientSession):
        return [await call(session, "read", path=str(outside)),
                await call(session, "read", path=str(docs / ".." / outside.name)),
                await call(session, "read", path=str(docs / "link.txt")),
                await call(session, "read", path="/etc/passwd"),
                await call(session, "read", id="999999:1"),
                await call(session, "search", query="wings", k=100_000),
                await call(session, "search", query="x" * 5000),
                await call(session, "no_such_tool")]

    replies = run_session(library.path, body)
    codes = [error_of(r)["code"] for r in replies]
    assert codes[:4] == ["outside-sources"] * 4
    assert codes[4:] == ["not-found", "bad-request", "bad-request", "unknown-tool"]
    assert all(SECRET not in r.content[0].text and "Traceback" not in r.content[0].text for r in replies)


def _foreign_marks(library: Path) -> list[Path]:
    """Open marks of the library left by processes other than this one (see store.open_marks)."""
    return [m for m in library.parent.glob(f"{library.name}.open-*")
            if not m.name.split(".open-")[1].startswith(f"{os.getpid()}-")]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="the resident service needs Unix sockets")
def test_uses_the_running_service_instead_of_opening_the_library(corpus):
    from memex.core.service.host import ServiceHost

    library, docs, _ = corpus

    async def body(session: ClientSession):
        found = await call(session, "search", query="onions", mode="bm25")
        return found, _foreign_marks(library.path)

    found, marks = run_session(library.path, body)  # no service: memex mcp opens the library itself
    assert found.structured_content["results"][0]["path"] == str(docs / "soup.md") and len(marks) == 1
    with ServiceHost(library) as host:
        assert Path(host.socket_path).exists()
        found, marks = run_session(library.path, body)
    assert found.structured_content["results"][0]["path"] == str(docs / "soup.md") and marks == []


def test_the_sdk_loads_only_for_memex_mcp():
    code = ("import importlib, sys; importlib.import_module('memex.core.cli.main').build_parser(); "
            "print(sorted(n for n in sys.modules if n == 'mcp' or n.startswith(('mcp.', 'mcp_types'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_sdk_memex_mcp_says_how_to_install_it(tmp_path: Path):
    fake = tmp_path / "no-sdk" / "mcp"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named mcp')\n")  # as if not installed
    proc = subprocess.run([*memex_command(), "mcp"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(fake.parent)})
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["memex: memex mcp needs the MCP SDK: pip install 'memex-desktop[mcp]'."]
