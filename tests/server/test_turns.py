"""Real turns through the real server against a fake Responses API server over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    delay,
    disconnect_after,
    function_call_reply,
    http_error,
    response_failed,
    text_reply,
)
from support.agent_turns import ENV
from support.model_config import write_mock_config
from support.server_process import ServerProcess, Spawn


async def start_thread(server: ServerProcess, cwd: Path | None = None) -> str:
    params = {"cwd": str(cwd)} if cwd else {}
    thread_id: str = (await server.result("thread/start", params))["thread"]["id"]
    await server.notification("thread/started")
    return thread_id


async def run_turn(server: ServerProcess, thread_id: str, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Start a turn and collect every notification up to its turn/completed."""
    reply = await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    seen = []
    while True:
        message = await server.notification()
        seen.append(message)
        if message["method"] == "turn/completed":
            return reply, seen


def paused_reply(text: str, deltas: list[str], seconds: float) -> list[Any]:
    """A text reply that stops for ``seconds`` after its first text delta."""
    events = text_reply(text, deltas=deltas)
    first_delta = next(i for i, step in enumerate(events) if getattr(step, "type", "") == "response.output_text.delta")
    return [*events[: first_delta + 1], delay(seconds), *events[first_delta + 1 :]]


def methods(notifications: list[dict[str, Any]]) -> list[str]:
    return [n["method"] for n in notifications]


def input_texts(body: dict[str, Any]) -> list[str]:
    texts = []
    for item in body["input"]:
        if item.get("type") == "message":
            texts += [part.get("text", "") for part in item.get("content", [])]
        elif item.get("type") == "function_call_output":
            texts.append(item["output"])
    return texts


@pytest.mark.compat("turn:model-metadata-warning")
@pytest.mark.compat("turn:context-window")
async def test_hello_turn_matches_the_reference_order(agent: ServerProcess, model: FakeModelServer) -> None:
    model.enqueue(text_reply("Hello there!", deltas=["Hel", "lo ", "there!"], reasoning_summary="Greeting."))
    thread_id = await start_thread(agent)
    reply, seen = await run_turn(agent, thread_id, "hello")
    turn = reply["turn"]
    assert turn["status"] == "inProgress" and turn["items"] == [] and turn["itemsView"] == "notLoaded"
    assert turn["startedAt"] is None and turn["error"] is None
    assert methods(seen) == [
        "thread/status/changed",
        "turn/started",
        "item/started",
        "item/completed",
        "item/started",
        "item/reasoning/summaryPartAdded",
        "item/reasoning/summaryTextDelta",
        "item/completed",
        "item/started",
        "item/agentMessage/delta",
        "item/agentMessage/delta",
        "item/agentMessage/delta",
        "item/completed",
        "thread/tokenUsage/updated",
        "account/rateLimits/updated",
        "thread/status/changed",
        "turn/completed",
    ]
    assert seen[0]["params"]["status"] == {"type": "active", "activeFlags": []}
    user = seen[3]["params"]["item"]
    assert user["type"] == "userMessage"
    assert user["content"] == [{"type": "text", "text": "hello", "text_elements": []}]
    reasoning = seen[7]["params"]["item"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == ["Greeting."] and reasoning["content"] == []
    assert seen[8]["params"]["item"] == {"type": "agentMessage", "id": seen[8]["params"]["item"]["id"], "text": ""}
    assert "".join(n["params"]["delta"] for n in seen[9:12]) == "Hello there!"
    message = seen[12]["params"]["item"]
    assert message["text"] == "Hello there!"
    usage = seen[13]["params"]["tokenUsage"]
    assert usage["last"]["totalTokens"] == usage["total"]["totalTokens"] > 0
    assert usage["modelContextWindow"] is None  # not configured: no window is invented
    assert seen[15]["params"]["status"] == {"type": "idle"}
    completed = seen[16]["params"]["turn"]
    assert completed["status"] == "completed" and completed["itemsView"] == "summary"
    assert completed["items"] == [message]
    assert isinstance(completed["durationMs"], int) and completed["startedAt"] and completed["completedAt"]
    # The request the model received.
    body = model.requests[-1].body
    assert body["stream"] is True and body["store"] is False and body["prompt_cache_key"] == thread_id
    assert body["model"] == "mock-model"
    assert body["input"][0]["role"] == "developer"
    assert any("<environment_context>" in text for text in input_texts(body))
    assert input_texts(body)[-1] == "hello"
    assert model.requests[-1].headers["authorization"] == "Bearer test-key"


@pytest.mark.compat("turn:context-window")
async def test_context_window_comes_from_the_config(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url, extra="model_context_window = 123456")
    server = await spawn(env=ENV)
    await server.initialize()
    model.enqueue(text_reply("hi"))
    _, seen = await run_turn(server, await start_thread(server), "hello")
    usage = next(n for n in seen if n["method"] == "thread/tokenUsage/updated")
    assert usage["params"]["tokenUsage"]["modelContextWindow"] == 123456


async def test_read_state_goes_to_experimental_clients_only(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    write_mock_config(codex_home, model.base_url)
    server = await spawn(env=ENV)
    await server.initialize(experimental=True)
    thread_id = await start_thread(server)
    model.enqueue(text_reply("done"))
    _, seen = await run_turn(server, thread_id, "hi")
    assert methods(seen)[-3:] == ["thread/readState/changed", "thread/status/changed", "turn/completed"]
    read_state = seen[-3]["params"]["readState"]
    assert read_state["firstUnread"] == {"type": "turn", "turnId": seen[-1]["params"]["turn"]["id"]}
    model.enqueue(http_error(500, {"error": {"message": "boom"}}))
    _, seen = await run_turn(server, thread_id, "again")
    assert methods(seen)[-4:] == ["thread/status/changed", "error", "thread/readState/changed", "turn/completed"]


async def test_thread_is_stored_at_first_turn_and_read_back(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    assert (await agent.result("thread/list", {}))["data"] == []
    model.enqueue(text_reply("first answer"))
    await run_turn(agent, thread_id, "first question")
    listed = (await agent.result("thread/list", {}))["data"]
    assert [t["id"] for t in listed] == [thread_id]
    assert listed[0]["preview"] == "first question"
    read = await agent.result("thread/read", {"threadId": thread_id, "includeTurns": True})
    (turn,) = read["thread"]["turns"]
    assert turn["status"] == "completed" and turn["itemsView"] == "full"
    assert [item["type"] for item in turn["items"]] == ["userMessage", "reasoning", "agentMessage"] or [
        item["type"] for item in turn["items"]
    ] == ["userMessage", "agentMessage"]
    assert turn["items"][-1]["text"] == "first answer"
    assert (await agent.notification("deprecationNotice"))["params"]["summary"]


async def test_unknown_tool_call_then_answer(agent: ServerProcess, model: FakeModelServer) -> None:
    model.enqueue(function_call_reply("no_such_tool", json.dumps({"x": 1}), "call_1"))
    model.enqueue(text_reply("done"))
    thread_id = await start_thread(agent)
    _, seen = await run_turn(agent, thread_id, "use a tool")
    assert seen[-1]["params"]["turn"]["status"] == "completed"
    assert len(model.requests) == 2
    second = model.requests[1].body
    calls = [item for item in second["input"] if item.get("type") == "function_call"]
    outputs = [item for item in second["input"] if item.get("type") == "function_call_output"]
    assert calls[0]["call_id"] == "call_1"
    assert outputs == [
        {"type": "function_call_output", "call_id": "call_1", "output": "unsupported call: no_such_tool"}
    ]
    assert methods(seen).count("thread/tokenUsage/updated") == 2


@pytest.mark.parametrize(
    ("script", "message", "info"),
    [
        (
            # The mock provider is not OpenAI's service: its own status and message are shown.
            http_error(500, {"error": {"message": "boom"}}),
            "unexpected status 500 Internal Server Error: boom, url: ",
            "internalServerError",
        ),
        (
            http_error(401, {"error": {"message": "bad key"}}),
            "unexpected status 401 Unauthorized",
            {"httpConnectionFailed": {"httpStatusCode": 401}},
        ),
        (http_error(400, {"error": {"message": "bad request body"}}), "bad request body", "other"),
        (
            http_error(429, {"error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "q"}}),
            "Quota exceeded",
            "usageLimitExceeded",
        ),
        (
            http_error(
                429, {"error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded", "message": "slow"}}
            ),
            "exceeded retry limit, last status: 429",
            {"responseTooManyFailedAttempts": {"httpStatusCode": 429}},
        ),
        (
            http_error(400, {"error": {"code": "context_length_exceeded", "message": "too long"}}),
            "ran out of room in the model's context window",
            "contextWindowExceeded",
        ),
        (
            disconnect_after(text_reply("partial", deltas=["par", "tial"]), 3),
            "stream disconnected before completion",
            "other",
        ),
        (response_failed("server_error", "model melted"), "model melted", "other"),
    ],
)
async def test_upstream_errors(
    agent: ServerProcess, model: FakeModelServer, script: Any, message: str, info: Any
) -> None:
    model.enqueue(script)
    thread_id = await start_thread(agent)
    _, seen = await run_turn(agent, thread_id, "hi")
    assert methods(seen)[-3:] == ["thread/status/changed", "error", "turn/completed"]
    assert seen[-3]["params"]["status"] == {"type": "systemError"}
    error = seen[-2]["params"]
    assert error["willRetry"] is False and error["threadId"] == thread_id
    assert message in error["error"]["message"]
    assert error["error"]["codexErrorInfo"] == info
    turn = seen[-1]["params"]["turn"]
    assert turn["status"] == "failed" and turn["error"] == error["error"] and turn["items"] == []
    # The thread stays usable.
    model.enqueue(text_reply("recovered"))
    _, seen = await run_turn(agent, thread_id, "again")
    assert seen[-1]["params"]["turn"]["status"] == "completed"


async def test_missing_credentials_name_the_variable(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    server = await spawn(env={"MOCK_API_KEY": ""})
    await server.initialize()
    thread_id = await start_thread(server)
    _, seen = await run_turn(server, thread_id, "hi")
    error = seen[-1]["params"]["turn"]["error"]
    assert "MOCK_API_KEY" in error["message"]
    assert model.requests == []


async def test_retries_report_will_retry(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    config = (codex_home / "config.toml").read_text().replace("request_max_retries = 0", "request_max_retries = 2")
    (codex_home / "config.toml").write_text(config)
    server = await spawn(env=ENV)
    await server.initialize()
    model.enqueue(http_error(503, {"error": {"message": "busy"}}))
    model.enqueue(text_reply("after retry"))
    thread_id = await start_thread(server)
    _, seen = await run_turn(server, thread_id, "hi")
    retries = [n for n in seen if n["method"] == "error"]
    assert len(retries) == 1 and retries[0]["params"]["willRetry"] is True
    assert seen[-1]["params"]["turn"]["status"] == "completed"


@pytest.mark.compat("turn:abort-note")
async def test_interrupt_mid_stream(agent: ServerProcess, model: FakeModelServer) -> None:
    model.enqueue(paused_reply("slow answer", ["slow", " ", "answer"], 5))
    thread_id = await start_thread(agent)
    reply = await agent.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    turn_id = reply["turn"]["id"]
    await agent.notification("item/agentMessage/delta")
    wrong = await agent.call("turn/interrupt", {"threadId": thread_id, "turnId": "nope"})
    assert wrong["error"]["message"] == f"expected active turn id nope but found {turn_id}"
    assert await agent.result("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}) == {}
    rest = []
    while True:
        message = await agent.notification()
        rest.append(message)
        if message["method"] == "turn/completed":
            break
    assert methods(rest)[-2:] == ["thread/status/changed", "turn/completed"]
    assert rest[-1]["params"]["turn"]["status"] == "interrupted"
    assert rest[-1]["params"]["turn"]["items"] == []
    assert "item/completed" not in methods(rest), "the streaming agentMessage is never completed"
    idle = await agent.call("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
    assert idle["error"]["message"] == "no active turn to interrupt"
    # The model learns about the abort on the next request; the partial text is not in history.
    model.enqueue(text_reply("ok"))
    await run_turn(agent, thread_id, "next")
    texts = input_texts(model.requests[-1].body)
    assert any("<turn_aborted>" in text for text in texts)
    assert not any("slow answer" in text for text in texts)


async def test_steer_adds_input_to_the_running_turn(agent: ServerProcess, model: FakeModelServer) -> None:
    model.enqueue(paused_reply("working on it", ["working", " on it"], 0.5))
    model.enqueue(text_reply("steered answer"))
    thread_id = await start_thread(agent)
    reply = await agent.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "start"}]})
    turn_id = reply["turn"]["id"]
    await agent.notification("item/agentMessage/delta")
    wrong = await agent.call(
        "turn/steer", {"threadId": thread_id, "expectedTurnId": "other", "input": [{"type": "text", "text": "x"}]}
    )
    assert "expected active turn id other" in wrong["error"]["message"]
    steered = await agent.result(
        "turn/steer",
        {"threadId": thread_id, "expectedTurnId": turn_id, "input": [{"type": "text", "text": "also this"}]},
    )
    assert steered == {"turnId": turn_id}
    completed = await agent.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "completed"
    assert completed["params"]["turn"]["items"][0]["text"] == "steered answer"
    assert input_texts(model.requests[-1].body)[-1] == "also this"


async def test_resume_after_restart_sends_full_context(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    first = await spawn(env=ENV)
    await first.initialize()
    thread_id = await start_thread(first)
    model.enqueue(text_reply("The capital is Paris."))
    await run_turn(first, thread_id, "What is the capital of France?")
    await first.stop()

    second = await spawn(env=ENV)
    await second.initialize()
    resumed = await second.result("thread/resume", {"threadId": thread_id})
    # As the reference: the reply is followed by the thread's goal, here that it has none.
    assert (await second.notification("thread/goal/cleared"))["params"] == {"threadId": thread_id}
    assert resumed["thread"]["id"] == thread_id
    assert [t["status"] for t in resumed["thread"]["turns"]] == ["completed"]
    assert resumed["turnsBackwardsCursor"]
    assert resumed["sandbox"] == {"type": "readOnly", "networkAccess": False}
    model.enqueue(text_reply("About 2 million."))
    await run_turn(second, thread_id, "And its population?")
    assert await second.result("thread/goal/get", {"threadId": thread_id}) == {"goal": None}
    texts = input_texts(model.requests[-1].body)
    assert "What is the capital of France?" in texts
    assert "The capital is Paris." in json.dumps(model.requests[-1].body)
    assert texts[-1] == "And its population?"
    missing = await second.call("thread/resume", {"threadId": "019a0000-0000-7000-8000-00000000abcd"})
    assert "no rollout found" in missing["error"]["message"]


async def test_fork_copies_history(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("one"))
    await run_turn(agent, thread_id, "first")
    await agent.result("thread/name/set", {"threadId": thread_id, "name": "Original"})
    fork = await agent.result("thread/fork", {"threadId": thread_id})
    forked = fork["thread"]
    assert forked["id"] != thread_id and forked["forkedFromId"] == thread_id
    assert forked["name"] == "Original"
    assert [t["status"] for t in forked["turns"]] == ["completed"]
    started = await agent.notification("thread/started")
    assert started["params"]["thread"]["id"] == forked["id"]
    model.enqueue(text_reply("two"))
    await run_turn(agent, forked["id"], "second in fork")
    texts = input_texts(model.requests[-1].body)
    assert "first" in texts and texts[-1] == "second in fork"
    original = await agent.result("thread/read", {"threadId": thread_id, "includeTurns": True})
    assert len(original["thread"]["turns"]) == 1


async def test_revert_drops_later_turns(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("a1"))
    await run_turn(agent, thread_id, "q1")
    model.enqueue(text_reply("a2"))
    reply, _ = await run_turn(agent, thread_id, "q2")
    second_turn = reply["turn"]["id"]
    reverted = await agent.result("thread/revert", {"threadId": thread_id, "beforeTurnId": second_turn})
    assert reverted["thread"]["turns"] == [] and reverted["turnsBackwardsCursor"]
    assert (await agent.notification("thread/reverted"))["params"] == {"threadId": thread_id}
    page = await agent.result("thread/turns/list", {"threadId": thread_id})
    assert len(page["data"]) == 1
    model.enqueue(text_reply("a3"))
    await run_turn(agent, thread_id, "q3")
    texts = input_texts(model.requests[-1].body)
    assert "q1" in texts and "q2" not in texts
    bad = await agent.call("thread/revert", {"threadId": thread_id, "beforeTurnId": "nope"})
    assert bad["error"]["message"] == "turn not found: nope"


async def test_turns_list_pages(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    turn_ids = []
    for i in range(5):
        model.enqueue(text_reply(f"answer {i}"))
        reply, _ = await run_turn(agent, thread_id, f"question {i}")
        turn_ids.append(reply["turn"]["id"])
    page = await agent.result("thread/turns/list", {"threadId": thread_id, "limit": 2})
    assert [t["id"] for t in page["data"]] == turn_ids[::-1][:2]
    assert all(t["itemsView"] == "summary" for t in page["data"])
    page2 = await agent.result("thread/turns/list", {"threadId": thread_id, "limit": 2, "cursor": page["nextCursor"]})
    assert [t["id"] for t in page2["data"]] == turn_ids[::-1][2:4]
    asc = await agent.result("thread/turns/list", {"threadId": thread_id, "sortDirection": "asc", "itemsView": "full"})
    assert [t["id"] for t in asc["data"]] == turn_ids
    assert asc["data"][0]["items"][0]["type"] == "userMessage"
    bad = await agent.call("thread/turns/list", {"threadId": thread_id, "cursor": "!!"})
    assert bad["error"]["code"] == -32602


async def test_compact_replaces_history_with_a_summary(agent: ServerProcess, model: FakeModelServer) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("long answer"))
    await run_turn(agent, thread_id, "long question")
    model.enqueue(text_reply("SUMMARY: asked a long question"))
    assert await agent.result("thread/compact/start", {"threadId": thread_id}) == {}
    seen = []
    while True:
        message = await agent.notification()
        seen.append(message)
        if message["method"] == "turn/completed":
            break
    items = [n["params"]["item"]["type"] for n in seen if n["method"] == "item/completed"]
    assert items == ["contextCompaction"]
    assert model.requests[-1].body["tools"] == []
    model.enqueue(text_reply("fresh"))
    await run_turn(agent, thread_id, "continue")
    body = json.dumps(model.requests[-1].body)
    assert "SUMMARY: asked a long question" in body and "long answer" not in body


async def test_context_window_failure_compacts_before_the_next_turn(
    agent: ServerProcess, model: FakeModelServer
) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(http_error(400, {"error": {"code": "context_length_exceeded", "message": "too long"}}))
    await run_turn(agent, thread_id, "big")
    model.enqueue(text_reply("compacted summary"))
    model.enqueue(text_reply("answer"))
    _, seen = await run_turn(agent, thread_id, "next")
    kinds = [n["params"]["item"]["type"] for n in seen if n["method"] == "item/completed"]
    assert kinds[0] == "contextCompaction"
    assert model.requests[-2].body["tools"] == []
    assert seen[-1]["params"]["turn"]["status"] == "completed"


async def test_turn_start_needs_a_loaded_thread(agent: ServerProcess) -> None:
    error = (await agent.call("turn/start", {"threadId": "019a0000-0000-7000-8000-000000000000", "input": []}))["error"]
    assert error["code"] == -32602 and "thread/resume" in error["message"]


async def test_per_turn_overrides_persist(agent: ServerProcess, model: FakeModelServer, tmp_path: Path) -> None:
    thread_id = await start_thread(agent)
    model.enqueue(text_reply("a"))
    await agent.result(
        "turn/start",
        {
            "threadId": thread_id,
            "input": [{"type": "text", "text": "x"}],
            "model": "other-model",
            "effort": "high",
            "cwd": str(tmp_path),
        },
    )
    await agent.notification("turn/completed")
    model.enqueue(text_reply("b"))
    await run_turn(agent, thread_id, "y")
    body = model.requests[-1].body
    assert body["model"] == "other-model"
    assert body["reasoning"]["effort"] == "high"
    assert str(tmp_path) in json.dumps(body["input"])


async def test_agents_md_and_developer_instructions_reach_the_model(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, tmp_path: Path
) -> None:
    write_mock_config(codex_home, model.base_url)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("Always run the linter.")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "AGENTS.md").write_text("Package rule.")
    server = await spawn(env=ENV)
    await server.initialize()
    thread = await server.result(
        "thread/start", {"cwd": str(repo / "pkg"), "developerInstructions": "Be terse.", "personality": "pragmatic"}
    )
    model.enqueue(text_reply("ok"))
    await run_turn(server, thread["thread"]["id"], "hi")
    body = json.dumps(model.requests[-1].body)
    assert body.index("Always run the linter.") < body.index("Package rule.")
    assert "Be terse." in body and "direct and matter-of-fact" in body


async def test_slow_model_does_not_block_other_requests(agent: ServerProcess, model: FakeModelServer) -> None:
    model.enqueue([delay(2.0), *text_reply("late")])
    thread_id = await start_thread(agent)
    await agent.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "x"}]})
    await agent.result("thread/loaded/list", {})
    # The cheap request was answered while the turn was still waiting on the model.
    assert not [n for n in agent.received if n.get("method") == "turn/completed"]
    await agent.notification("turn/completed")


async def test_local_image_of_a_device_neither_hangs_the_turn_nor_the_server(
    agent: ServerProcess, model: FakeModelServer
) -> None:
    # The image used to be read on the event loop: /dev/zero never ended and froze everything.
    model.enqueue(text_reply("no image"))
    thread_id = await start_thread(agent)
    params = {"threadId": thread_id, "input": [{"type": "localImage", "path": "/dev/zero"}]}
    await agent.result("turn/start", params)
    completed = await agent.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "completed"
    texts = input_texts(model.response_requests()[-1].body)
    assert any(text.startswith("[image /dev/zero could not be read:") and "is not a file" in text for text in texts)
