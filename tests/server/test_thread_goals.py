"""thread/goal/* through the real server: a goal is stored with its thread, announced to its
clients, and an active goal keeps the agent working — continuation turns that carry the objective
and the budget to the model as the reference's do — until it is complete or its budget is spent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agent_app_server.testing.fake_model import FakeModelServer, Hold, default_usage, function_call_reply, text_reply
from support.agent_turns import ENV, run_turn, start_agent, start_thread
from support.model_config import write_mock_config
from support.server_process import ServerClient, Spawn

UNKNOWN_THREAD = "019a0000-0000-7000-8000-00000000abcd"


def _reply(text: str) -> list[Any]:
    """A text answer that uses 15 tokens (10 in, 5 out), as the reference's fake model's."""
    return text_reply(text, usage=default_usage())


async def _goal_turns(server: ServerClient, count: int) -> list[list[dict[str, Any]]]:
    """The notifications of the next ``count`` turns, each up to its ``turn/completed``."""
    turns: list[list[dict[str, Any]]] = []
    seen: list[dict[str, Any]] = []
    while len(turns) < count:
        message = await server.notification()
        seen.append(message)
        if message["method"] == "turn/completed":
            turns.append(seen)
            seen = []
    return turns


async def test_set_get_clear_announce_and_refuse_as_the_reference(spawn: Spawn, codex_home: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1")
    server = await spawn(env=ENV)
    await server.initialize()
    thread_id = await start_thread(server)
    assert await server.result("thread/goal/get", {"threadId": thread_id}) == {"goal": None}

    # A paused goal: stored and announced, no turn starts.
    goal = (
        await server.result(
            "thread/goal/set", {"threadId": thread_id, "objective": "  Fix the bug ", "status": "paused"}
        )
    )["goal"]
    assert goal["objective"] == "Fix the bug" and goal["status"] == "paused"
    assert goal["tokenBudget"] is None and goal["tokensUsed"] == 0 and goal["timeUsedSeconds"] == 0
    updated = await server.notification("thread/goal/updated")
    assert updated["params"] == {"threadId": thread_id, "turnId": None, "goal": goal}

    # The same unfinished objective is updated, not replaced.
    again = (
        await server.result("thread/goal/set", {"threadId": thread_id, "objective": "Fix the bug", "tokenBudget": 500})
    )["goal"]
    assert again["createdAt"] == goal["createdAt"] and again["tokenBudget"] == 500 and again["status"] == "paused"
    await server.notification("thread/goal/updated")
    # Absent keeps the budget, null removes it.
    assert (await server.result("thread/goal/set", {"threadId": thread_id}))["goal"]["tokenBudget"] == 500
    assert (await server.result("thread/goal/set", {"threadId": thread_id, "tokenBudget": None}))["goal"][
        "tokenBudget"
    ] is None
    assert (await server.result("thread/goal/get", {"threadId": thread_id}))["goal"]["tokenBudget"] is None

    refused = {
        "goal objective must not be empty": {"threadId": thread_id, "objective": "   "},
        "goal budgets must be positive when provided": {"threadId": thread_id, "tokenBudget": 0},
        "goal objective must be at most 4000 characters": {"threadId": thread_id, "objective": "x" * 4001},
    }
    for message, params in refused.items():
        error = (await server.call("thread/goal/set", params))["error"]
        assert error["code"] == -32602 and message in error["message"]
    unknown = await server.call("thread/goal/get", {"threadId": UNKNOWN_THREAD})
    assert f"thread not found: {UNKNOWN_THREAD}" in unknown["error"]["message"]

    assert await server.result("thread/goal/clear", {"threadId": thread_id}) == {"cleared": True}
    assert (await server.notification("thread/goal/cleared"))["params"] == {"threadId": thread_id}
    assert await server.result("thread/goal/clear", {"threadId": thread_id}) == {"cleared": False}
    no_goal = await server.call("thread/goal/set", {"threadId": thread_id, "status": "active"})
    assert f"cannot update goal for thread {thread_id}: no goal exists" in no_goal["error"]["message"]
    assert [m for m in await server.notifications_within() if "goal" in m["method"]] == []

    ephemeral = await start_thread(server, ephemeral=True)
    refused_ephemeral = await server.call("thread/goal/set", {"threadId": ephemeral, "objective": "x"})
    assert f"ephemeral thread does not support goals: {ephemeral}" in refused_ephemeral["error"]["message"]


async def test_an_active_goal_continues_until_its_budget_is_spent(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server)
    model.enqueue(_reply("hello"))
    await run_turn(server, thread_id, "hello")
    model.enqueue(_reply("step one"), _reply("step two"), _reply("step three"))

    await server.result("thread/goal/set", {"threadId": thread_id, "objective": "Fix the bug", "tokenBudget": 40})
    turns = await _goal_turns(server, 3)

    goals = []
    for turn in turns:
        items = [m["params"]["item"]["type"] for m in turn if m["method"] == "item/completed"]
        assert items == ["agentMessage"], "a continuation has no user message"
        # As the reference: the goal's accounting (with the turn's id) comes before the turn's end.
        update = [m["params"] for m in turn if m["method"] == "thread/goal/updated"][-1]
        assert turn[-1]["method"] == "turn/completed"
        assert update["turnId"] == turn[-1]["params"]["turn"]["id"]
        goals.append(update["goal"])
    assert [(g["tokensUsed"], g["status"]) for g in goals] == [(15, "active"), (30, "active"), (45, "budgetLimited")]

    requests = model.response_requests()[1:]
    assert len(requests) == 3
    first_input = requests[0].body["input"]
    objective = first_input[-2]
    assert objective["type"] == "function_call_output" and objective["name"] == "goal_objective"
    assert objective["namespace"] == "agent" and objective["output"] == "Fix the bug"
    prompt = first_input[-1]["content"][0]["text"]
    assert prompt.startswith('<codex_internal_context source="goal">\n')
    assert prompt.endswith("</codex_internal_context>")
    assert "Budget:\n- Tokens used: 0\n- Token budget: 40\n- Tokens remaining: 40\n" in prompt
    # The objective is told once; the next continuations carry the budget as it now is.
    later = requests[2].body["input"]
    assert sum(1 for item in later if item.get("name") == "goal_objective") == 1
    assert "- Tokens used: 30\n- Token budget: 40\n- Tokens remaining: 10\n" in later[-1]["content"][0]["text"]
    tools = [tool["name"] for tool in requests[0].body["tools"]]
    assert {"get_goal", "create_goal", "update_goal"} <= set(tools)

    final = (await server.result("thread/goal/get", {"threadId": thread_id}))["goal"]
    assert final["status"] == "budgetLimited" and final["tokensUsed"] == 45
    assert not [m for m in await server.notifications_within() if m["method"] == "turn/started"]


async def test_the_model_completes_the_goal_with_its_tool(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server)
    model.enqueue(
        function_call_reply("get_goal", "{}", "call_get"),
        function_call_reply("update_goal", json.dumps({"status": "complete"}), "call_done"),
        _reply("Done: the bug is fixed."),
    )
    await server.result("thread/goal/set", {"threadId": thread_id, "objective": "Fix the bug"})
    (turn,) = await _goal_turns(server, 1)
    statuses = [m["params"]["goal"]["status"] for m in turn if m["method"] == "thread/goal/updated"]
    # Set (active), the tool's update (complete) — a finished goal is not counted again.
    assert statuses == ["active", "complete"]
    outputs = {
        item["call_id"]: json.loads(item["output"])
        for item in model.response_requests()[-1].body["input"]
        if item.get("type") == "function_call_output" and "call_id" in item
    }
    assert outputs["call_get"]["goal"]["objective"] == "Fix the bug"
    assert outputs["call_get"]["goal"]["remainingTokens"] is None
    assert outputs["call_done"]["goal"]["status"] == "complete"
    assert (await server.result("thread/goal/get", {"threadId": thread_id}))["goal"]["status"] == "complete"
    assert not [m for m in await server.notifications_within() if m["method"] == "turn/started"]


async def test_a_goal_is_stored_with_its_thread(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    first = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(first)
    model.enqueue(_reply("hello"))
    await run_turn(first, thread_id, "hello")
    goal = (await first.result("thread/goal/set", {"threadId": thread_id, "objective": "Ship it", "status": "paused"}))[
        "goal"
    ]
    await first.stop()

    second = await spawn(env=ENV)
    await second.initialize()
    # Not loaded: read and changed in the store.
    assert (await second.result("thread/goal/get", {"threadId": thread_id}))["goal"] == goal
    await second.result("thread/resume", {"threadId": thread_id})
    announced = await second.notification("thread/goal/updated")
    assert announced["params"] == {"threadId": thread_id, "turnId": None, "goal": goal}


async def test_an_interrupted_goal_turn_waits_for_the_user(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    server = await start_agent(spawn, codex_home, model)
    thread_id = await start_thread(server)
    release = asyncio.Event()
    events = _reply("working")
    model.enqueue([events[0], Hold(release), *events[1:]])
    await server.result("thread/goal/set", {"threadId": thread_id, "objective": "Fix the bug"})
    started = (await server.notification("turn/started"))["params"]["turn"]["id"]
    await server.result("turn/interrupt", {"threadId": thread_id, "turnId": started})
    release.set()
    seen = []
    while (message := await server.notification())["method"] != "turn/completed":
        seen.append(message)
    assert message["params"]["turn"]["status"] == "interrupted"
    # As the reference: not accounted, not continued; the goal stays active for the next turn.
    assert "thread/goal/updated" not in [m["method"] for m in seen]
    assert not [m for m in await server.notifications_within() if m["method"] == "turn/started"]
    goal = (await server.result("thread/goal/get", {"threadId": thread_id}))["goal"]
    assert goal["status"] == "active" and goal["tokensUsed"] == 0
