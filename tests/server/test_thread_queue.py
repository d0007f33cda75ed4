"""thread/queue/* (experimental) through the real server: prompts queued while a turn runs start
one after another, in the queue's order, and every change is announced."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, Hold, text_reply
from support.agent_turns import start_agent, start_thread
from support.server_process import ServerClient, Spawn


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, experimental=True)


def _text(prompt: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": prompt}]


def _held_reply(text: str, release: asyncio.Event) -> list[Any]:
    """A reply that starts streaming, then waits until the test releases it."""
    events = text_reply(text)
    return [events[0], Hold(release), *events[1:]]


def _prompts(model: FakeModelServer) -> list[str]:
    prompts = []
    for request in model.response_requests():
        last = request.body["input"][-1]
        prompts.append(last["content"][0]["text"])
    return prompts


async def test_queued_prompts_start_in_order_after_the_running_turn(
    agent: ServerClient, model: FakeModelServer
) -> None:
    thread_id = await start_thread(agent)
    release = asyncio.Event()
    model.enqueue(_held_reply("one", release), text_reply("two"), text_reply("three"))
    first = await agent.result(
        "thread/queue/add", {"threadId": thread_id, "clientUserMessageId": "c1", "input": _text("first")}
    )
    # Idle thread: the first submission starts at once and leaves the queue.
    started = await agent.notification("turn/started")
    assert first["queuedSubmission"]["clientUserMessageId"] == "c1"
    second = await agent.result(
        "thread/queue/add", {"threadId": thread_id, "clientUserMessageId": "c2", "input": _text("second")}
    )
    third = await agent.result(
        "thread/queue/add", {"threadId": thread_id, "clientUserMessageId": "c3", "input": _text("third")}
    )
    queued = await agent.result("thread/queue/list", {"threadId": thread_id})
    assert [s["id"] for s in queued["data"]] == [second["queuedSubmission"]["id"], third["queuedSubmission"]["id"]]
    # Third before second.
    order = [third["queuedSubmission"]["id"], second["queuedSubmission"]["id"]]
    assert await agent.result("thread/queue/reorder", {"threadId": thread_id, "queuedSubmissionIds": order}) == {}
    busy = await agent.call("thread/queue/start", {"threadId": thread_id})
    assert busy["error"]["code"] == -32600 and "active" in busy["error"]["message"]
    release.set()

    completed_turns = []
    while len(completed_turns) < 3:
        completed = await agent.notification("turn/completed", timeout=60)
        completed_turns.append(completed["params"]["turn"]["id"])
    assert completed_turns[0] == started["params"]["turn"]["id"]
    assert _prompts(model) == ["first", "third", "second"]
    assert (await agent.result("thread/queue/list", {"threadId": thread_id}))["data"] == []
    changed = [m for m in agent.received if m.get("method") == "thread/queue/changed"]
    assert len(changed) >= 6 and all(m["params"] == {"threadId": thread_id} for m in changed)
    agent.assert_schema_clean()


async def test_queue_edits_and_their_errors(agent: ServerClient, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    release = asyncio.Event()
    model.enqueue(_held_reply("busy", release), text_reply("later"))
    await agent.result("thread/queue/add", {"threadId": thread_id, "clientUserMessageId": "c0", "input": _text("go")})
    await agent.notification("turn/started")
    added = await agent.result(
        "thread/queue/add",
        {
            "threadId": thread_id,
            "clientUserMessageId": "c1",
            "input": _text("draft"),
            "responsesapiClientMetadata": {"k": "v"},
        },
    )
    submission_id = added["queuedSubmission"]["id"]
    updated = await agent.result(
        "thread/queue/update", {"threadId": thread_id, "queuedSubmissionId": submission_id, "input": _text("final")}
    )
    assert updated["queuedSubmission"]["input"][0]["text"] == "final"
    assert updated["queuedSubmission"]["responsesapiClientMetadata"] == {"k": "v"}
    missing = await agent.call(
        "thread/queue/update", {"threadId": thread_id, "queuedSubmissionId": "nope", "input": _text("x")}
    )
    assert missing["error"]["code"] == -32602 and "nope" in missing["error"]["message"]
    bad_order = await agent.call("thread/queue/reorder", {"threadId": thread_id, "queuedSubmissionIds": ["nope"]})
    assert bad_order["error"]["code"] == -32602 and "exactly once" in bad_order["error"]["message"]
    empty = await agent.call("thread/queue/add", {"threadId": thread_id, "clientUserMessageId": "c2", "input": []})
    assert empty["error"]["code"] == -32602
    assert await agent.result("thread/queue/delete", {"threadId": thread_id, "queuedSubmissionId": submission_id}) == {
        "deleted": True
    }
    assert await agent.result("thread/queue/delete", {"threadId": thread_id, "queuedSubmissionId": submission_id}) == {
        "deleted": False
    }
    release.set()
    await agent.notification("turn/completed", timeout=60)
    idle_empty = await agent.call("thread/queue/start", {"threadId": thread_id})
    assert idle_empty["error"]["code"] == -32602 and "empty" in idle_empty["error"]["message"]
