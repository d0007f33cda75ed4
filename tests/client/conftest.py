"""Fixtures for the client's tests: a fake model, a CODEX_HOME pointing at it, and clients of
every kind (in-process, stdio, WebSocket) on that home."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient
from agent_app_server.embedded import connect_embedded
from support.model_fixtures import home, model, workspace
from support.tcp_proxy import TcpProxy
from support.ws_client import Spawner, WsServer, ws_servers

__all__ = ["home", "model", "workspace"]


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


@pytest.fixture
async def server(ws_spawn: Spawner) -> WsServer:
    return await ws_spawn()


@pytest.fixture
async def proxy(server: WsServer) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of ``server`` whose connections a test can drop for real."""
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    try:
        yield proxy
    finally:
        await proxy.close()
