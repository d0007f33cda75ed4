"""Fixtures for the dashboard's tests: two real WebSocket servers (each with its own home and
fake model), the dashboard process following both, its audit log, and a headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.testing import FakeModelServer
from support.agent_turns import ENV
from support.dashboard import Browser, DashboardProcess, Watched, require_chromium
from support.model_config import write_mock_config
from support.ws_client import ws_servers


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[dict[str, Watched]]:
    async with FakeModelServer() as model_a, FakeModelServer() as model_b:
        homes = {}
        for name, model in (("alpha", model_a), ("beta", model_b)):
            home = tmp_path / f"home-{name}"
            home.mkdir()
            write_mock_config(home, model.base_url)
            homes[name] = (home, model)
        async with ws_servers(tmp_path / "home-alpha", tmp_path) as spawn:
            out = {}
            for name, (home, model) in homes.items():
                server = await spawn(home, env=ENV)
                owner = await server.client(name=f"owner-{name}")
                await owner.initialize()
                workspace = tmp_path / f"ws-{name}"
                workspace.mkdir()
                out[name] = Watched(name, server, model, owner, workspace)
            yield out


@pytest.fixture
async def dashboard(watched: dict[str, Watched], tmp_path: Path) -> AsyncIterator[DashboardProcess]:
    args = ["--listen", "127.0.0.1:0", "--audit-db", str(tmp_path / "audit.sqlite3"), "--poll-interval", "0.5"]
    for name, entry in watched.items():
        args += ["--server", f"{name}={entry.server.url}"]
    process = await DashboardProcess(tmp_path, args).start()
    try:
        yield process
    finally:
        await process.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    instance = await _start_browser()
    try:
        yield instance
    finally:
        instance.quit()


async def _start_browser() -> Browser:
    import asyncio

    return await asyncio.to_thread(Browser)
