"""Fixtures for the terminal UI's tests: a fake model, a CODEX_HOME pointing at it, and the app
running headless (Textual's pilot) on an embedded server of ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.embedded import connect_embedded
from agent_app_server.testing import FakeModelServer
from agent_app_server.tui.app import ConnectionWatch, TuiApp
from support.agent_turns import ENV
from support.model_config import write_mock_config
from support.tui import Driver, OpenApp


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


@pytest.fixture
def home(codex_home: Path, model: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> Path:
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
def open_app(home: Path, workspace: Path) -> OpenApp:
    """``async with open_app(prompt=..., overrides=[...]) as driver``: the app on an embedded server."""

    @asynccontextmanager
    async def run(
        *, overrides: tuple[str, ...] = (), size: tuple[int, int] = (100, 40), **kwargs: Any
    ) -> AsyncIterator[Driver]:
        watch = ConnectionWatch()
        client = await connect_embedded(home, overrides=overrides, options=watch.options())
        try:
            app = TuiApp(client, connection=watch, cwd=str(workspace), **kwargs)
            async with app.run_test(size=size) as pilot:
                driver = Driver(app, pilot)
                await driver.until(lambda: app.ready.is_set() and app.thread_id is not None, "the thread to start")
                yield driver
        finally:
            await client.aclose()

    return run
