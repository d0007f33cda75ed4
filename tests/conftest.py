"""Fixtures shared by the whole suite: a fresh CODEX_HOME and our server, in-process by default.

``spawn`` starts servers on the in-memory transport (``support/inprocess.py``); a test gets the
real process over stdio with ``spawn(..., process=True)``, every test of a module or class
marked ``@pytest.mark.subprocess`` does, and every test does with ``pytest --spawn=process``.
Use the process when the subject is the transport or the process itself (framing, exit codes,
signals, a crash).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.pg_cluster import TempCluster
from support.inprocess import InProcessServer
from support.postgres import cluster_fixture
from support.server_process import ServerClient, ServerProcess, Spawn


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spawn",
        choices=("inprocess", "process"),
        default="inprocess",
        help="where the `spawn` fixture runs servers by default: in the test's event loop, or as real processes",
    )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    """A PostgreSQL cluster for the whole session (skips the test when PostgreSQL is not installed)."""
    yield from cluster_fixture()


@pytest.fixture
def pg_url(pg_cluster: TempCluster) -> str:
    """A fresh empty database of the session's cluster."""
    return pg_cluster.create_database()


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    return home


@pytest.fixture
async def spawn(
    request: pytest.FixtureRequest, codex_home: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Spawn]:
    """Start servers (any number); each is stopped and schema-checked at teardown."""
    started: list[ServerClient] = []
    in_a_process = (
        request.config.getoption("--spawn") == "process" or request.node.get_closest_marker("subprocess") is not None
    )

    async def start(home: Path | None = None, *, process: bool = in_a_process, **kwargs: Any) -> ServerClient:
        server: ServerClient
        if process:
            server = ServerProcess(home or codex_home, **kwargs)
        else:
            server = InProcessServer(home or codex_home, patch=monkeypatch, **kwargs)
        started.append(server)
        await server.start()
        return server

    yield start
    for server in started:
        if server.running:
            await server.stop()
    for server in started:
        server.assert_schema_clean()


@pytest.fixture
async def server(spawn: Spawn) -> ServerClient:
    """A started, initialized server."""
    process = await spawn()
    await process.initialize()
    return process
