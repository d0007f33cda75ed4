"""Dynamic tools (experimental): declared on thread/start, run by the client via item/tool/call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, run_turn, start_agent, start_thread, tool_outputs
from support.model_config import write_mock_config
from support.server_process import ServerClient, ServerProcess, Spawn

LOOKUP = {
    "type": "function",
    "name": "lookup",
    "description": "Look a thing up",
    "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
}
CRM = {
    "type": "namespace",
    "name": "crm",
    "description": "CRM tools",
    "tools": [
        {"type": "function", "name": "find", "description": "Find a customer", "inputSchema": {"type": "object"}}
    ],
}


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, experimental=True)


async def test_dynamic_tool_round_trip(agent: ServerProcess, model: FakeModelServer, tmp_path: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path), dynamicTools=[LOOKUP, CRM])
    model.enqueue(
        function_call_reply("lookup", json.dumps({"q": "x"}), "call_1"),
        function_call_reply("lookup", json.dumps({"q": "y"}), "call_2"),
        text_reply("done"),
    )
    answers = iter(
        [
            {"contentItems": [{"type": "inputText", "text": "found it"}], "success": True},
            {
                "contentItems": [{"type": "inputText", "text": "no"}, {"type": "inputText", "text": "match"}],
                "success": False,
            },
        ]
    )
    log = await run_turn(agent, thread_id, answer=lambda request: next(answers))

    tools = {tool["name"]: tool for tool in model.requests[0].body["tools"]}
    assert tools["lookup"] == {
        "type": "function",
        "name": "lookup",
        "description": "Look a thing up",
        "strict": False,
        "parameters": LOOKUP["inputSchema"],
    }
    assert tools["crm"]["type"] == "namespace" and tools["crm"]["tools"][0]["name"] == "find"

    request = log.requests[0]
    assert request["method"] == "item/tool/call"
    assert request["params"] == {
        "threadId": thread_id,
        "turnId": log.reply["turn"]["id"],
        "callId": "call_1",
        "namespace": None,
        "tool": "lookup",
        "arguments": {"q": "x"},
    }
    methods = log.methods(skip=("thread/tokenUsage/updated", "account/rateLimits/updated"))
    at = methods.index("item/started:dynamicToolCall")
    assert methods[at : at + 3] == ["item/started:dynamicToolCall", "item/tool/call", "item/completed:dynamicToolCall"]
    first, second = log.items("dynamicToolCall")
    assert first["status"] == "completed" and first["success"] is True
    assert first["contentItems"] == [{"type": "inputText", "text": "found it"}]
    assert second["status"] == "failed" and second["success"] is False
    outputs = tool_outputs(model.requests[2].body)
    assert outputs["call_1"] == "found it"
    assert outputs["call_2"] == [{"type": "input_text", "text": "no"}, {"type": "input_text", "text": "match"}]


async def test_a_client_error_fails_the_call(agent: ServerProcess, model: FakeModelServer, tmp_path: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path), dynamicTools=[LOOKUP])
    model.enqueue(function_call_reply("lookup", json.dumps({"q": "x"}), "call_1"), text_reply("done"))

    async def refuse(request: dict[str, Any]) -> Any:
        await agent.send({"id": request["id"], "error": {"code": -32000, "message": "tool crashed"}})
        return None

    log = await run_turn(agent, thread_id, answer=refuse)
    assert log.items("dynamicToolCall")[0]["status"] == "failed"
    assert tool_outputs(model.requests[1].body)["call_1"] == "dynamic tool call failed: tool crashed"


async def test_dynamic_tools_need_the_experimental_capability(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1")
    server = await spawn(env=ENV)
    await server.initialize(experimental=False)
    error = (await server.call("thread/start", {"cwd": str(tmp_path), "dynamicTools": [LOOKUP]}))["error"]
    assert error["code"] == -32600
    assert error["message"] == "thread/start.dynamicTools requires experimentalApi capability"


async def test_a_namespaced_dynamic_tool_is_called_with_its_namespace(
    agent: ServerProcess, model: FakeModelServer, tmp_path: Path
) -> None:
    from agent_app_server.testing.fake_model import SseEvent

    thread_id = await start_thread(agent, cwd=str(tmp_path), dynamicTools=[CRM])
    events = function_call_reply("find", json.dumps({"name": "Ada"}), "call_1")
    for event in events:
        item = event.data.get("item") if isinstance(event, SseEvent) else None
        if isinstance(item, dict) and item.get("type") == "function_call":
            item["namespace"] = "crm"
    model.enqueue(events, text_reply("done"))
    answer = {"contentItems": [{"type": "inputText", "text": "Ada Lovelace"}], "success": True}
    log = await run_turn(agent, thread_id, answer=lambda request: answer)
    assert log.requests[0]["params"]["namespace"] == "crm" and log.requests[0]["params"]["tool"] == "find"
    assert log.items("dynamicToolCall")[0]["namespace"] == "crm"
    assert tool_outputs(model.requests[1].body)["call_1"] == "Ada Lovelace"
