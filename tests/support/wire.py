"""One client API over both real transports (stdio and WebSocket), for tests whose subject is
what crosses the wire: raw text frames in with :meth:`Wire.send_text`, answers read as the other
helpers do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from .server_process import ServerProcess
from .ws_client import WsClient


class Wire(Protocol):
    received: list[dict[str, Any]]

    def expect(self, request_id: Any, method: str) -> asyncio.Future[dict[str, Any]]: ...

    async def call(self, method: str, params: Any = None) -> dict[str, Any]: ...

    async def send_text(self, text: str) -> None:
        """One raw message (a line on stdio, a text frame on WebSocket), sent as UTF-8."""
        ...

    def alive(self) -> bool:
        """The server process runs and this connection is open."""
        ...


class StdioWire:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.received = server.received

    def expect(self, request_id: Any, method: str) -> asyncio.Future[dict[str, Any]]:
        return self.server.expect(request_id, method)

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return await self.server.call(method, params)

    async def send_text(self, text: str) -> None:
        await self.server.send_raw(text.encode() + b"\n")

    def alive(self) -> bool:
        return self.server.proc is not None and self.server.proc.returncode is None


class WebSocketWire:
    def __init__(self, client: WsClient, server_alive: Callable[[], bool]) -> None:
        self.client = client
        self.received = client.received
        self._server_alive = server_alive

    def expect(self, request_id: Any, method: str) -> asyncio.Future[dict[str, Any]]:
        return self.client.expect(request_id, method)

    async def call(self, method: str, params: Any = None) -> dict[str, Any]:
        return await self.client.call(method, params)

    async def send_text(self, text: str) -> None:
        assert self.client.ws is not None
        await self.client.ws.send(text)

    def alive(self) -> bool:
        return self._server_alive() and not self.client.closed.is_set()
