"""Turns against an OpenAI-compatible Chat Completions server (`wire_api = "chat"`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.fake_chat import FakeChatServer, chat_text, chat_tool_call
from support.model_config import write_mock_config
from support.server_process import ServerProcess


async def test_chat_provider_turn_with_a_tool_call(spawn: Any, codex_home: Path) -> None:
    async with FakeChatServer() as chat:
        write_mock_config(codex_home, chat.base_url, wire_api="chat")
        server: ServerProcess = await spawn(env={"MOCK_API_KEY": "k"})
        await server.initialize()
        thread_id = (await server.result("thread/start", {}))["thread"]["id"]
        chat.scripts.append(chat_tool_call("lookup", json.dumps({"q": "x"}), "call_9"))
        chat.scripts.append(chat_text("Local model says hi"))
        await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hello"}]})
        seen = []
        while True:
            message = await server.notification()
            seen.append(message)
            if message["method"] == "turn/completed":
                break
        turn = seen[-1]["params"]["turn"]
        assert turn["status"] == "completed"
        assert turn["items"][0]["text"] == "Local model says hi"
        deltas = "".join(n["params"]["delta"] for n in seen if n["method"] == "item/agentMessage/delta")
        assert deltas == "Local model says hi"
        first, second = chat.requests
        assert (first["stream"] is True and first["messages"][-1] == {"role": "user", "content": "hello"}) or (
            first["messages"][-1]["role"] == "user"
        )
        tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
        assert tool_messages[0]["tool_call_id"] == "call_9"
        assert "unsupported call: lookup" in json.dumps(tool_messages[0]["content"])
