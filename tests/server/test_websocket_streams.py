"""Many WebSocket clients on one server process: fan-out, event replay after a drop (also across a
restart and a crash), backpressure (a flood, a client that stops reading), idle unloading and
graceful shutdown. Real server process, real ``websockets`` clients, a fake model over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, delay, text_reply
from support.model_config import write_mock_config
from support.ws_client import Spawner, WsClient, WsServer, ws_servers

ENV = {"MOCK_API_KEY": "test-key"}


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer(record_requests=False) as server:
        yield server


@pytest.fixture
async def ws_spawn(codex_home: Path, tmp_path: Path, model: FakeModelServer) -> AsyncIterator[Spawner]:
    write_mock_config(codex_home, model.base_url)
    async with ws_servers(codex_home, tmp_path) as spawn:
        yield spawn


def pieces_of(count: int, pad: int = 0) -> list[str]:
    return [f"w{i}{'.' * pad} " for i in range(count)]


def streamed_reply(count: int, pauses: dict[int, float] | None = None, pad: int = 0) -> list[Any]:
    """A text reply of ``count`` deltas, pausing ``pauses[k]`` seconds after the k-th delta."""
    pieces = pieces_of(count, pad)
    events = text_reply("".join(pieces), deltas=pieces)
    out: list[Any] = []
    seen = 0
    for step in events:
        out.append(step)
        if getattr(step, "type", "") == "response.output_text.delta":
            seen += 1
            if pauses and seen in pauses:
                out.append(delay(pauses[seen]))
    return out


def deltas_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["params"]["delta"] for m in messages if m.get("method") == "item/agentMessage/delta"]


def numbered(client: WsClient) -> list[dict[str, Any]]:
    """What the client received of the thread's numbered notifications, in arrival order."""
    return [m for m in client.received if "method" in m and "id" not in m and "seq" in m]


async def start_thread(client: WsClient) -> str:
    thread_id: str = (await client.result("thread/start", {}))["thread"]["id"]
    await client.notification("thread/started")
    return thread_id


async def start_turn(client: WsClient, thread_id: str, text: str = "go") -> None:
    await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})


async def connect(server: WsServer, **caps: Any) -> WsClient:
    client = await server.client()
    await client.initialize(**caps)
    return client


async def wait_for(predicate: Any, *, within: float = 30, what: str = "condition") -> None:
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {what} within {within} s")


# ---------------------------------------------------------------------- fan-out


async def test_two_clients_on_one_thread_receive_every_delta_in_order(
    ws_spawn: Spawner, model: FakeModelServer
) -> None:
    server = await ws_spawn(env=ENV)
    first = await connect(server)
    second = await connect(server, eventReplay=True)
    thread_id = await start_thread(first)
    resumed = await second.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    assert resumed["thread"]["id"] == thread_id
    model.enqueue(streamed_reply(400))
    await start_turn(first, thread_id)
    seen_first = await first.until("turn/completed")
    seen_second = await second.until("turn/completed")
    expected = [f"w{i} " for i in range(400)]
    assert deltas_of(seen_first) == expected
    assert deltas_of(seen_second) == expected
    # Same notifications, same order; only the opted-in client sees seq, densely numbered.
    assert [m["method"] for m in seen_first] == [m["method"] for m in seen_second]
    assert all("seq" not in m for m in seen_first)
    seqs = [m["seq"] for m in seen_second]
    assert seqs == sorted(set(seqs)), "seq strictly increases"
    # Numbers are per thread: the one notification withheld from non-experimental clients
    # (thread/readState/changed) leaves the only gap.
    assert seqs[-1] - seqs[0] + 1 - len(seqs) <= 1
    assert {k: v for k, v in seen_second[5].items() if k != "seq"} == seen_first[5]


# ---------------------------------------------------------------------- replay


@pytest.mark.compat("ws:event-replay")
async def test_dropped_client_resumes_with_after_seq_and_misses_nothing(
    ws_spawn: Spawner, model: FakeModelServer
) -> None:
    server = await ws_spawn(env=ENV)
    watcher = await connect(server, eventReplay=True)
    thread_id = await start_thread(watcher)
    dropped = await connect(server, eventReplay=True)
    await dropped.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    # 50 deltas, the drop, 650 more while away (more than memory keeps: replay reads the log),
    # a pause to reconnect in, then the rest live.
    model.enqueue(streamed_reply(1000, {50: 1.0, 700: 2.0}))
    await start_turn(watcher, thread_id)
    await wait_for(lambda: len(deltas_of(dropped.received)) >= 50, what="50 deltas")
    dropped.abort()
    await dropped.wait_closed()
    seen_before = numbered(dropped)
    await wait_for(lambda: len(deltas_of(watcher.received)) >= 700, what="700 deltas")

    again = await connect(server, eventReplay=True)
    reply = await again.result(
        "thread/resume", {"threadId": thread_id, "excludeTurns": True, "afterSeq": seen_before[-1]["seq"]}
    )
    assert reply["thread"]["id"] == thread_id
    await again.until("turn/completed")
    await watcher.until("turn/completed")
    seen_after = numbered(again)
    combined = seen_before + seen_after
    everything = [m for m in numbered(watcher) if m["seq"] >= seen_before[0]["seq"]]
    assert combined == everything  # byte-for-byte the same messages: none missing, none twice
    assert deltas_of(combined)[-1] == "w999 "


async def test_after_seq_errors(ws_spawn: Spawner) -> None:
    server = await ws_spawn(env=ENV)
    plain = await connect(server)
    thread_id = await start_thread(plain)
    refused = await plain.call("thread/resume", {"threadId": thread_id, "afterSeq": 0})
    assert refused["error"]["code"] == -32600 and "eventReplay" in refused["error"]["message"]
    opted = await connect(server, eventReplay=True)
    ahead = await opted.call("thread/resume", {"threadId": thread_id, "afterSeq": 10_000})
    assert ahead["error"]["code"] == -32600 and "ahead of the last notification" in ahead["error"]["message"]
    bad = await opted.call("thread/resume", {"threadId": thread_id, "afterSeq": -1})
    assert bad["error"]["code"] == -32602 and "afterSeq" in bad["error"]["message"]
    ok = await opted.result("thread/resume", {"threadId": thread_id, "afterSeq": 0, "excludeTurns": True})
    assert ok["thread"]["id"] == thread_id
    replayed = await opted.notification("thread/started")
    assert replayed["seq"] == 1


async def test_replay_survives_a_graceful_restart(ws_spawn: Spawner, model: FakeModelServer, codex_home: Path) -> None:
    server = await ws_spawn(env=ENV)
    client = await connect(server, eventReplay=True)
    thread_id = await start_thread(client)
    model.enqueue(streamed_reply(300, {100: 30.0}))
    await start_turn(client, thread_id)
    await wait_for(lambda: len(deltas_of(client.received)) >= 100, what="100 deltas")
    watcher = await connect(server, eventReplay=True)
    await watcher.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    client.abort()
    await client.wait_closed()
    seen_before = numbered(client)
    # SIGTERM mid-turn: the turn ends interrupted, the log is flushed, connections get 1001.
    await server.signal()
    await watcher.wait_closed()
    assert watcher.close_code == 1001 and watcher.close_reason == "server shutting down"
    assert any(m["method"] == "turn/completed" for m in numbered(watcher))
    assert await server.wait() == 0

    restarted = await ws_spawn(env=ENV)
    again = await connect(restarted, eventReplay=True)
    after = seen_before[-1]["seq"]
    await again.result("thread/resume", {"threadId": thread_id, "excludeTurns": True, "afterSeq": after})
    # Everything the old process numbered is replayed first, then the new process's own (live)
    # notifications continue the numbering: wait for the first of those.
    last_old = max(m["seq"] for m in numbered(watcher))
    await wait_for(lambda: any(m["seq"] > last_old for m in numbered(again)), what="a live notification")
    replayed = numbered(again)
    seqs = [m["seq"] for m in replayed]
    assert seqs == list(range(after + 1, after + 1 + len(seqs)))
    completed = [m for m in replayed if m["method"] == "turn/completed"]
    assert completed and completed[0]["params"]["turn"]["status"] == "interrupted"
    missed = [m for m in numbered(watcher) if m["seq"] > after]
    assert replayed[: len(missed)] == missed


async def test_kill_and_reconnect_mid_turn(ws_spawn: Spawner, model: FakeModelServer) -> None:
    server = await ws_spawn(env=ENV)
    client = await connect(server, eventReplay=True)
    thread_id = await start_thread(client)
    model.enqueue(streamed_reply(200, {120: 60.0}))
    await start_turn(client, thread_id)
    await wait_for(lambda: len(deltas_of(client.received)) >= 120, what="120 deltas")
    await asyncio.sleep(0.3)  # let the log writer run at least once (not required for correctness)
    last_seen = numbered(client)[-1]["seq"]
    await server.kill()
    await client.wait_closed()

    restarted = await ws_spawn(env=ENV)
    again = await connect(restarted, eventReplay=True)
    reply = await again.result("thread/resume", {"threadId": thread_id, "afterSeq": last_seen})
    turn = reply["thread"]["turns"][-1]
    assert turn["status"] == "interrupted"
    await again.notification("thread/status/changed")
    # Whatever the crash lost, numbers never go back: nothing the client saw is reused.
    assert all(m["seq"] > last_seen for m in numbered(again))
    model.enqueue(text_reply("after the crash"))
    await start_turn(again, thread_id, "again")
    seen = await again.until("turn/completed")
    assert seen[-1]["params"]["turn"]["status"] == "completed"
    seqs = [m["seq"] for m in numbered(again)]
    assert seqs == sorted(set(seqs)) and seqs[0] > last_seen


# ---------------------------------------------------------------------- backpressure


@pytest.mark.compat("rpc:never-drop-replies")
async def test_flood_of_20000_requests_every_one_answered(ws_spawn: Spawner) -> None:
    server = await ws_spawn(env=ENV)
    client = await connect(server)
    assert client.ws is not None
    count = 20_000
    first_id = 1000
    futures = [client.expect(first_id + i, "thread/loaded/list") for i in range(count)]
    # Written without waiting for answers, while the client reads in the background (as any
    # real client does); every message is still schema-checked.
    for i in range(count):
        await client.ws.send(json.dumps({"id": first_id + i, "method": "thread/loaded/list", "params": {}}))
    answers = await asyncio.wait_for(asyncio.gather(*futures), 120)
    flood_ids = [rid for rid in client.response_ids if isinstance(rid, int) and rid >= first_id]
    assert sorted(flood_ids) == list(range(first_id, first_id + count))  # each exactly once
    overloaded = [a for a in answers if "error" in a]
    for answer in overloaded:
        assert answer["error"] == {"code": -32001, "message": "Server overloaded; retry later."}
    for answer in answers:
        if "result" in answer:
            assert answer["result"] == {"data": [], "nextCursor": None}
    assert (await client.result("thread/loaded/list", {}))["data"] == []


@pytest.mark.compat("ws:slow-client")
async def test_a_client_that_stops_reading_is_closed_and_slows_nobody(
    ws_spawn: Spawner, model: FakeModelServer
) -> None:
    server = await ws_spawn(env=ENV)
    fast = await connect(server)
    thread_id = await start_thread(fast)
    stalled = await server.client(rcvbuf=4096, max_queue=4)
    await stalled.initialize()
    await stalled.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    await stalled.stop_reading()
    baseline_kib = server.rss_kib()
    count = 20_000
    # Deltas of ~330 bytes on the wire: the notifications (~6.5 MiB) are more than the kernel
    # buffers for the stalled socket (the server's send buffer grows to 4 MiB) by about twice the
    # 4,096 messages the peer queues before it gives up on the client.
    model.enqueue(streamed_reply(count, pad=200))
    await start_turn(fast, thread_id)
    seen = await fast.until("turn/completed", within=120)
    assert deltas_of(seen) == pieces_of(count, pad=200)
    peak_kib = server.hwm_kib()
    # The server gives up on a client once one write to it has been blocked for a while (2 s),
    # which may be after the turn ends: the stalled client reads again only once it has.
    await server.logged(re.compile("closing a client that stopped reading"), within=30, waiting_for="give up")
    # Reading again, the stalled client finds what was already on its socket, then the close.
    stalled.start_reading()
    await stalled.wait_closed(within=60)
    assert stalled.close_code == 1013, (stalled.close_code, stalled.close_reason)
    assert "not reading" in stalled.close_reason
    assert len(deltas_of(stalled.received)) < count
    # Generous on purpose: the turn itself (20,000 deltas to the fast client, the history, the
    # replay log) costs ~65 MiB of peak RSS here; the stalled client adds at most its bounded
    # queue. The 1013 close above is the behavioural proof; this catches runaway growth.
    assert peak_kib - baseline_kib < 128 * 1024, (baseline_kib, peak_kib)
    assert (await fast.result("thread/loaded/list", {}))["data"] == [thread_id]


# ---------------------------------------------------------------------- idle threads


@pytest.mark.compat("ws:idle-unload")
async def test_idle_thread_unloads_with_status_and_closed(ws_spawn: Spawner, model: FakeModelServer) -> None:
    server = await ws_spawn(env=ENV, args=("--idle-thread-unload-seconds", "0.5"))
    client = await connect(server, eventReplay=True)
    thread_id = await start_thread(client)
    model.enqueue(text_reply("hello"))
    await start_turn(client, thread_id)
    await client.until("turn/completed")
    last = numbered(client)[-1]["seq"]
    assert (await client.result("thread/unsubscribe", {"threadId": thread_id}))["status"] == "unsubscribed"

    async def loaded() -> list[str]:
        return list((await client.result("thread/loaded/list", {}))["data"])

    for _ in range(300):
        if not await loaded():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the idle thread was not unloaded")
    await client.result("thread/resume", {"threadId": thread_id, "excludeTurns": True, "afterSeq": last})
    missed = [await client.notification() for _ in range(3)]
    assert [(m["method"], m["params"].get("status")) for m in missed] == [
        ("thread/status/changed", {"type": "notLoaded"}),
        ("thread/closed", None),
        ("thread/status/changed", {"type": "idle"}),
    ]
    assert [m["seq"] for m in missed] == [last + 1, last + 2, last + 3]
