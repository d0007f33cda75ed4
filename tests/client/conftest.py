"""Fixtures for the client's tests: a fake model, a CODEX_HOME pointing at it, and clients of
every kind (in-process, stdio, WebSocket) on that home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient
from agent_app_server.embedded import connect_embedded
from agent_app_server.testing import FakeModelServer
from support.agent_turns import ENV
from support.model_config import write_mock_config
from support.ws_client import Spawner, ws_servers


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


@pytest.fixture
def home(codex_home: Path, model: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CODEX_HOME whose model is the fake one (the key is in the environment, as for a user)."""
    write_mock_config(codex_home, model.base_url)
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return codex_home


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


@pytest.fixture
async def embedded(home: Path) -> AsyncIterator[AsyncClient]:
    client = await connect_embedded(home)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def ws_spawn(home: Path, tmp_path: Path) -> AsyncIterator[Spawner]:
    async with ws_servers(home, tmp_path) as spawn:
        yield spawn
