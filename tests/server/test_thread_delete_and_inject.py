"""thread/delete and thread/inject_items through the real server: deletion takes history, replay
log and subscriptions (a running turn is interrupted first, notifications in the reference's
order); injected items join the model-visible history durably."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, delay, text_reply
from support.agent_turns import ENV, run_turn, start_agent, start_thread
from support.server_process import ServerClient, ServerProcess, Spawn


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, eventReplay=True)


def _after(messages: list[dict[str, Any]], marker: dict[str, Any]) -> list[str]:
    """Methods of the messages received after ``marker`` (notifications and replies alike)."""
    index = next(i for i, message in enumerate(messages) if message is marker)
    return [message.get("method", "reply") for message in messages[index + 1 :]]


async def test_delete_removes_the_thread_everywhere_and_survives_a_restart(
    agent: ServerProcess, model: FakeModelServer, spawn: Spawn
) -> None:
    model.enqueue(text_reply("kept until deleted"))
    thread_id = await start_thread(agent)
    await run_turn(agent, thread_id)
    other = await start_thread(agent)
    model.enqueue(text_reply("other"))
    await run_turn(agent, other)

    marker = agent.received[-1]
    assert await agent.result("thread/delete", {"threadId": thread_id}) == {}
    deleted = await agent.notification("thread/deleted")
    assert deleted["params"] == {"threadId": thread_id}
    # As the reference: the thread is unloaded before the reply, deleted after it.
    assert _after(agent.received, marker)[-3:] == ["thread/status/changed", "reply", "thread/deleted"]

    gone = await agent.call("thread/read", {"threadId": thread_id})
    assert gone["error"]["code"] == -32602 and thread_id in gone["error"]["message"]
    listed = await agent.result("thread/list", {})
    assert [thread["id"] for thread in listed["data"]] == [other]
    again = await agent.call("thread/delete", {"threadId": thread_id})
    assert again["error"] == {"code": -32602, "message": f"no rollout found for thread id {thread_id}"}
    resumed = await agent.call("thread/resume", {"threadId": thread_id, "afterSeq": 0})
    assert "error" in resumed
    await agent.stop()

    restarted = await spawn(env=ENV)
    await restarted.initialize(eventReplay=True)
    assert "error" in await restarted.call("thread/read", {"threadId": thread_id})
    assert [thread["id"] for thread in (await restarted.result("thread/list", {}))["data"]] == [other]
    agent.assert_schema_clean()


async def test_deleting_a_running_thread_interrupts_its_turn_first(
    agent: ServerProcess, model: FakeModelServer
) -> None:
    events = text_reply("slow answer", deltas=["slow", " answer"])
    first_delta = next(i for i, step in enumerate(events) if getattr(step, "type", "") == "response.output_text.delta")
    model.enqueue([*events[: first_delta + 1], delay(30), *events[first_delta + 1 :]])
    thread_id = await start_thread(agent)
    await agent.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    await agent.notification("item/agentMessage/delta")

    assert await agent.result("thread/delete", {"threadId": thread_id}) == {}
    completed = await agent.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "interrupted"
    await agent.notification("thread/deleted")
    assert "error" in await agent.call("thread/read", {"threadId": thread_id})
    assert (await agent.result("thread/loaded/list", {}))["data"] == []


async def test_delete_of_a_thread_never_used_and_of_bad_ids(agent: ServerProcess) -> None:
    fresh = await start_thread(agent)
    assert await agent.result("thread/delete", {"threadId": fresh}) == {}
    await agent.notification("thread/deleted")
    malformed = await agent.call("thread/delete", {"threadId": "nope"})
    assert malformed["error"]["code"] == -32602 and "invalid thread id" in malformed["error"]["message"]
    missing = await agent.call("thread/delete", {})
    assert missing["error"]["code"] == -32602 and "threadId" in missing["error"]["message"]


async def test_injected_items_reach_the_model_after_the_history_and_survive_a_restart(
    agent: ServerProcess, model: FakeModelServer, spawn: Spawn
) -> None:
    injected = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "INJECTED notes"}]}
    thread_id = await start_thread(agent)
    assert await agent.result("thread/inject_items", {"threadId": thread_id, "items": [injected]}) == {}
    model.enqueue(text_reply("seen"))
    await run_turn(agent, thread_id, "question")
    texts = [part["text"] for item in model.requests[-1].body["input"] for part in item.get("content") or []]
    # As the reference: after the environment context, before the turn's own input.
    assert texts.index("INJECTED notes") == texts.index("question") - 1
    await agent.stop()

    restarted = await spawn(env=ENV)
    await restarted.initialize()
    await restarted.result("thread/resume", {"threadId": thread_id})
    model.enqueue(text_reply("again"))
    await run_turn(restarted, thread_id, "next")
    texts = [part["text"] for item in model.requests[-1].body["input"] for part in item.get("content") or []]
    assert "INJECTED notes" in texts and texts.index("INJECTED notes") < texts.index("question")


async def test_inject_items_refuses_what_is_not_a_response_item(agent: ServerProcess) -> None:
    thread_id = await start_thread(agent)
    cases = {
        "items must not be empty": [],
        "items[0] is not a valid response item: expected an object with a `type`": [1],
        "items[0] is not a valid response item: missing field `type`": [{"foo": "bar"}],
        "items[1] is not a valid response item: a message needs `role`": [
            {"type": "reasoning", "summary": []},
            {"type": "message", "content": []},
        ],
    }
    for message, items in cases.items():
        refused = await agent.call("thread/inject_items", {"threadId": thread_id, "items": items})
        assert refused["error"]["code"] == -32602 and refused["error"]["message"].startswith(message), refused
    unknown = "01a23592-0000-7000-8000-000000000000"
    missing = await agent.call("thread/inject_items", {"threadId": unknown, "items": [{"type": "message"}]})
    assert missing["error"]["code"] == -32602
