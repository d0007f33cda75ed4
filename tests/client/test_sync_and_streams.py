"""The synchronous ``Client``; thread and client event streams; typed notification models; and a
server that dies under a running turn."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, Client, ConnectionLost, SyncTurn
from agent_app_server.embedded import connect_embedded
from agent_app_server.protocol.notifications import AgentMessageDeltaNotification, TurnCompletedNotification
from agent_app_server.protocol.server_requests import CommandExecutionRequestApprovalParams
from agent_app_server.protocol.threads import Turn
from agent_app_server.testing import FakeModelServer, delay, function_call_reply, text_reply
from support.agent_turns import exec_args


async def test_sync_client_with_a_plain_function_handler(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo sync > s.txt"), "call_s"), text_reply("a b"))
    asked: list[str | None] = []

    def approve(params: CommandExecutionRequestApprovalParams) -> str:
        asked.append(params.command)
        return "accept"

    def synchronous_program() -> tuple[list[str], Turn, SyncTurn]:
        with Client.over(lambda: connect_embedded(home)) as client:
            client.on_command_approval(approve)
            thread_id = client.start_thread(cwd=str(workspace), approval_policy="untrusted", sandbox="workspace-write")
            turn = client.turn(thread_id, "write")
            methods = [event.method for event in turn.events()]
            completed = turn.wait(check=True)
            assert client.thread_loaded_list().data == [thread_id]
        return methods, completed, turn

    # On a thread of its own: this test's loop keeps serving the fake model meanwhile.
    methods, completed, turn = await asyncio.to_thread(synchronous_program)
    assert methods[-1] == "turn/completed" and completed.status == "completed"
    assert turn.final_message() == "a b"
    command_items = [
        e.params["item"]
        for e in turn.handle._log.events
        if e.method == "item/completed" and e.params["item"]["type"] == "commandExecution"
    ]
    assert len(asked) == 1 and (workspace / "s.txt").exists(), command_items
    assert (workspace / "s.txt").read_text() == "sync\n"


async def test_thread_and_client_streams_and_typed_models(
    embedded: AsyncClient, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(text_reply("x y"))
    thread = await embedded.start_thread(cwd=str(workspace))
    thread_events = thread.events()
    all_events = embedded.events()
    turn = await thread.turn("go")
    await turn.wait()
    seen_by_thread = []
    async for event in thread_events:
        seen_by_thread.append(event)
        if event.method == "turn/completed":
            break
    seen_by_client = []
    async for event in all_events:
        seen_by_client.append(event)
        if event.method == "turn/completed":
            break
    thread_events.close()
    all_events.close()
    turn_methods = [event.method for event in turn._log.events]
    assert [e.method for e in seen_by_thread if e.turn_id == turn.id] == turn_methods
    assert [e.method for e in seen_by_client if e.turn_id == turn.id] == turn_methods
    deltas = [e.model() for e in seen_by_thread if e.method == "item/agentMessage/delta"]
    assert all(isinstance(d, AgentMessageDeltaNotification) for d in deltas)
    assert "".join(d.delta for d in deltas if isinstance(d, AgentMessageDeltaNotification)) == "x y"
    last = seen_by_thread[-1].model()
    assert isinstance(last, TurnCompletedNotification) and last.turn.id == turn.id


async def test_a_server_that_dies_mid_turn_ends_the_turn_with_connection_lost(
    home: Path, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue([*text_reply("never finished")[:3], delay(30)])
    client = await AsyncClient.spawn(env={"CODEX_HOME": str(home)})
    try:
        thread = await client.start_thread(cwd=str(workspace))
        turn = await thread.turn("go")
        async for event in turn.events():
            if event.method == "turn/started":
                break
        process = client._link.stream.inner.process  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        with pytest.raises(ConnectionLost, match="server closed the connection"):
            await asyncio.wait_for(turn.wait(), 30)
        with pytest.raises(ConnectionLost):
            await client.thread_loaded_list()
    finally:
        await client.aclose()
