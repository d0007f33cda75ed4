"""``wire``: an initialized client of a real server process, over stdio and over WebSocket.

The transport is the subject of every test here, so each runs against the real process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from support.server_process import ServerProcess
from support.wire import StdioWire, WebSocketWire, Wire
from support.ws_client import ws_servers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.subprocess)


@pytest.fixture(params=["stdio", "websocket"])
async def wire(
    request: pytest.FixtureRequest,
    spawn: Callable[..., Coroutine[Any, Any, ServerProcess]],
    codex_home: Path,
    tmp_path: Path,
) -> AsyncIterator[Wire]:
    if request.param == "stdio":
        server = await spawn()
        await server.initialize()
        yield StdioWire(server)
        return
    async with ws_servers(codex_home, tmp_path) as ws_spawn:
        ws_server = await ws_spawn()
        client = await ws_server.client()
        await client.initialize()
        proc = ws_server.proc
        assert proc is not None
        yield WebSocketWire(client, lambda: proc.returncode is None)
