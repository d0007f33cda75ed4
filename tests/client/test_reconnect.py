"""A WebSocket that drops for real (a TCP proxy resets both sides) in the middle of a turn: the
client reconnects, replays with ``afterSeq`` and its caller sees every event exactly once, in
order; an approval pending across the drop reaches the handler once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, Backoff, ClientOptions
from agent_app_server.protocol.server_requests import CommandExecutionRequestApprovalParams
from agent_app_server.testing import FakeModelServer, function_call_reply, paced, text_reply
from support.tcp_proxy import TcpProxy
from support.ws_client import WsServer

FAST = Backoff(max_attempts=20, base_delay=0.01, max_delay=0.2)
FAST_RECONNECT = ClientOptions(reconnect=FAST)
DELTAS = 2000


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


async def test_requests_during_a_reconnect_wait_for_it(proxy: TcpProxy, workspace: Path) -> None:
    disconnected = asyncio.Event()
    options = ClientOptions(reconnect=FAST, on_disconnect=disconnected.set)
    async with await AsyncClient.connect(proxy.url, options=options) as client:
        thread = await client.start_thread(cwd=str(workspace))
        proxy.drop_all()
        await disconnected.wait()
        # Sent while the connection is down (or coming back): answered on the new connection.
        loaded = await client.thread_loaded_list()
        assert client.reconnects == 1
    assert thread.id in loaded.data and proxy.accepted == 2


async def test_a_request_in_flight_at_the_drop_fails_instead_of_running_twice(
    proxy: TcpProxy, workspace: Path, tmp_path: Path
) -> None:
    import os

    from agent_app_server.client import ConnectionLost

    gate = tmp_path / "gate"
    os.mkfifo(gate)
    started = asyncio.Event()
    options = ClientOptions(
        reconnect=FAST, wire_tap=lambda way, text: started.set() if way == "send" and "command/exec" in text else None
    )
    async with await AsyncClient.connect(proxy.url, options=options) as client:
        running = asyncio.create_task(
            client.command_exec(command=["cat", str(gate)], sandbox_policy={"type": "dangerFullAccess"})
        )
        await started.wait()
        proxy.drop_all()
        with pytest.raises(ConnectionLost, match="before the server answered command/exec"):
            await running
        assert (await client.thread_loaded_list()).data == []
    # Unblock the command the server is still running for the dropped connection, if any.
    opener = asyncio.create_task(asyncio.to_thread(_open_nonblocking_writer, gate))
    await opener


def _open_nonblocking_writer(path: Path) -> None:
    import os

    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # nobody reads it any more (the server killed the command with its connection)
    os.close(fd)


async def test_giving_up_ends_every_reader_with_connection_lost(
    server: WsServer, proxy: TcpProxy, model: FakeModelServer, workspace: Path
) -> None:
    from agent_app_server.client import ConnectionLost

    options = ClientOptions(reconnect=Backoff(max_attempts=3, base_delay=0.01, max_delay=0.02))
    model.enqueue(paced(text_reply("slow words here", deltas=["slow ", "words ", "here"]), every=1, pause=5))
    async with await AsyncClient.connect(proxy.url, options=options) as client:
        thread = await client.start_thread(cwd=str(workspace))
        turn = await thread.turn("go")
        everything = client.events()
        await proxy.close()  # the path to the server is gone for good
        with pytest.raises(ConnectionLost, match="gave up after 3 reconnects"):
            await turn.wait()
        with pytest.raises(ConnectionLost):  # after what had already arrived
            async for _event in everything:
                pass
        with pytest.raises(ConnectionLost):
            await client.thread_loaded_list()
