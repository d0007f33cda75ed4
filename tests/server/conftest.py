"""Fixtures of the server tests: the fake model and an agent (our server configured to use it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer
from support.agent_turns import start_agent
from support.model_config import write_mock_config
from support.server_process import ServerClient, Spawn
from support.ws_client import Spawner, ws_servers


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    """An initialized server whose `mock` provider is the fake model (a module needing other
    capabilities overrides this with its own call of ``start_agent``)."""
    return await start_agent(spawn, codex_home, model)


@pytest.fixture
async def ws_spawn(codex_home: Path, tmp_path: Path, model: FakeModelServer) -> AsyncIterator[Spawner]:
    """Server processes listening on WebSocket, configured to use the fake model."""
    write_mock_config(codex_home, model.base_url)
    async with ws_servers(codex_home, tmp_path) as spawn:
        yield spawn


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty working directory for a thread (a module may define its own)."""
    path = tmp_path / "ws"
    path.mkdir()
    return path
