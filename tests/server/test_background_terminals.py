"""thread/backgroundTerminals/list|terminate|clean (experimental) through the real server: the
commands a turn started with exec_command and left running."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import exec_args, run_turn, start_agent, start_thread
from support.server_process import ServerClient, Spawn


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, experimental=True)


async def _leave_running(agent: ServerClient, model: FakeModelServer, thread_id: str, call_id: str) -> None:
    # The command outlives the exec_command call (yield 300 ms) and the turn.
    model.enqueue(
        function_call_reply("exec_command", exec_args("echo up; sleep 600", yield_time_ms=300), call_id),
        text_reply("left it running"),
    )
    await run_turn(agent, thread_id)


async def test_running_commands_are_listed_and_terminated(
    agent: ServerClient, model: FakeModelServer, tmp_path: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path), approvalPolicy="never", sandbox="danger-full-access")
    assert await agent.result("thread/backgroundTerminals/list", {"threadId": thread_id}) == {
        "data": [],
        "nextCursor": None,
    }
    await _leave_running(agent, model, thread_id, "call_1")
    await _leave_running(agent, model, thread_id, "call_2")
    listed = await agent.result("thread/backgroundTerminals/list", {"threadId": thread_id})
    assert [terminal["itemId"] for terminal in listed["data"]] == ["call_1", "call_2"]
    first = listed["data"][0]
    assert "sleep 600" in first["command"] and first["cwd"] == str(tmp_path)
    assert first["osPid"] == int(first["processId"]) and first["rssKb"] > 0
    page = await agent.result("thread/backgroundTerminals/list", {"threadId": thread_id, "limit": 1})
    assert len(page["data"]) == 1 and page["nextCursor"] == "1"

    terminated = await agent.result(
        "thread/backgroundTerminals/terminate", {"threadId": thread_id, "processId": first["processId"]}
    )
    assert terminated == {"terminated": True}
    completed = await agent.notification("item/completed")
    assert completed["params"]["item"]["id"] == "call_1" and completed["params"]["item"]["exitCode"] is not None
    again = await agent.result(
        "thread/backgroundTerminals/terminate", {"threadId": thread_id, "processId": first["processId"]}
    )
    assert again == {"terminated": False}

    assert await agent.result("thread/backgroundTerminals/clean", {"threadId": thread_id}) == {}
    assert (await agent.notification("item/completed"))["params"]["item"]["id"] == "call_2"
    assert (await agent.result("thread/backgroundTerminals/list", {"threadId": thread_id}))["data"] == []
    agent.assert_schema_clean()


async def test_unknown_threads_and_bad_cursors(agent: ServerClient) -> None:
    unknown = "01a23592-0000-7000-8000-000000000000"
    for method in ("thread/backgroundTerminals/list", "thread/backgroundTerminals/clean"):
        missing = await agent.call(method, {"threadId": unknown})
        assert missing["error"] == {"code": -32602, "message": f"thread not found: {unknown}"}
    thread_id = await start_thread(agent)
    bad = await agent.call("thread/backgroundTerminals/list", {"threadId": thread_id, "cursor": "zz"})
    assert bad["error"] == {"code": -32602, "message": "invalid cursor: zz"}
    nothing = await agent.result("thread/backgroundTerminals/terminate", {"threadId": thread_id, "processId": "1"})
    assert nothing == {"terminated": False}
