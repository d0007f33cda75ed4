"""Thread sections through the real server: the built-in Pinned section, the user's own,
ordering within a section, thread/list by section, broadcasts to every client, and restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.agent_turns import ENV, run_turn, start_thread
from support.server_process import ServerProcess, Spawn
from support.ws_client import ws_servers

PINNED = "01984de2-8f74-7c91-a3b2-5c5e937cf318"


async def _stored_thread(agent: ServerProcess, model: FakeModelServer) -> str:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("ok"))
    await run_turn(agent, thread_id)
    return thread_id


async def _in_section(agent: ServerProcess, section_id: str, **params: Any) -> list[str]:
    listed = await agent.result("thread/list", {"sectionId": section_id, **params})
    return [thread["id"] for thread in listed["data"]]


async def test_sections_order_threads_and_survive_a_restart(
    agent: ServerProcess, model: FakeModelServer, spawn: Spawn
) -> None:
    a, b, c = [await _stored_thread(agent, model) for _ in range(3)]
    created = await agent.result("threadSection/create", {"name": " Work ", "appearance": {"color": "red"}})
    work = created["section"]
    assert work["name"] == "Work" and work["appearance"] == {"color": "red", "icon": None}
    listed = await agent.result("threadSection/list", {})
    assert [section["name"] for section in listed["data"]] == ["Pinned", "Work"]

    for thread_id, before in ((a, None), (b, None), (c, a)):
        params = {"threadId": thread_id, "sectionId": work["id"]}
        if before is not None:
            params["beforeThreadId"] = before
        assert await agent.result("thread/section/move", params) == {}
        changed = await agent.notification("thread/section/changed")
        assert changed["params"] == {"threadId": thread_id, "sectionId": work["id"]}
    by_position = {"sortKey": "section_position"}
    assert await _in_section(agent, work["id"], **by_position) == [c, a, b]
    await agent.result("thread/section/move", {"threadId": b, "sectionId": work["id"], "beforeThreadId": c})
    assert await _in_section(agent, work["id"], **by_position) == [b, c, a]
    assert await _in_section(agent, work["id"], sortKey="section_position", sortDirection="desc") == [a, c, b]
    first = await agent.result("thread/list", {"sectionId": work["id"], **by_position, "limit": 2})
    rest = await agent.result(
        "thread/list", {"sectionId": work["id"], **by_position, "limit": 2, "cursor": first["nextCursor"]}
    )
    assert [t["id"] for t in first["data"] + rest["data"]] == [b, c, a]

    read = await agent.result("thread/read", {"threadId": a})
    assert read["thread"]["section"] == work and isinstance(read["thread"]["sectionEnteredAt"], int)
    renamed = await agent.result("threadSection/update", {"sectionId": work["id"], "name": "Focus"})
    assert renamed["section"]["name"] == "Focus" and renamed["section"]["appearance"] == work["appearance"]
    await agent.stop()

    restarted = await spawn(env=ENV)
    await restarted.initialize()
    assert await _in_section(restarted, work["id"], **by_position) == [b, c, a]
    assert (await restarted.result("thread/read", {"threadId": a}))["thread"]["section"]["name"] == "Focus"
    assert await restarted.result("threadSection/delete", {"sectionId": work["id"]}) == {}
    assert (await restarted.result("thread/read", {"threadId": a}))["thread"]["section"] is None
    assert [s["name"] for s in (await restarted.result("threadSection/list", {}))["data"]] == ["Pinned"]
    restarted.assert_schema_clean()


async def test_pinned_is_built_in_and_moves_reach_every_client(codex_home: Path, tmp_path: Path) -> None:
    async with ws_servers(codex_home, tmp_path) as ws_spawn:
        server = await ws_spawn()
        mover = await server.client()
        await mover.initialize()
        watcher = await server.client()
        await watcher.initialize()
        thread_id = (await mover.result("thread/start", {}))["thread"]["id"]  # unsaved: the section lives in memory
        await mover.result("thread/section/move", {"threadId": thread_id, "sectionId": PINNED})
        for client in (mover, watcher):
            changed = await client.notification("thread/section/changed")
            assert changed["params"] == {"threadId": thread_id, "sectionId": PINNED}
        read = await mover.result("thread/read", {"threadId": thread_id})
        assert read["thread"]["section"] == {"id": PINNED, "name": "Pinned", "appearance": None}
        refused = await mover.call("threadSection/update", {"sectionId": PINNED, "name": "Pins"})
        assert refused["error"] == {"code": -32602, "message": "the built-in pinned section cannot be renamed"}
        refused = await mover.call("threadSection/delete", {"sectionId": PINNED})
        assert refused["error"] == {"code": -32602, "message": "the built-in pinned section cannot be deleted"}
        await mover.result("thread/section/move", {"threadId": thread_id, "sectionId": None})
        assert (await watcher.notification("thread/section/changed"))["params"]["sectionId"] is None
        assert (await mover.result("thread/read", {"threadId": thread_id}))["thread"]["section"] is None


@pytest.mark.compat("pages:unknown-cursor")
async def test_bad_section_requests_name_what_to_fix(agent: ServerProcess) -> None:
    thread_id = await start_thread(agent)
    blank = await agent.call("threadSection/create", {"name": "  "})
    assert blank["error"] == {"code": -32602, "message": "section name must not be empty"}
    missing = await agent.call("thread/section/move", {"threadId": thread_id, "sectionId": "nope"})
    assert missing["error"] == {"code": -32602, "message": "thread section not found: nope"}
    stray = await agent.call(
        "thread/section/move", {"threadId": thread_id, "sectionId": None, "beforeThreadId": thread_id}
    )
    assert stray["error"] == {"code": -32602, "message": "beforeThreadId requires a non-null sectionId"}
    outsider = "01a23592-0000-7000-8000-000000000000"
    not_member = await agent.call(
        "thread/section/move", {"threadId": thread_id, "sectionId": PINNED, "beforeThreadId": outsider}
    )
    assert not_member["error"] == {
        "code": -32602,
        "message": f"before thread {outsider} is not in section {PINNED}",
    }
    unsorted = await agent.call("thread/list", {"sortKey": "section_position"})
    assert unsorted["error"]["code"] == -32602 and "sectionId" in unsorted["error"]["message"]
    assert (await agent.call("threadSection/update", {"sectionId": "nope", "name": "x"}))["error"]["code"] == -32602
    bad_cursor = await agent.call("threadSection/list", {"cursor": "zz"})
    assert bad_cursor["error"] == {"code": -32602, "message": "invalid cursor: zz"}
    no_section = await agent.call("thread/section/move", {"threadId": thread_id})
    assert no_section["error"]["code"] == -32602 and "sectionId" in no_section["error"]["message"]


async def test_many_inserts_at_one_place_keep_their_order(agent: ServerProcess, model: FakeModelServer) -> None:
    section = (await agent.result("threadSection/create", {"name": "Deep"}))["section"]["id"]
    anchor = await start_thread(agent)
    await agent.result("thread/section/move", {"threadId": anchor, "sectionId": section})
    inserted = []
    # Each new thread goes right before the previous one: the gap halves every time, until the
    # section is renumbered.
    before = anchor
    for _ in range(60):
        thread_id = await start_thread(agent)
        await agent.result(
            "thread/section/move", {"threadId": thread_id, "sectionId": section, "beforeThreadId": before}
        )
        inserted.append(thread_id)
        before = thread_id
    # Only stored threads are listed: give every thread a turn, then check the order.
    for thread_id in [anchor, *inserted]:
        model.enqueue(text_reply("ok"))
        await run_turn(agent, thread_id)
    listed = await agent.result("thread/list", {"sectionId": section, "sortKey": "section_position", "limit": 100})
    assert [thread["id"] for thread in listed["data"]] == [*reversed(inserted), anchor]
