"""``ClientOptions(observe_all=True)``: the client library as an observer of every thread (our
servers' ``capabilities.observeAll``), through a WebSocket that drops for real mid-turn (a TCP
proxy resets both sides): after reconnecting it replays what it missed of a thread it never
subscribed to, every event exactly once, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, Backoff, ClientOptions
from agent_app_server.testing import FakeModelServer, paced, text_reply
from support.tcp_proxy import TcpProxy
from support.ws_client import WsServer

DELTAS = 1000


@pytest.mark.compat("observer:observe-all")
async def test_an_observer_catches_up_on_a_thread_it_never_joined(
    server: WsServer, proxy: TcpProxy, model: FakeModelServer, workspace: Path
) -> None:
    words = [f"w{i} " for i in range(DELTAS)]
    model.enqueue(paced(text_reply("".join(words), deltas=words), every=50, pause=0.02))
    options = ClientOptions(observe_all=True, reconnect=Backoff(max_attempts=20, base_delay=0.01, max_delay=0.2))
    async with (
        await AsyncClient.connect(proxy.url, options=options) as watcher,
        await AsyncClient.connect(server.url) as owner,
    ):
        events = watcher.events()
        thread = await owner.start_thread(cwd=str(workspace))
        await thread.turn("stream")
        seen: list[str] = []
        seqs: list[int] = []
        async with asyncio.timeout(60):
            async for event in events:
                if event.params.get("threadId", thread.id) != thread.id:
                    continue
                if event.seq is not None:
                    seqs.append(event.seq)
                if event.method == "item/agentMessage/delta":
                    seen.append(event.params["delta"])
                    if len(seen) == DELTAS // 4:
                        assert proxy.drop_all() == 1
                if event.method == "turn/completed":
                    break
        assert watcher.reconnects == 1
    assert seen == words, "every delta exactly once, in order"
    assert seqs == sorted(set(seqs))
