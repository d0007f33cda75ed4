"""Requests the reference answers one way and this server answered the other, found by the
differential suite (tests/differential). Each test is named after the behaviour it pins."""

from __future__ import annotations

from typing import Any

import pytest

from agent_app_server.testing.fake_model import delay, text_reply
from regressions.conftest import Placed
from support.server_process import ServerProcess


async def error(server: ServerProcess, method: str, params: Any) -> tuple[int, str]:
    reply = await server.call(method, params)
    assert "error" in reply, reply
    return reply["error"]["code"], reply["error"]["message"]


async def running_turn(placed: Placed) -> tuple[str, str]:
    placed.model.enqueue([delay(60), *text_reply("late")])
    server = placed.server
    thread = (await server.result("thread/start", {}))["thread"]["id"]
    params = {"threadId": thread, "input": [{"type": "text", "text": "hold"}]}
    turn = (await server.result("turn/start", params))["turn"]["id"]
    await server.notification("turn/started")
    return thread, turn


# ---------------------------------------------------------------------- accepted, as the reference


async def test_interrupt_with_empty_turn_id_interrupts_the_running_turn(placed: Placed) -> None:
    idle = (await placed.server.result("thread/start", {}))["thread"]["id"]
    assert await placed.server.result("turn/interrupt", {"threadId": idle, "turnId": ""}) == {}
    thread, turn = await running_turn(placed)
    assert await placed.server.result("turn/interrupt", {"threadId": thread, "turnId": ""}) == {}
    completed = await placed.server.notification("turn/completed")
    assert completed["params"]["turn"]["id"] == turn and completed["params"]["turn"]["status"] == "interrupted"


async def test_config_batch_write_accepts_no_edits(placed: Placed) -> None:
    result = await placed.server.result("config/batchWrite", {"edits": []})
    assert result["status"] == "ok" and result["version"].startswith("sha256:")


async def test_config_value_write_takes_any_key_path_segment(placed: Placed) -> None:
    key = "tui.my key ✓"
    await placed.server.result("config/value/write", {"keyPath": key, "value": 1, "mergeStrategy": "replace"})
    config = (await placed.server.result("config/read", {}))["config"]
    assert config["tui"]["my key ✓"] == 1


async def test_resume_of_a_loaded_thread_joins_it_as_it_is(placed: Placed) -> None:
    thread = (await placed.server.result("thread/start", {}))["thread"]["id"]
    params = {"threadId": thread, "excludeTurns": True, "model": "other", "modelProvider": "no-such-provider"}
    resumed = await placed.server.result("thread/resume", params)
    assert resumed["model"] == "mock-model" and resumed["modelProvider"] == "mock"


async def test_command_exec_write_to_a_full_terminal_does_not_block(placed: Placed) -> None:
    server = placed.server
    params = {
        "command": ["sh", "-c", "echo ready; exec cat"],
        "processId": "p1",
        "tty": True,
        "sandboxPolicy": {"type": "dangerFullAccess"},
    }
    exec_id = server.new_id()
    exec_reply = server.expect(exec_id, "command/exec")
    await server.send({"id": exec_id, "method": "command/exec", "params": params})
    await server.notification("command/exec/outputDelta")
    # 48 KiB without a newline: far more than a terminal in line mode takes before one.
    delta = "eHh4" * 16_384
    assert await server.result("command/exec/write", {"processId": "p1", "deltaBase64": delta}, timeout=5) == {}
    assert await server.result("command/exec/terminate", {"processId": "p1"}) == {}
    assert "exitCode" in (await exec_reply)["result"]


# ---------------------------------------------------------------------- refused, as the reference


async def test_malformed_thread_ids_are_refused_unknown_ones_not_loaded(placed: Placed) -> None:
    server = placed.server
    code, message = await error(server, "thread/unsubscribe", {"threadId": ""})
    assert code == -32602 and "invalid thread id" in message
    unknown = {"threadId": "00000000-0000-7000-8000-000000000000"}
    assert await server.result("thread/unsubscribe", unknown) == {"status": "notLoaded"}
    for method in ("experimentalFeature/list", "hooks/list", "mcpServerStatus/list"):
        code, message = await error(server, method, {"threadId": "nope"})
        assert code == -32602 and "invalid thread id" in message, method


async def test_empty_and_malformed_cursors_are_refused(placed: Placed) -> None:
    server = placed.server
    thread = (await server.result("thread/start", {}))["thread"]["id"]
    assert await error(server, "thread/loaded/list", {"cursor": "not-a-cursor"}) == (
        -32602,
        "invalid cursor: not-a-cursor",
    )
    assert await error(server, "thread/turns/list", {"threadId": thread, "cursor": ""}) == (-32602, "invalid cursor: ")
    assert (await error(server, "mcpServerStatus/list", {"cursor": ""}))[1] == "invalid cursor: "
    page = await server.result("thread/loaded/list", {"cursor": "00000000-0000-7000-8000-000000000000"})
    assert page["data"] == [thread]


async def test_blank_model_and_model_provider_are_refused(placed: Placed) -> None:
    server = placed.server
    code, message = await error(server, "thread/start", {"model": "  "})
    assert code == -32602 and "`model` must not be empty" in message
    code, message = await error(server, "model/list", {"modelProvider": ""})
    assert code == -32602 and "`modelProvider` must not be empty" in message


async def test_remote_image_urls_are_refused(placed: Placed) -> None:
    thread = (await placed.server.result("thread/start", {}))["thread"]["id"]
    image = {"type": "image", "url": "https://example.invalid/a.png"}
    code, message = await error(placed.server, "turn/start", {"threadId": thread, "input": [image]})
    assert (code, message) == (-32602, "remote image URLs are not supported; use an inline data URL instead")


@pytest.mark.compat("protocol:unmodeled-fields")
@pytest.mark.parametrize(
    ("method", "params", "fragment"),
    [
        ("thread/start", {"projectId": "p"}, "`projectId` is not supported by this server"),
        ("thread/start", {"permissions": "workspace"}, "`permissions` is not supported by this server"),
        ("thread/start", {"permissions": 5}, "`permissions` must be a string"),
        ("thread/start", {"experimentalRawEvents": None}, "`experimentalRawEvents` must not be null"),
        ("thread/start", {"runtimeWorkspaceRoots": ["rel"]}, "'rel' is not an absolute path"),
        ("thread/start", {"environments": [{"environmentId": "x", "cwd": "/"}]}, "only the `local` environment"),
        ("thread/list", {"parentThreadId": "x"}, "`parentThreadId` is not supported by this server"),
        ("turn/start", {"threadId": "t", "input": [], "additionalContext": "x"}, "`additionalContext` must be"),
    ],
)
async def test_unmodeled_experimental_fields_are_type_checked_or_refused(
    placed: Placed, method: str, params: dict[str, Any], fragment: str
) -> None:
    code, message = await error(placed.server, method, params)
    assert code == -32602 and fragment in message, message
    # Neutral values ask for nothing and are accepted.
    local = [{"environmentId": "local", "cwd": str(placed.cwd)}]
    accepted = {"environments": local, "experimentalRawEvents": True, "runtimeWorkspaceRoots": []}
    assert "thread" in await placed.server.result("thread/start", accepted)


async def test_out_of_range_integers_are_refused(placed: Placed) -> None:
    params = {"command": ["true"], "timeoutMs": 2**64 + 1}
    code, message = await error(placed.server, "command/exec", params)
    assert code == -32602 and "timeoutMs" in message


async def test_fields_on_a_method_without_params_are_refused(placed: Placed) -> None:
    assert await placed.server.result("account/logout", {}) == {}
    code, message = await error(placed.server, "account/logout", {"unknownField": 1})
    assert code == -32602 and "takes no params" in message


async def test_hooks_list_takes_a_thread_or_cwds_not_both(placed: Placed) -> None:
    thread = (await placed.server.result("thread/start", {"cwd": "src"}))["thread"]["id"]
    code, message = await error(placed.server, "hooks/list", {"threadId": thread, "cwds": ["."]})
    assert (code, message) == (-32602, "specify either threadId or cwds")
    listed = await placed.server.result("hooks/list", {"threadId": thread})
    assert listed["data"][0]["cwd"] == str(placed.cwd / "src")


async def test_skills_config_write_with_an_empty_name_selects_nothing(placed: Placed) -> None:
    code, message = await error(placed.server, "skills/config/write", {"enabled": True, "name": ""})
    assert code == -32602 and "exactly one of path or name" in message


async def test_dynamic_tool_namespaces_must_not_be_empty(placed: Placed) -> None:
    tools = [{"type": "namespace", "name": "ns", "description": "d", "tools": []}]
    code, message = await error(placed.server, "thread/start", {"dynamicTools": tools})
    assert code == -32602 and "dynamic tool namespace must contain at least one tool: ns" in message
