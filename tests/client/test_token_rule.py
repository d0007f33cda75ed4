"""A bearer token travels only over ``wss://``, or ``ws://`` to localhost / 127.0.0.1 / ::1 (and a
unix socket); anything else is refused before any connection is attempted, saying why."""

from __future__ import annotations

import asyncio

import pytest

from agent_app_server.client import AsyncClient, InsecureTokenError, check_token_target


@pytest.mark.parametrize(
    "url",
    [
        "wss://agents.example.com/",
        "wss://10.0.0.7:4500",
        "ws://localhost:4500",
        "ws://127.0.0.1:4500",
        "ws://[::1]:4500",
        "ws://LOCALHOST:1",
        "unix:///tmp/app.sock",
    ],
)
def test_allowed(url: str) -> None:
    check_token_target(url)


@pytest.mark.parametrize(
    "url",
    ["ws://agents.example.com:4500", "ws://10.0.0.7:4500", "ws://0.0.0.0:4500", "ws://127.0.0.2:1", "ws://[::2]:1"],
)
def test_refused_over_plain_ws_off_this_host(url: str) -> None:
    with pytest.raises(InsecureTokenError, match=r"unencrypted ws://.*use wss://"):
        check_token_target(url)


def test_other_schemes_refused() -> None:
    with pytest.raises(InsecureTokenError, match="only ws://, wss:// and unix://"):
        check_token_target("http://127.0.0.1:1")


async def test_connect_refuses_before_connecting() -> None:
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    # A listener on this host, reached by a name that is not loopback as far as the rule goes:
    # nothing may reach it, because the refusal comes first.
    server = await asyncio.start_server(count, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(InsecureTokenError, match="refusing to send a bearer token"):
            await AsyncClient.connect(f"ws://127.0.0.2:{port}", token="sekrit")
    finally:
        server.close()
        await server.wait_closed()
    assert connections == 0
