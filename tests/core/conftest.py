"""Fixtures of the core unit tests: real objects (a ThreadStore in tmp_path, the config loaded
from a real config.toml), and a sink that records what core would hand the server layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.core.config import Config, load_config
from agent_app_server.core.threads import ThreadManager
from agent_app_server.store import ThreadStore
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
