"""Fleet mode: three real server processes (WebSocket listeners on 127.0.0.1) on one PostgreSQL
database of the session's throw-away cluster, each with a CODEX_HOME of its own, one fake model.

Any server serves any thread; a running turn belongs to the server running it (a lease), and the
others follow it live, answer its approvals and interrupt it through the database; when its
server is killed, another one marks the turn interrupted once the lease expires."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    Hold,
    Script,
    SseEvent,
    function_call_reply,
    text_reply,
)
from support.agent_turns import ENV, exec_args
from support.model_config import write_mock_config
from support.ws_client import WsClient, WsServer, ws_servers

#: Short, so the failover test does not wait long; the heartbeat renews at a third of it.
LEASE_S = 2
APPROVAL = "item/commandExecution/requestApproval"

StartFleet = Callable[[int], Coroutine[Any, Any, list[WsServer]]]


@pytest.fixture
async def fleet(tmp_path: Path, pg_url: str, model: FakeModelServer) -> AsyncIterator[StartFleet]:
    async with ws_servers(tmp_path, tmp_path) as spawn:

        async def start(count: int) -> list[WsServer]:
            servers = []
            for index in range(count):
                home = tmp_path / f"home-{index}"
                home.mkdir(exist_ok=True)
                write_mock_config(home, model.base_url, extra=f"[store]\nlease_seconds = {LEASE_S}\n")
                servers.append(await spawn(home, args=("--store-url", pg_url), env=ENV))
            return servers

        yield start


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


#: What a server that does not run a thread sends its clients of it unnumbered (docs/fleet.md).
LOCAL_NOTIFICATIONS = frozenset({"thread/status/changed", "thread/goal/cleared", "thread/goal/updated"})


async def connect(server: WsServer, **caps: Any) -> WsClient:
    client = await server.client()
    client.unnumbered_allowed = LOCAL_NOTIFICATIONS
    await client.initialize(experimental=True, **caps)
    return client


async def start_thread(client: WsClient, workspace: Path, **params: Any) -> str:
    thread_id: str = (await client.result("thread/start", {"cwd": str(workspace), **params}))["thread"]["id"]
    await client.notification("thread/started")
    return thread_id


async def run_turn(client: WsClient, thread_id: str, text: str = "go") -> dict[str, Any]:
    await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    completed = await client.notification("turn/completed", within=30)
    return completed["params"]["turn"]  # type: ignore[no-any-return]


def held(script: Script, release: asyncio.Event) -> Script:
    """``script`` paused (until ``release``) right after its first text delta: a turn streaming."""
    first_delta = next(
        index
        for index, step in enumerate(script)
        if isinstance(step, SseEvent) and step.type == "response.output_text.delta"
    )
    return [*script[: first_delta + 1], Hold(release), *script[first_delta + 1 :]]


def held_at(script: Script, releases: dict[int, asyncio.Event]) -> Script:
    """``script`` paused after its n-th text delta until ``releases[n]``."""
    out: Script = []
    deltas = 0
    for step in script:
        out.append(step)
        if isinstance(step, SseEvent) and step.type == "response.output_text.delta":
            deltas += 1
            if deltas in releases:
                out.append(Hold(releases[deltas]))
    return out


async def deltas_seen(client: WsClient, count: int) -> None:
    for _ in range(count):
        await client.notification("item/agentMessage/delta", within=30)


def numbered(client: WsClient) -> list[dict[str, Any]]:
    """The thread notifications the client received with their numbers, in arrival order."""
    return [m for m in client.received if "method" in m and "id" not in m and "seq" in m]


def agent_text(turns: list[dict[str, Any]]) -> list[str]:
    return [item["text"] for turn in turns for item in turn["items"] if item["type"] == "agentMessage"]


async def test_a_thread_started_on_one_server_is_listed_read_and_resumed_on_another(
    fleet: StartFleet, model: FakeModelServer, workspace: Path
) -> None:
    a, b, c = await fleet(3)
    on_a = await connect(a)
    thread_id = await start_thread(on_a, workspace)
    model.enqueue(text_reply("hello from a"))
    assert (await run_turn(on_a, thread_id))["status"] == "completed"

    for server in (b, c):
        client = await connect(server)
        listed = await client.result("thread/list", {})
        assert [thread["id"] for thread in listed["data"]] == [thread_id]
        read = await client.result("thread/read", {"threadId": thread_id, "includeTurns": True})
        assert agent_text(read["thread"]["turns"]) == ["hello from a"]
        turns = await client.result("thread/turns/list", {"threadId": thread_id})
        assert [turn["status"] for turn in turns["data"]] == ["completed"]
        items = await client.result("thread/items/list", {"threadId": thread_id})
        assert "hello from a" in json.dumps(items["data"])
        resumed = await client.result("thread/resume", {"threadId": thread_id})
        assert agent_text(resumed["thread"]["turns"]) == ["hello from a"]

    # A turn/start on the idle thread moves it to B, which continues from what A stored.
    on_b = b.clients[0]
    model.enqueue(text_reply("hello from b"))
    assert (await run_turn(on_b, thread_id))["status"] == "completed"
    second_request = (await model.wait_for_requests(2))[1]
    assert "hello from a" in str(second_request.body["input"])
    read = await on_a.result("thread/read", {"threadId": thread_id, "includeTurns": True})
    assert agent_text(read["thread"]["turns"]) == ["hello from a", "hello from b"]


async def test_another_servers_client_follows_the_turn_live_approves_steers_and_interrupts(
    fleet: StartFleet, model: FakeModelServer, workspace: Path
) -> None:
    a, b = await fleet(2)
    on_a, on_b = await connect(a), await connect(b)
    thread_id = await start_thread(on_a, workspace, approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(text_reply("first"))
    await run_turn(on_a, thread_id)
    await on_b.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})

    # The turn runs on A; B's client sees its stream, and its approval, and answers it.
    model.enqueue(
        function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"),
        text_reply("streamed to b", deltas=["streamed", " to", " b"]),
    )
    await on_a.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "run it"}]})
    asked = await asyncio.wait_for(on_b.server_requests.get(), 30)
    assert asked["method"] == APPROVAL
    await on_b.send({"id": asked["id"], "result": {"decision": "accept"}})
    seen_on_b = await on_b.until("turn/completed")
    assert (workspace / "out.txt").read_text() == "hi\n"
    deltas = [m["params"]["delta"] for m in seen_on_b if m["method"] == "item/agentMessage/delta"]
    assert "".join(deltas) == "streamed to b"
    assert seen_on_b[-1]["params"]["turn"]["status"] == "completed"
    # A's own client was asked too, and told the question was settled elsewhere.
    asked_a = await asyncio.wait_for(on_a.server_requests.get(), 30)
    seen_on_a = await on_a.until("turn/completed")
    resolved = [m for m in seen_on_a if m["method"] == "serverRequest/resolved"]
    assert [m["params"]["requestId"] for m in resolved] == [asked_a["id"]]

    # The next turn on A is interrupted from B.
    release = asyncio.Event()
    model.enqueue(held(text_reply("never finished"), release))
    started = await on_a.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "more"}]})
    turn_id = started["turn"]["id"]
    await on_b.notification("turn/started")
    steer = {"threadId": thread_id, "expectedTurnId": turn_id, "input": [{"type": "text", "text": "also this"}]}
    assert (await on_b.result("turn/steer", steer))["turnId"] == turn_id
    stale = await on_b.call("turn/steer", {**steer, "expectedTurnId": "not-the-turn"})
    assert stale["error"]["message"] == f"expected active turn id not-the-turn but found {turn_id}"
    await on_b.result("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    completed_on_b = await on_b.notification("turn/completed", within=30)
    assert completed_on_b["params"]["turn"]["status"] == "interrupted"
    completed_on_a = await on_a.notification("turn/completed", within=30)
    assert completed_on_a["params"]["turn"]["status"] == "interrupted"
    release.set()


async def test_two_servers_racing_turn_start_on_one_idle_thread_one_wins(
    fleet: StartFleet, model: FakeModelServer, workspace: Path
) -> None:
    a, b = await fleet(2)
    on_a, on_b = await connect(a), await connect(b)
    thread_id = await start_thread(on_a, workspace)
    model.enqueue(text_reply("first"))
    await run_turn(on_a, thread_id)
    await on_b.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    release = asyncio.Event()
    model.enqueue(held(text_reply("winner"), release), held(text_reply("winner"), release))
    request = {"threadId": thread_id, "input": [{"type": "text", "text": "race"}]}
    answers = await asyncio.gather(on_a.call("turn/start", request), on_b.call("turn/start", request))
    winners = [answer for answer in answers if "result" in answer]
    losers = [answer for answer in answers if "error" in answer]
    assert len(winners) == 1 and len(losers) == 1, answers
    assert "running a turn on another server" in losers[0]["error"]["message"]
    release.set()
    winner_client = on_a if "result" in answers[0] else on_b
    completed = await winner_client.notification("turn/completed", within=30)
    assert completed["params"]["turn"]["status"] == "completed"


async def test_a_killed_owner_s_turn_is_taken_over_interrupted_with_its_completed_items(
    fleet: StartFleet, model: FakeModelServer, workspace: Path
) -> None:
    a, b, c = await fleet(3)
    on_a, on_b = await connect(a), await connect(b)
    thread_id = await start_thread(on_a, workspace)
    model.enqueue(text_reply("kept"))
    await run_turn(on_a, thread_id)
    await on_b.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})

    release = asyncio.Event()
    model.enqueue(held(text_reply("cut off"), release))
    started = await on_a.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    await on_b.notification("item/agentMessage/delta")  # the turn is streaming on A
    # A client reading or resuming on C meanwhile sees the turn running, not cut short.
    on_c = await connect(c)
    read = await on_c.result("thread/read", {"threadId": thread_id, "includeTurns": True})
    assert [turn["status"] for turn in read["thread"]["turns"]] == ["completed", "inProgress"]
    resumed = await on_c.result("thread/resume", {"threadId": thread_id})
    assert resumed["thread"]["status"]["type"] == "active"
    assert [turn["status"] for turn in resumed["thread"]["turns"]] == ["completed", "inProgress"]
    await a.kill()
    # Within the lease (and a heartbeat), a surviving server stores the turn as interrupted.
    completed = await on_b.notification("turn/completed", within=LEASE_S * 4 + 10)
    turn = completed["params"]["turn"]
    assert (turn["id"], turn["status"]) == (started["turn"]["id"], "interrupted")
    assert "went away" in turn["error"]["message"]
    read = await on_b.result("thread/read", {"threadId": thread_id, "includeTurns": True})
    assert [t["status"] for t in read["thread"]["turns"]] == ["completed", "interrupted"]
    assert agent_text(read["thread"]["turns"])[0] == "kept"
    user_messages = [i for i in read["thread"]["turns"][1]["items"] if i["type"] == "userMessage"]
    assert len(user_messages) == 1  # the interrupted turn's completed items are all there
    release.set()
    # B takes the thread over: its next turn runs there.
    model.enqueue(text_reply("after failover"))
    assert (await run_turn(on_b, thread_id))["status"] == "completed"


async def test_a_client_resuming_on_another_server_gets_what_it_missed_from_the_shared_log_then_live(
    fleet: StartFleet, model: FakeModelServer, workspace: Path
) -> None:
    a, b = await fleet(2)
    watcher = await connect(a, eventReplay=True)  # on the owner: every notification, numbered
    thread_id = await start_thread(watcher, workspace)
    model.enqueue(text_reply("first"))
    await run_turn(watcher, thread_id)
    dropped = await connect(b, eventReplay=True)
    await dropped.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    # A turn on B (which numbers the thread meanwhile), then the thread goes back to A as soon as
    # A's client saw that turn end: A waits for B's release, then continues B's numbering.
    model.enqueue(text_reply("on b"))
    assert (await run_turn(dropped, thread_id))["status"] == "completed"
    await watcher.notification("turn/completed")

    # A streams 300 deltas; B's client drops after 50, misses 150 and comes back (still on B,
    # which does not run the turn) before the last 100.
    pieces = [f"w{i} " for i in range(300)]
    releases = {50: asyncio.Event(), 200: asyncio.Event()}
    model.enqueue(held_at(text_reply("".join(pieces), deltas=pieces), releases))
    await watcher.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    await deltas_seen(dropped, 50)
    dropped.abort()
    await dropped.wait_closed()
    seen_before = numbered(dropped)
    releases[50].set()
    await deltas_seen(watcher, 200)

    again = await connect(b, eventReplay=True)
    after_seq = seen_before[-1]["seq"]
    await again.result("thread/resume", {"threadId": thread_id, "excludeTurns": True, "afterSeq": after_seq})
    # A plain resume on B meanwhile follows from where the turn is now: the rest, and all of it.
    plain = await connect(b)
    await plain.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    releases[200].set()
    seen_again = await again.until("turn/completed")
    seen_plain = await plain.until("turn/completed")
    await watcher.until("turn/completed")

    replayed = numbered(again)
    everything = [m for m in numbered(watcher) if m["seq"] >= seen_before[0]["seq"]]
    assert seen_before + replayed == everything  # the same messages: none missing, none twice
    assert [m["params"]["delta"] for m in replayed if m["method"] == "item/agentMessage/delta"] == pieces[50:]
    assert seen_again[-1]["params"]["turn"]["status"] == "completed"
    live = [m for m in seen_plain if m["method"] == "item/agentMessage/delta"]
    assert [m["params"]["delta"] for m in live] == pieces[200:]
    assert all("seq" not in m for m in seen_plain)

    # An afterSeq the shared log does not have yet is refused, as on the owner.
    last = everything[-1]["seq"]
    ahead = await again.call("thread/resume", {"threadId": thread_id, "afterSeq": last + 10})
    assert "ahead of the last notification" in ahead["error"]["message"]
