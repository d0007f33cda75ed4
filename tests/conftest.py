"""Fixtures shared by the whole suite: a fresh CODEX_HOME and the real server process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from support.server_process import ServerProcess


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    return home


@pytest.fixture
async def spawn(codex_home: Path) -> AsyncIterator[Callable[..., Coroutine[Any, Any, ServerProcess]]]:
    """Start server processes (any number); each is stopped and schema-checked at teardown."""
    started: list[ServerProcess] = []

    async def start(home: Path | None = None, **kwargs: Any) -> ServerProcess:
        server = ServerProcess(home or codex_home, **kwargs)
        await server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc is not None and server.proc.returncode is None:
            await server.stop()
    for server in started:
        server.assert_schema_clean()


@pytest.fixture
async def server(spawn: Callable[..., Coroutine[Any, Any, ServerProcess]]) -> ServerProcess:
    """A started, initialized server."""
    process = await spawn()
    await process.initialize()
    return process
