"""Server requests (approvals) with several WebSocket clients on one thread: any subscriber may
answer, the first answer wins and the others are told ``serverRequest/resolved``; an approval
still waiting when its client dropped is asked again of the client that comes back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args
from support.ws_client import Spawner, WsClient, WsServer

APPROVAL = "item/commandExecution/requestApproval"


async def connect(server: WsServer, **caps: Any) -> WsClient:
    client = await server.client()
    await client.initialize(experimental=True, **caps)
    return client


async def start_guarded_thread(client: WsClient, workspace: Path) -> str:
    params = {"cwd": str(workspace), "approvalPolicy": "untrusted", "sandbox": "workspace-write"}
    thread_id: str = (await client.result("thread/start", params))["thread"]["id"]
    await client.notification("thread/started")
    return thread_id


async def start_turn(client: WsClient, thread_id: str) -> None:
    await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})


async def test_the_second_client_answers_and_the_first_is_told(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    first = await connect(server)
    thread_id = await start_guarded_thread(first, workspace)
    second = await connect(server)
    await second.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    await start_turn(first, thread_id)
    asked_first = await asyncio.wait_for(first.server_requests.get(), 30)
    asked_second = await asyncio.wait_for(second.server_requests.get(), 30)
    assert asked_first["method"] == asked_second["method"] == APPROVAL
    assert asked_first["params"] == asked_second["params"]
    await second.send({"id": asked_second["id"], "result": {"decision": "accept"}})
    resolved = await first.notification("serverRequest/resolved")
    assert resolved["params"] == {"threadId": thread_id, "requestId": asked_first["id"]}
    completed = await first.notification("turn/completed", within=30)
    assert completed["params"]["turn"]["status"] == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    assert first.server_requests.empty() and second.server_requests.empty()


async def test_an_approval_pending_across_a_drop_is_answered_after_reconnecting(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    client = await connect(server, eventReplay=True)
    thread_id = await start_guarded_thread(client, workspace)
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    await start_turn(client, thread_id)
    asked = await asyncio.wait_for(client.server_requests.get(), 30)
    assert asked["method"] == APPROVAL
    last_seen = max(m["seq"] for m in client.received if "seq" in m)
    client.abort()
    await client.wait_closed()
    assert not (workspace / "out.txt").exists()

    again = await connect(server, eventReplay=True)
    await again.result("thread/resume", {"threadId": thread_id, "excludeTurns": True, "afterSeq": last_seen})
    asked_again = await asyncio.wait_for(again.server_requests.get(), 30)
    assert asked_again["method"] == APPROVAL
    assert asked_again["params"] == asked["params"]
    await again.send({"id": asked_again["id"], "result": {"decision": "accept"}})
    completed = await again.notification("turn/completed", within=30)
    assert completed["params"]["turn"]["status"] == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    # The approval went out after the missed notifications were replayed, never before.
    position = again.received.index(asked_again)
    assert all(m.get("seq", 0) > last_seen for m in again.received[:position] if "seq" in m)
