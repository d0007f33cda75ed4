"""``ClientOptions(observe_all=True)``: the client library as an observer of every thread (our
servers' ``capabilities.observeAll``), through a WebSocket that drops for real mid-turn (a TCP
proxy resets both sides): after reconnecting it replays what it missed of a thread it never
subscribed to, every event exactly once, in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_app_server.client import WITHDRAWN, AsyncClient, Backoff, ClientOptions
from agent_app_server.testing import FakeModelServer, function_call_reply, paced, text_reply
from support.agent_turns import exec_args
from support.tcp_proxy import TcpProxy
from support.ws_client import WsServer

DELTAS = 1000
APPROVAL = "item/commandExecution/requestApproval"


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


@pytest.mark.compat("observer:observe-all")
async def test_handlers_given_in_the_options_answer_what_was_pending_before_connect_returned(
    server: WsServer, model: FakeModelServer, workspace: Path
) -> None:
    """An observer is asked every pending approval right after the handshake: handlers passed
    in ``ClientOptions.request_handlers`` are in place for it, and ``on_notification`` sees the
    notifications in wire order."""
    model.enqueue(function_call_reply("exec_command", exec_args("touch out.txt"), "call_1"), text_reply("done"))
    async with await AsyncClient.connect(server.url) as owner:
        asked = asyncio.get_running_loop().create_future()

        async def owner_waits(params: object) -> object:
            asked.set_result(params)
            await asyncio.get_running_loop().create_future()
            return None

        owner.set_request_handler(APPROVAL, owner_waits)
        thread = await owner.start_thread(cwd=str(workspace), approval_policy="untrusted", sandbox="workspace-write")
        turn = await thread.turn("go")
        await asyncio.wait_for(asked, 30)

        seen: list[str] = []

        async def accept(params: object) -> object:
            return {"decision": "accept"}

        options = ClientOptions(
            observe_all=True,
            request_handlers={APPROVAL: accept},
            on_notification=lambda event: seen.append(event.method),
        )
        async with await AsyncClient.connect(server.url, options=options):
            completed = await asyncio.wait_for(turn.wait(), 30)
        assert completed.status == "completed"
        assert (workspace / "out.txt").exists()
        assert "turn/completed" in seen


@pytest.mark.compat("observer:observe-all")
async def test_a_withdrawable_handler_is_cancelled_when_another_client_answers_first(
    server: WsServer, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("touch out.txt"), "call_1"), text_reply("done"))
    waiting = asyncio.get_running_loop().create_future()
    withdrawn = asyncio.get_running_loop().create_future()

    async def wait_for_a_person(params: object) -> object:
        waiting.set_result(None)
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError as cancelled:
            withdrawn.set_result(cancelled.args)
            raise
        return None

    options = ClientOptions(
        observe_all=True, request_handlers={APPROVAL: wait_for_a_person}, withdrawable=frozenset({APPROVAL})
    )
    async with (
        await AsyncClient.connect(server.url, options=options),
        await AsyncClient.connect(server.url) as owner,
    ):

        async def accept(params: object) -> object:
            await asyncio.wait_for(waiting, 30)  # the observer is waiting when the owner answers
            return {"decision": "accept"}

        owner.set_request_handler(APPROVAL, accept)
        thread = await owner.start_thread(cwd=str(workspace), approval_policy="untrusted", sandbox="workspace-write")
        turn = await thread.turn("go")
        assert (await asyncio.wait_for(turn.wait(), 30)).status == "completed"
        assert await asyncio.wait_for(withdrawn, 30) == (WITHDRAWN,)
