"""Fixtures shared by the client-side suites (client, tui): a fake model, a CODEX_HOME pointing at
it with the key in the environment, and a workspace. Import them into a ``conftest.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.testing import FakeModelServer
from support.agent_turns import ENV
from support.model_config import write_mock_config


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
