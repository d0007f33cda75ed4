"""core/turns.py: one turn from the user's input to ``turn/completed``, against the fake model:
what the client is told, in order; what is persisted; how failures and interruptions end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent_app_server.core.thread_basics import ClientIdentity
from agent_app_server.core.threads import LoadedThread
from agent_app_server.core.turns import TurnEngine, TurnRunner
from agent_app_server.testing.fake_model import FakeModelServer, delay, http_error, text_reply
from support.recording_sink import RecordingSink


def new_thread(engine: TurnEngine, cwd: Path) -> LoadedThread:
    return engine.threads.start_thread(ClientIdentity("cli"), engine.threads.default_settings(str(cwd)))


async def run(engine: TurnEngine, thread: LoadedThread, text: str) -> TurnRunner:
    runner = engine.start(thread, [{"type": "text", "text": text, "text_elements": []}])
    engine.launch(runner)
    assert runner.task is not None
    await asyncio.wait_for(runner.task, 30)
    return runner


def completed_turn(sink: RecordingSink) -> dict[str, Any]:
    turn: dict[str, Any] = next(p for _, m, p in reversed(sink.notifications) if m == "turn/completed")["turn"]
    return turn


async def test_a_turn_streams_the_reply_and_persists_it(
    engine: TurnEngine, model: FakeModelServer, sink: RecordingSink, tmp_path: Path
) -> None:
    thread = new_thread(engine, tmp_path)
    model.enqueue(text_reply("hello there"))
    runner = await run(engine, thread, "hi")

    methods = [m for m in sink.methods() if m not in ("thread/tokenUsage/updated", "account/rateLimits/updated")]
    assert methods[0] == "thread/status/changed" and methods[1] == "turn/started"
    assert methods[-2:] == ["thread/status/changed", "turn/completed"]
    assert methods.count("item/agentMessage/delta") == 2  # "hello " and "there"
    turn = completed_turn(sink)
    assert (turn["id"], turn["status"], turn["error"]) == (runner.turn_id, "completed", None)
    assert thread.status == {"type": "idle"} and thread.active is None

    # The model saw the user's text; the store has the thread and its turn.
    assert model.requests[0].body["input"][-1]["content"][0]["text"] == "hi"
    assert thread.materialized
    kinds = [event.kind for event in await engine.threads.events(thread.id)]
    assert kinds, "the turn was not persisted"


async def test_the_next_turn_sends_the_whole_conversation(
    engine: TurnEngine, model: FakeModelServer, tmp_path: Path
) -> None:
    thread = new_thread(engine, tmp_path)
    model.enqueue(text_reply("first answer"), text_reply("second answer"))
    await run(engine, thread, "one")
    await run(engine, thread, "two")
    second = model.requests[1].body["input"]
    texts = [part.get("text") for item in second for part in item.get("content", []) if isinstance(part, dict)]
    assert texts[-3:] == ["one", "first answer", "two"]


async def test_a_model_error_fails_the_turn_and_says_why(
    engine: TurnEngine, model: FakeModelServer, sink: RecordingSink, tmp_path: Path
) -> None:
    thread = new_thread(engine, tmp_path)
    model.enqueue(http_error(400, {"error": {"message": "bad things", "type": "invalid_request_error"}}))
    await run(engine, thread, "hi")
    turn = completed_turn(sink)
    assert turn["status"] == "failed" and "bad things" in turn["error"]["message"]
    assert thread.status == {"type": "systemError"}
    error = next(p for _, m, p in sink.notifications if m == "error")
    assert error["willRetry"] is False and error["turnId"] == turn["id"]


async def test_an_interrupted_turn_is_noted_in_the_next_request(
    engine: TurnEngine, model: FakeModelServer, sink: RecordingSink, tmp_path: Path
) -> None:
    thread = new_thread(engine, tmp_path)
    model.enqueue([delay(60), *text_reply("never")], text_reply("after"))
    runner = engine.start(thread, [{"type": "text", "text": "slow", "text_elements": []}])
    engine.launch(runner)
    async with asyncio.timeout(30):
        await model.wait_for_requests(1)
    await engine.interrupt(runner)
    assert completed_turn(sink)["status"] == "interrupted"
    assert thread.status == {"type": "idle"} and thread.active is None

    await run(engine, thread, "again")
    sent = str(model.requests[1].body["input"])
    assert "interrupted" in sent and "again" in sent


async def test_missing_credentials_fail_the_turn_with_unauthorized(
    engine: TurnEngine, sink: RecordingSink, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("MOCK_API_KEY")
    thread = new_thread(engine, tmp_path)
    await run(engine, thread, "hi")
    turn = completed_turn(sink)
    assert turn["status"] == "failed" and turn["error"]["codexErrorInfo"] == "unauthorized"
    assert "MOCK_API_KEY" in turn["error"]["message"]
