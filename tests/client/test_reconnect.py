"""A WebSocket that drops for real (a TCP proxy resets both sides) in the middle of a turn: the
client reconnects, replays with ``afterSeq`` and its caller sees every event exactly once, in
order; an approval pending across the drop reaches the handler once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, Backoff, ClientOptions
from agent_app_server.protocol.server_requests import CommandExecutionRequestApprovalParams
from agent_app_server.testing import FakeModelServer, function_call_reply, paced, text_reply
from support.tcp_proxy import TcpProxy
from support.ws_client import Spawner, WsServer

FAST = Backoff(max_attempts=20, base_delay=0.01, max_delay=0.2)
FAST_RECONNECT = ClientOptions(reconnect=FAST)
DELTAS = 2000


@pytest.fixture
async def server(ws_spawn: Spawner) -> WsServer:
    return await ws_spawn()


@pytest.fixture
async def proxy(server: WsServer) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def test_a_drop_mid_stream_loses_and_repeats_nothing(
    proxy: TcpProxy, model: FakeModelServer, workspace: Path
) -> None:
    words = [f"w{i} " for i in range(DELTAS)]
    model.enqueue(paced(text_reply("".join(words), deltas=words), every=100, pause=0.02))
    async with await AsyncClient.connect(proxy.url, options=FAST_RECONNECT) as client:
        thread = await client.start_thread(cwd=str(workspace))
        turn = await thread.turn("stream")
        seen: list[str] = []
        seqs: list[int] = []
        dropped_at = None
        async for event in turn.events():
            assert event.seq is not None
            seqs.append(event.seq)
            if event.method == "item/agentMessage/delta":
                seen.append(event.params["delta"])
                if len(seen) == DELTAS // 4:
                    dropped_at = len(seen)
                    assert proxy.drop_all() == 1
        completed = await turn.wait(check=True)
    assert dropped_at is not None and client.reconnects == 1 and proxy.accepted == 2
    assert seen == words, "every delta exactly once, in order"
    assert seqs == sorted(set(seqs)), "numbered notifications strictly increasing"
    assert completed.status == "completed"


async def test_an_approval_pending_across_the_drop_reaches_the_handler_once(
    proxy: TcpProxy, model: FakeModelServer, workspace: Path
) -> None:
    args = json.dumps({"cmd": "echo approved > out.txt", "login": False, "yield_time_ms": 10_000})
    model.enqueue(function_call_reply("exec_command", args, "call_1"), text_reply("done"))
    asked: list[CommandExecutionRequestApprovalParams] = []
    first_ask = asyncio.Event()
    release = asyncio.Event()

    async def approve(params: CommandExecutionRequestApprovalParams) -> str:
        asked.append(params)
        first_ask.set()
        await release.wait()
        return "accept"

    reconnected = asyncio.Event()
    options = ClientOptions(reconnect=FAST, on_reconnect=lambda _count: reconnected.set())
    async with await AsyncClient.connect(proxy.url, options=options) as client:
        client.on_command_approval(approve)
        thread = await client.start_thread(cwd=str(workspace), approval_policy="untrusted", sandbox="workspace-write")
        turn = await thread.turn("write a file")
        async with asyncio.timeout(30):
            await first_ask.wait()
        proxy.drop_all()
        # The server asks again once the client is back; the running handler's answer serves both.
        async with asyncio.timeout(30):
            await reconnected.wait()
        release.set()
        completed = await turn.wait(check=True)
        methods = [event.method for event in turn._log.events]
    assert len(asked) == 1 and asked[0].item_id == "call_1"
    assert completed.status == "completed"
    assert (workspace / "out.txt").read_text() == "approved\n"
    assert methods.count("turn/completed") == 1 and methods.count("turn/started") == 1
