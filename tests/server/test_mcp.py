"""MCP servers from config.toml: a stdio server written with the official SDK, started by the
test through the real server (tests/support/mcp_echo_server.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, namespaced, run_turn, start_agent, start_thread, tool_outputs
from support.model_config import MCP_CONFIG, write_mock_config
from support.server_process import ServerClient, ServerProcess, Spawn


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, extra_config=MCP_CONFIG)


@pytest.mark.compat("tools:mcp-errors")
@pytest.mark.compat("tools:mcp-status-list")
async def test_mcp_server_tools_reach_the_model_and_the_client(
    agent: ServerProcess, model: FakeModelServer, tmp_path: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path), approvalPolicy="on-request")
    starting = await agent.notification("mcpServer/startupStatus/updated", timeout=60)
    ready = await agent.notification("mcpServer/startupStatus/updated", timeout=60)
    assert [starting["params"]["status"], ready["params"]["status"]] == ["starting", "ready"]
    assert ready["params"] == {
        "threadId": thread_id,
        "name": "echo",
        "status": "ready",
        "error": None,
        "failureReason": None,
    }

    model.enqueue(
        namespaced(function_call_reply("echo", json.dumps({"text": "hi"}), "call_1"), "mcp__echo"),
        namespaced(function_call_reply("broken", "{}", "call_2"), "mcp__echo"),
        namespaced(function_call_reply("add", json.dumps({"a": 1, "b": 2}), "call_3"), "mcp__echo"),
        text_reply("done"),
    )

    def allow(request: dict[str, Any]) -> Any:
        assert request["method"] == "mcpServer/elicitation/request"
        return {
            "action": "accept",
            "content": {},
            "_meta": {"persist": "session"} if "echo" in request["params"]["message"] else None,
        }

    log = await run_turn(agent, thread_id, answer=allow)
    namespace = next(tool for tool in model.requests[0].body["tools"] if tool["name"] == "mcp__echo")
    assert namespace["type"] == "namespace"
    assert [tool["name"] for tool in namespace["tools"]] == ["add", "broken", "echo"]
    assert namespace["tools"][2]["parameters"] == {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }
    request = log.requests[0]["params"]
    assert request["serverName"] == "echo" and request["message"] == 'Allow the echo MCP server to run tool "echo"?'
    assert request["_meta"]["tool_params"] == {"text": "hi"}

    echo, broken, add = log.items("mcpToolCall")
    assert echo["status"] == "completed" and echo["server"] == "echo" and echo["tool"] == "echo"
    assert echo["result"]["content"] == [{"type": "text", "text": "echo: hi"}]
    assert broken["status"] == "failed" and broken["result"]["content"][0]["text"].startswith("Error executing tool")
    assert add["result"]["structuredContent"] == {"result": 3}
    methods = log.methods(skip=("thread/tokenUsage/updated", "account/rateLimits/updated"))
    at = methods.index("item/started:mcpToolCall")
    assert methods[at : at + 6] == [
        "item/started:mcpToolCall",
        "thread/status/changed",
        "mcpServer/elicitation/request",
        "serverRequest/resolved",
        "thread/status/changed",
        "item/completed:mcpToolCall",
    ]

    outputs = tool_outputs(model.requests[3].body)
    assert outputs["call_1"].startswith("Wall time: ") and outputs["call_1"].endswith(
        '\nOutput:\n{"result":"echo: hi"}'
    )
    assert outputs["call_3"].endswith('Output:\n{"result":3}')
    assert outputs["call_2"][1]["text"].startswith("Error executing tool broken")

    status = await agent.result("mcpServerStatus/list", {"threadId": thread_id})
    (entry,) = status["data"]
    assert entry["name"] == "echo" and entry["runtimeStatus"] == "connected"
    assert sorted(entry["tools"]) == ["add", "broken", "echo"]
    assert entry["serverInfo"]["name"] == "echo"

    direct = await agent.result(
        "mcpServer/tool/call",
        {"threadId": thread_id, "server": "echo", "tool": "echo", "arguments": {"text": "direct"}},
    )
    assert direct["content"] == [{"type": "text", "text": "echo: direct"}] and direct["isError"] is False
    unknown = await agent.call("mcpServer/tool/call", {"threadId": thread_id, "server": "nope", "tool": "echo"})
    assert unknown["error"]["code"] == -32602 and "unknown MCP server 'nope'" in unknown["error"]["message"]


@pytest.mark.compat("tools:mcp-approval-persist")
async def test_an_always_approval_lasts_for_the_thread_and_writes_no_config(
    agent: ServerProcess, model: FakeModelServer, codex_home: Path, tmp_path: Path
) -> None:
    config_before = (codex_home / "config.toml").read_bytes()

    def echo(call_id: str) -> list[Any]:
        return namespaced(function_call_reply("echo", json.dumps({"text": call_id}), call_id), "mcp__echo")

    def always(request: dict[str, Any]) -> Any:
        return {"action": "accept", "content": {}, "_meta": {"persist": "always"}}

    thread_id = await start_thread(agent, cwd=str(tmp_path), approvalPolicy="on-request")
    model.enqueue(echo("call_1"), echo("call_2"), text_reply("done"))
    log = await run_turn(agent, thread_id, answer=always)
    assert len(log.requests) == 1, "the second call of the same tool is not asked again"
    assert [item["status"] for item in log.items("mcpToolCall")] == ["completed", "completed"]
    assert (codex_home / "config.toml").read_bytes() == config_before

    other = await start_thread(agent, cwd=str(tmp_path), approvalPolicy="on-request")
    model.enqueue(echo("call_3"), text_reply("done"))
    log = await run_turn(agent, other, answer=always)
    assert len(log.requests) == 1, "a new thread asks again"


async def test_policy_never_refuses_mcp_tools_that_need_approval(
    agent: ServerProcess, model: FakeModelServer, tmp_path: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(tmp_path), approvalPolicy="never")
    model.enqueue(
        namespaced(function_call_reply("echo", json.dumps({"text": "hi"}), "call_1"), "mcp__echo"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id)
    assert log.requests == []
    item = log.items("mcpToolCall")[0]
    assert item["status"] == "failed"
    assert item["error"] == {"message": "MCP tool call requires approval, but approval policy is never"}


@pytest.mark.compat("tools:mcp-status-list")
async def test_status_list_without_a_thread_connects_to_list(agent: ServerProcess) -> None:
    status = await agent.result("mcpServerStatus/list", {})
    (entry,) = status["data"]
    assert entry["runtimeStatus"] is None and sorted(entry["tools"]) == ["add", "broken", "echo"]
    assert entry["tools"]["add"]["inputSchema"]["required"] == ["a", "b"]


async def test_no_configured_servers_list_empty(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    server = await spawn(env=ENV)
    await server.initialize()
    assert await server.result("mcpServerStatus/list", {}) == {"data": [], "nextCursor": None}


async def test_resources_are_listed_and_read_with_or_without_a_thread(agent: ServerProcess, tmp_path: Path) -> None:
    status = await agent.result("mcpServerStatus/list", {})
    (echo,) = status["data"]
    assert [resource["uri"] for resource in echo["resources"]] == ["echo://greeting"]
    assert echo["resources"][0]["name"] == "greeting" and echo["resources"][0]["mimeType"] == "text/plain"
    # Without a thread: a connection opened for this read.
    read = await agent.result("mcpServer/resource/read", {"server": "echo", "uri": "echo://greeting"})
    assert read == {
        "contents": [{"uri": "echo://greeting", "mimeType": "text/plain", "text": "hello from echo", "_meta": None}],
        "originCallId": None,
    }
    # Through the thread's own connection.
    thread_id = await start_thread(agent, cwd=str(tmp_path))
    in_thread = await agent.result(
        "mcpServer/resource/read", {"server": "echo", "uri": "echo://greeting", "threadId": thread_id}
    )
    assert in_thread["contents"][0]["text"] == "hello from echo"
    unknown_server = await agent.call("mcpServer/resource/read", {"server": "nope", "uri": "x://y"})
    assert (
        unknown_server["error"]["code"] == -32602 and "unknown MCP server 'nope'" in unknown_server["error"]["message"]
    )
    unknown_uri = await agent.call("mcpServer/resource/read", {"server": "echo", "uri": "echo://missing"})
    assert unknown_uri["error"]["code"] == -32603 and "echo://missing" in unknown_uri["error"]["message"]
    agent.assert_schema_clean()


async def test_reload_picks_up_servers_added_to_config(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_mock_config(codex_home, model.base_url)
    server = await spawn(env=ENV)
    await server.initialize()
    assert (await server.result("mcpServerStatus/list", {}))["data"] == []
    with (codex_home / "config.toml").open("a") as config:
        config.write(MCP_CONFIG)
    assert await server.result("config/mcpServer/reload") == {}
    (echo,) = (await server.result("mcpServerStatus/list", {}))["data"]
    assert echo["name"] == "echo" and sorted(echo["tools"]) == ["add", "broken", "echo"]
    read = await server.result("mcpServer/resource/read", {"server": "echo", "uri": "echo://greeting"})
    assert read["contents"][0]["text"] == "hello from echo"
