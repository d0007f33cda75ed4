"""thread/turns/list, thread/items/list and the cursors of thread/resume {excludeTurns}, through
the real server: a few real turns against the fake model, and a 10,000-item thread seeded into
the real SQLite file and paged end to end in both directions."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.config import STATE_DIR_NAME
from agent_app_server.store import ThreadRecord, ThreadStore
from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import start_thread
from support.seed import DB_NAME
from support.server_process import ServerProcess, Spawn

UNKNOWN_THREAD = "019a0000-0000-7000-8000-00000000abcd"


async def run_turn(server: ServerProcess, thread_id: str, text: str) -> str:
    reply = await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    await server.notification("turn/completed")
    turn_id: str = reply["turn"]["id"]
    return turn_id


def error_of(response: dict[str, Any]) -> tuple[int, str]:
    assert "error" in response, response
    return response["error"]["code"], response["error"]["message"]


@pytest.mark.compat("history:cursor-errors")
@pytest.mark.compat("history:item-times")
async def test_pages_of_real_turns(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    turn_ids = []
    for n in range(3):
        model.enqueue(text_reply(f"answer {n}"))
        turn_ids.append(await run_turn(agent, thread_id, f"question {n}"))

    newest = await agent.result("thread/turns/list", {"threadId": thread_id, "limit": 2})
    assert [turn["id"] for turn in newest["data"]] == turn_ids[::-1][:2]
    for turn in newest["data"]:
        # A summary is the turn's question and its final answer.
        assert turn["itemsView"] == "summary" and turn["status"] == "completed"
        assert [item["type"] for item in turn["items"]] == ["userMessage", "agentMessage"]
    assert newest["data"][0]["items"][1]["text"] == "answer 2"
    oldest = await agent.result("thread/turns/list", {"threadId": thread_id, "cursor": newest["nextCursor"]})
    assert [turn["id"] for turn in oldest["data"]] == [turn_ids[0]] and oldest["nextCursor"] is None
    # A backwards cursor read the other way starts with its own turn again.
    again = await agent.result(
        "thread/turns/list", {"threadId": thread_id, "cursor": oldest["backwardsCursor"], "sortDirection": "asc"}
    )
    assert [turn["id"] for turn in again["data"]] == turn_ids
    full = await agent.result("thread/turns/list", {"threadId": thread_id, "sortDirection": "asc", "itemsView": "full"})
    assert [turn["itemsView"] for turn in full["data"]] == ["full"] * 3
    assert full["data"][0]["items"][0]["content"][0]["text"] == "question 0"
    bare = await agent.result("thread/turns/list", {"threadId": thread_id, "itemsView": "notLoaded"})
    assert all(turn["items"] == [] and turn["itemsView"] == "notLoaded" for turn in bare["data"])

    items = await agent.result("thread/items/list", {"threadId": thread_id})
    assert [entry["turnId"] for entry in items["data"]] == [t for t in turn_ids for _ in range(2)]
    assert [entry["item"]["type"] for entry in items["data"]] == ["userMessage", "agentMessage"] * 3
    assert all(entry["startedAtMs"] is None and entry["completedAtMs"] is None for entry in items["data"])
    assert items["nextCursor"] is None
    user_item = items["data"][2]["item"]["id"]
    of_turn = await agent.result("thread/items/list", {"threadId": thread_id, "turnId": turn_ids[1]})
    assert [entry["item"] for entry in of_turn["data"]] == [entry["item"] for entry in items["data"][2:4]]
    anchored = {"type": "item", "itemId": user_item}
    after = await agent.result("thread/items/list", {"threadId": thread_id, "turnId": turn_ids[1], "cursor": anchored})
    assert [entry["item"]["text"] for entry in after["data"]] == ["answer 1"]
    before = await agent.result(
        "thread/items/list",
        {"threadId": thread_id, "turnId": turn_ids[1], "cursor": anchored, "sortDirection": "desc"},
    )
    assert before["data"] == [] and before["backwardsCursor"] is None

    resumed = await agent.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    assert resumed["thread"]["turns"] == []
    head = await agent.result(
        "thread/turns/list",
        {"threadId": thread_id, "cursor": resumed["turnsBackwardsCursor"], "sortDirection": "desc", "limit": 1},
    )
    assert [turn["id"] for turn in head["data"]] == [turn_ids[2]]
    last_item = await agent.result(
        "thread/items/list",
        {"threadId": thread_id, "cursor": resumed["itemsBackwardsCursor"], "sortDirection": "desc", "limit": 2},
    )
    assert [entry["item"]["type"] for entry in last_item["data"]] == ["agentMessage", "userMessage"]
    assert last_item["data"][0]["item"]["text"] == "answer 2"

    # After a revert the dropped turn's cursor is refused; the kept ones still work.
    await agent.result("thread/revert", {"threadId": thread_id, "beforeTurnId": turn_ids[2]})
    stale = await agent.call(
        "thread/turns/list", {"threadId": thread_id, "cursor": resumed["turnsBackwardsCursor"], "sortDirection": "desc"}
    )
    assert error_of(stale) == (-32602, f"invalid cursor: {resumed['turnsBackwardsCursor']}")
    kept = await agent.result("thread/turns/list", {"threadId": thread_id, "cursor": oldest["backwardsCursor"]})
    assert [turn["id"] for turn in kept["data"]] == [turn_ids[0]]


@pytest.mark.compat("history:page-limit")
@pytest.mark.compat("history:cursor-errors")
async def test_bad_page_requests(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("hi"))
    turn_id = await run_turn(agent, thread_id, "hello")
    turns = await agent.result("thread/turns/list", {"threadId": thread_id})
    items = await agent.result("thread/items/list", {"threadId": thread_id})

    for method, cursor in [
        ("thread/turns/list", "!!"),
        ("thread/items/list", "not-a-cursor"),
        ("thread/turns/list", items["backwardsCursor"]),  # an item cursor is not a turn cursor
        ("thread/items/list", turns["backwardsCursor"]),
    ]:
        response = await agent.call(method, {"threadId": thread_id, "cursor": cursor})
        assert error_of(response) == (-32602, f"invalid cursor: {cursor}")
    for method in ("thread/turns/list", "thread/items/list"):
        code, message = error_of(await agent.call(method, {"threadId": UNKNOWN_THREAD}))
        assert code == -32602 and message == f"thread not found: {UNKNOWN_THREAD}"
        code, message = error_of(await agent.call(method, {"threadId": thread_id, "limit": 0}))
        assert code == -32602 and "limit must be at least 1" in message
    code, message = error_of(
        await agent.call("thread/items/list", {"threadId": thread_id, "cursor": {"type": "item", "itemId": "x"}})
    )
    assert code == -32602 and "turnId" in message
    code, message = error_of(
        await agent.call(
            "thread/items/list", {"threadId": thread_id, "turnId": turn_id, "cursor": {"type": "item", "itemId": "x"}}
        )
    )
    assert code == -32602 and message.startswith("invalid cursor:")
    code, message = error_of(await agent.call("thread/items/list", {"threadId": thread_id, "turnId": "nope"}))
    assert (code, message) == (-32602, "turn not found: nope")


async def test_unsaved_and_ephemeral_threads(agent: ServerProcess, model: FakeModelServer) -> None:
    fresh = await start_thread(agent)
    assert (await agent.result("thread/turns/list", {"threadId": fresh}))["data"] == []
    resumed = await agent.result("thread/resume", {"threadId": fresh, "excludeTurns": True})
    assert resumed["turnsBackwardsCursor"] is None and resumed["itemsBackwardsCursor"] is None

    ephemeral = await start_thread(agent, ephemeral=True)
    model.enqueue(text_reply("only in memory"))
    turn_id = await run_turn(agent, ephemeral, "remember nothing")
    turns = await agent.result("thread/turns/list", {"threadId": ephemeral, "itemsView": "full"})
    assert [turn["id"] for turn in turns["data"]] == [turn_id]
    items = await agent.result("thread/items/list", {"threadId": ephemeral, "sortDirection": "desc"})
    assert items["data"][0]["item"]["text"] == "only in memory"
    page = await agent.result("thread/items/list", {"threadId": ephemeral, "cursor": items["backwardsCursor"]})
    assert [entry["item"]["text"] for entry in page["data"]] == ["only in memory"]


# ---------------------------------------------------------------------- 10,000 items

TURNS = 2_000
ITEMS_PER_TURN = 5  # question, reasoning, two interim messages, the answer


def seeded_turn(t: int) -> list[tuple[str, Any]]:
    turn_id = f"turn-{t:05d}"
    started = {"id": turn_id, "items": [], "itemsView": "notLoaded", "status": "inProgress", "startedAt": 1}
    items = [
        {"type": "userMessage", "id": f"u-{t}", "content": [{"type": "text", "text": f"q{t}", "text_elements": []}]},
        {"type": "reasoning", "id": f"r-{t}", "summary": ["thinking"], "content": []},
        {"type": "agentMessage", "id": f"a-{t}-0", "text": "looking"},
        {"type": "agentMessage", "id": f"a-{t}-1", "text": "still looking"},
        {"type": "agentMessage", "id": f"a-{t}-2", "text": f"answer {t}"},
    ]
    events: list[tuple[str, Any]] = [("turn/started", started)]
    events += [("item/completed", {"turnId": turn_id, "item": item}) for item in items]
    events.append(("turn/completed", {**started, "status": "completed", "completedAt": 2, "durationMs": 9}))
    return events


async def seed_long_thread(codex_home: Path, cwd: Path) -> str:
    thread_id = "019a0000-0000-7000-8000-000000010000"
    store = await ThreadStore.open(codex_home / STATE_DIR_NAME / DB_NAME)
    try:
        now = int(time.time())
        await store.put_thread(
            ThreadRecord(
                id=thread_id,
                created_at=now,
                updated_at=now,
                cwd=str(cwd),
                model_provider="mock",
                source_kind="vscode",
                source="vscode",
                originator="seed",
                preview="a long thread",
            )
        )
        events = [event for t in range(TURNS) for event in seeded_turn(t)]
        await store.append_events(thread_id, events)
    finally:
        await store.close()
    return thread_id


async def page_through(server: ServerProcess, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = params.pop("cursor", None)
    for _ in range(1_000):
        page = await server.result(method, {**params, **({"cursor": cursor} if cursor else {})})
        assert len(page["data"]) <= params.get("limit", 25)
        rows += page["data"]
        cursor = page["nextCursor"]
        if cursor is None:
            return rows
    raise AssertionError("paging did not end")


@pytest.mark.compat("history:page-limit")
async def test_ten_thousand_items_paged_both_ways(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    thread_id = await seed_long_thread(codex_home, tmp_path)
    server = await spawn()
    await server.initialize()
    expected = [item["id"] for t in range(TURNS) for _, event in seeded_turn(t)[1:-1] for item in [event["item"]]]
    assert len(expected) == TURNS * ITEMS_PER_TURN == 10_000

    # Pages hold 25 by default and never more than 100.
    default = await server.result("thread/items/list", {"threadId": thread_id})
    assert len(default["data"]) == 25
    capped = await server.result("thread/items/list", {"threadId": thread_id, "limit": 500})
    assert len(capped["data"]) == 100
    # Not loaded: served straight from the store.
    forward = await page_through(server, "thread/items/list", {"threadId": thread_id, "limit": 100})
    assert [entry["item"]["id"] for entry in forward] == expected
    assert forward[-1]["turnId"] == f"turn-{TURNS - 1:05d}"

    resumed = await server.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    assert resumed["thread"]["turns"] == []
    backward = await page_through(
        server,
        "thread/items/list",
        {"threadId": thread_id, "limit": 100, "sortDirection": "desc", "cursor": resumed["itemsBackwardsCursor"]},
    )
    assert [entry["item"]["id"] for entry in backward] == expected[::-1]

    newest = await server.result(
        "thread/turns/list",
        {"threadId": thread_id, "limit": 50, "cursor": resumed["turnsBackwardsCursor"], "sortDirection": "desc"},
    )
    assert [turn["id"] for turn in newest["data"]] == [f"turn-{t:05d}" for t in range(TURNS - 1, TURNS - 51, -1)]
    assert (
        newest["data"][0]["items"][-1]["text"] == f"answer {TURNS - 1}" and newest["data"][0]["status"] == "completed"
    )
    # Turns page the whole thread too (without items, to keep the client's schema checks cheap).
    turns = await page_through(
        server, "thread/turns/list", {"threadId": thread_id, "limit": 100, "itemsView": "notLoaded"}
    )
    assert [turn["id"] for turn in turns] == [f"turn-{t:05d}" for t in reversed(range(TURNS))]
    middle = await server.result(
        "thread/items/list", {"threadId": thread_id, "turnId": "turn-01000", "sortDirection": "desc", "limit": 2}
    )
    assert [entry["item"]["id"] for entry in middle["data"]] == ["a-1000-2", "a-1000-1"]


async def test_items_read_by_id_from_a_long_thread(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    thread_id = await seed_long_thread(codex_home, tmp_path)
    server = await spawn()
    await server.initialize(experimental=True)
    turn = f"turn-{TURNS - 1:05d}"
    ids = [event["item"]["id"] for _, event in seeded_turn(TURNS - 1)[1:-1]]
    # Asked in any order, answered in stored order; ids that are not there are left out.
    asked = [ids[-1], "not-an-item", ids[0]]
    read = await server.result("thread/items/read", {"threadId": thread_id, "turnId": turn, "itemIds": asked})
    assert [entry["item"]["id"] for entry in read["data"]] == [ids[0], ids[-1]]
    assert all(entry["turnId"] == turn for entry in read["data"])
    other_turn = await server.result(
        "thread/items/read", {"threadId": thread_id, "turnId": "turn-00000", "itemIds": [ids[0]]}
    )
    assert other_turn == {"data": []}
    assert await server.result(
        "thread/items/read", {"threadId": thread_id, "turnId": "no-such-turn", "itemIds": ["x"]}
    ) == {"data": []}
    for count in (0, 101):
        bad = await server.call(
            "thread/items/read", {"threadId": thread_id, "turnId": turn, "itemIds": [f"i{n}" for n in range(count)]}
        )
        assert bad["error"]["code"] == -32602 and "1 to 100" in bad["error"]["message"]
    server.assert_schema_clean()
