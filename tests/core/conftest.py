"""Fixtures of the core unit tests: real objects (a ThreadStore in tmp_path, the config loaded
from a real config.toml), and a sink that records what core would hand the server layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.core.config import Config, load_config
from agent_app_server.core.providers import ModelClients
from agent_app_server.core.threads import ThreadManager
from agent_app_server.core.tools import AgentToolRouter
from agent_app_server.core.turns import TurnEngine
from agent_app_server.store import ThreadStore
from agent_app_server.testing.fake_model import FakeModelServer
from support.agent_turns import ENV
from support.model_config import write_mock_config
from support.recording_sink import RecordingSink


@pytest.fixture
def config(codex_home: Path) -> Config:
    return load_config(codex_home)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ThreadStore]:
    opened = await ThreadStore.open(tmp_path / "state.sqlite3")
    yield opened
    await opened.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def threads(config: Config, store: ThreadStore, sink: RecordingSink) -> ThreadManager:
    return ThreadManager(config, store, sink)


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


@pytest.fixture
def mock_config(codex_home: Path, model: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The config of a server whose `mock` provider is the fake model (its key in the environment)."""
    write_mock_config(codex_home, model.base_url)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return load_config(codex_home)


@pytest.fixture
async def engine(mock_config: Config, store: ThreadStore, sink: RecordingSink) -> AsyncIterator[TurnEngine]:
    """Turns as the server runs them: the real thread manager, model clients and tool router."""
    threads = ThreadManager(mock_config, store, sink)
    clients = ModelClients(mock_config)
    tools = AgentToolRouter(mock_config, sink=sink)
    yield TurnEngine(
        threads, sink, client_factory=lambda thread: clients.get(thread.settings.model_provider), tools=tools
    )
    await tools.aclose()
