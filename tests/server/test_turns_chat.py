"""Turns against an OpenAI-compatible Chat Completions server (`wire_api = "chat"`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.fake_chat import FakeChatServer, chat_text, chat_tool_call
from support.model_config import write_mock_config
from support.server_process import ServerProcess


async def start_thread_on(chat: FakeChatServer, spawn: Any, codex_home: Path) -> tuple[ServerProcess, str]:
    write_mock_config(codex_home, chat.base_url, wire_api="chat")
    server: ServerProcess = await spawn(env={"MOCK_API_KEY": "k"})
    await server.initialize()
    return server, (await server.result("thread/start", {}))["thread"]["id"]


async def run_chat_turn(server: ServerProcess, thread_id: str, text: str) -> list[dict[str, Any]]:
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    seen = []
    while True:
        message = await server.notification()
        seen.append(message)
        if message["method"] == "turn/completed":
            return seen


@pytest.mark.compat("model:chat-wire")
async def test_chat_provider_turn_with_a_tool_call(spawn: Any, codex_home: Path) -> None:
    async with FakeChatServer() as chat:
        server, thread_id = await start_thread_on(chat, spawn, codex_home)
        chat.scripts.append(chat_tool_call("lookup", json.dumps({"q": "x"}), "call_9"))
        chat.scripts.append(chat_text("Local model says hi"))
        seen = await run_chat_turn(server, thread_id, "hello")
        # No rate-limit headers from a local server: nothing to report (never an empty snapshot).
        assert "account/rateLimits/updated" not in [n["method"] for n in seen]
        turn = seen[-1]["params"]["turn"]
        assert turn["status"] == "completed"
        assert turn["items"][0]["text"] == "Local model says hi"
        deltas = "".join(n["params"]["delta"] for n in seen if n["method"] == "item/agentMessage/delta")
        assert deltas == "Local model says hi"
        first, second = chat.requests
        assert (first["stream"] is True and first["messages"][-1] == {"role": "user", "content": "hello"}) or (
            first["messages"][-1]["role"] == "user"
        )
        [replayed_call] = [m for m in second["messages"] if m.get("tool_calls")]
        assert replayed_call["content"] == ""  # never null: llama-cpp-python's server rejects it
        tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
        assert tool_messages[0]["tool_call_id"] == "call_9"
        assert "unsupported call: lookup" in json.dumps(tool_messages[0]["content"])


@pytest.mark.compat("model:chat-empty-answer")
async def test_an_empty_chat_answer_fails_the_turn_saying_so(spawn: Any, codex_home: Path) -> None:
    async with FakeChatServer() as chat:
        server, thread_id = await start_thread_on(chat, spawn, codex_home)
        chat.scripts.append(chat_text(""))
        seen = await run_chat_turn(server, thread_id, "hello")
        turn = seen[-1]["params"]["turn"]
        assert turn["status"] == "failed" and turn["items"] == []
        assert turn["error"]["message"].startswith("The model returned no output (finish_reason: stop")
        error = next(n["params"] for n in seen if n["method"] == "error")
        assert error["willRetry"] is False and error["error"] == turn["error"]
        started = [n["params"]["item"]["type"] for n in seen if n["method"] == "item/started"]
        assert started == ["userMessage"]
        assert len(chat.requests) == 1
