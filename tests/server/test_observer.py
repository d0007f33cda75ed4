"""Observer connections (``capabilities.observeAll``, beyond the reference): a client that sees
every thread's notifications and server requests without subscribing, and whose answer to an
approval counts like any subscriber's (the first answer wins). Real server processes over
WebSocket, the fake model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args
from support.server_process import Spawn
from support.ws_client import Spawner, WsClient, WsServer

APPROVAL = "item/commandExecution/requestApproval"
OBSERVE = {"observeAll": True}


async def connect(server: WsServer, **caps: Any) -> WsClient:
    client = await server.client()
    await client.initialize(experimental=True, **caps)
    return client


async def start_guarded_turn(client: WsClient, workspace: Path, model: FakeModelServer) -> str:
    params = {"cwd": str(workspace), "approvalPolicy": "untrusted", "sandbox": "workspace-write"}
    thread_id: str = (await client.result("thread/start", params))["thread"]["id"]
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    return thread_id


@pytest.mark.compat("observer:observe-all")
async def test_an_observer_sees_another_clients_thread_and_its_answer_wins(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    observer = await connect(server, **OBSERVE)
    owner = await connect(server)
    thread_id = await start_guarded_turn(owner, workspace, model)

    started = await observer.notification("thread/started")
    assert started["params"]["thread"]["id"] == thread_id
    asked_owner = await asyncio.wait_for(owner.server_requests.get(), 30)
    asked_observer = await asyncio.wait_for(observer.server_requests.get(), 30)
    assert asked_owner["method"] == asked_observer["method"] == APPROVAL
    assert asked_observer["params"] == asked_owner["params"]

    await observer.send({"id": asked_observer["id"], "result": {"decision": "accept"}})
    resolved = await owner.notification("serverRequest/resolved")
    assert resolved["params"] == {"threadId": thread_id, "requestId": asked_owner["id"]}
    owner_done = await owner.notification("turn/completed", within=30)
    observer_done = await observer.notification("turn/completed", within=30)
    assert owner_done == observer_done
    assert owner_done["params"]["turn"]["status"] == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    # Everything the subscriber saw of its thread, the observer saw too, in the same order.
    thread_events = [m for m in owner.received if "method" in m and "id" not in m and m["method"] != "configWarning"]
    seen = [m for m in observer.received if m in thread_events]
    assert seen == thread_events


@pytest.mark.compat("observer:observe-all")
async def test_an_observer_is_asked_what_was_pending_before_it_came(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    owner = await connect(server)
    await start_guarded_turn(owner, workspace, model)
    asked_owner = await asyncio.wait_for(owner.server_requests.get(), 30)

    observer = await connect(server, **OBSERVE, eventReplay=True)
    asked = await asyncio.wait_for(observer.server_requests.get(), 30)
    assert asked["params"] == asked_owner["params"]
    await observer.send({"id": asked["id"], "result": {"decision": "decline"}})
    completed = await owner.notification("turn/completed", within=30)
    assert completed["params"]["turn"]["status"] == "completed"
    assert not (workspace / "out.txt").exists()


@pytest.mark.compat("observer:observe-all")
async def test_an_observer_never_becomes_a_subscriber_and_plain_clients_see_no_difference(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    observer = await connect(server, **OBSERVE)
    owner = await connect(server)
    bystander = await connect(server)
    thread_id = (await owner.result("thread/start", {"cwd": str(workspace)}))["thread"]["id"]
    await observer.notification("thread/started")

    await observer.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    # Resuming joined nothing: the observer already receives the thread (and keeps none loaded).
    assert (await observer.result("thread/unsubscribe", {"threadId": thread_id})) == {"status": "notSubscribed"}

    model.enqueue(text_reply("hello"))
    await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]})
    await owner.notification("turn/completed", within=30)
    await observer.notification("turn/completed", within=30)
    # The bystander saw nothing of a thread it never joined.
    await bystander.result("thread/loaded/list", {})
    assert not [m for m in bystander.received if m.get("method", "").startswith(("thread/", "turn/", "item/"))]


@pytest.mark.compat("observer:observe-all")
@pytest.mark.parametrize(
    ("capabilities", "message"),
    [
        (
            {"observeAll": True},
            "capabilities.observeAll is experimental: also set capabilities.experimentalApi to true",
        ),
        (
            {"experimentalApi": True, "observeAll": "yes"},
            "Invalid capabilities: `observeAll` must be a boolean",
        ),
    ],
)
@pytest.mark.subprocess
async def test_observe_all_is_refused_with_the_reason_on_the_fast_start_too(
    spawn: Spawn, capabilities: dict[str, Any], message: str
) -> None:
    server = await spawn()
    response = await server.call(
        "initialize", {"clientInfo": {"name": "t", "version": "1"}, "capabilities": capabilities}
    )
    assert response["error"] == {"code": -32600, "message": message}
    # Refused, not half-initialized: a correct initialize still works.
    await server.initialize()
