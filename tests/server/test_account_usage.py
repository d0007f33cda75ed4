"""account/usage/read through the real server: the tokens this server's turns used, per thread
and for every stored thread, kept across a restart."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, default_usage, text_reply
from support.agent_turns import ENV, run_turn, start_agent, start_thread
from support.server_process import Spawn


@pytest.mark.compat("account:usage-local")
async def test_usage_is_what_the_turns_used(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    server = await start_agent(spawn, codex_home, model)
    empty = await server.result("account/usage/read", None)
    assert empty["summary"] == {
        "lifetimeTokens": 0,
        "peakDailyTokens": 0,
        "currentStreakDays": 0,
        "longestStreakDays": 0,
        "longestRunningTurnSec": 0,
    }
    assert empty["dailyUsageBuckets"] == [] and empty["threadUsage"] is None

    first = await start_thread(server)
    second = await start_thread(server)
    model.enqueue(
        text_reply("one", usage=default_usage(input_tokens=100, cached_tokens=40, output_tokens=20)),
        text_reply("two", usage=default_usage(input_tokens=10, output_tokens=5)),
        text_reply("three", usage=default_usage(input_tokens=1000, output_tokens=1)),
    )
    await run_turn(server, first, "one")
    await run_turn(server, first, "two")
    await run_turn(server, second, "three")
    await server.stop()

    # After a restart: read from the store.
    again = await spawn(env=ENV)
    await again.initialize()
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    account = await again.result("account/usage/read", {})
    assert account["summary"]["lifetimeTokens"] == 120 + 15 + 1001
    assert account["summary"]["peakDailyTokens"] == 1136
    assert account["summary"]["currentStreakDays"] == 1 and account["summary"]["longestStreakDays"] == 1
    assert account["dailyUsageBuckets"] == [{"startDate": today, "tokens": 1136}]

    thread = await again.result("account/usage/read", {"threadId": first})
    assert thread["summary"]["lifetimeTokens"] == 135
    usage = thread["threadUsage"]
    assert usage["threadId"] == first and usage["nativeUsageUsdMicros"] is None
    (group,) = usage["groups"]
    assert group["model"] == "mock-model"
    assert (group["inputTokens"], group["cachedInputTokens"], group["netNewInputTokens"]) == (110, 40, 70)
    assert (group["outputTokens"], group["totalTokens"]) == (25, 135)

    missing = await again.call("account/usage/read", {"threadId": "019a0000-0000-7000-8000-00000000abcd"})
    assert "thread not found" in missing["error"]["message"]
