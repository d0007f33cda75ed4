"""Server requests answered through the client's handlers (approvals, dynamic tools), and the
error reply an unhandled one gets. In-process server, fake model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_app_server.client import ClientOptions, TurnFailed
from agent_app_server.client.errors import ContextWindowExceeded
from agent_app_server.embedded import connect_embedded
from agent_app_server.protocol.server_requests import (
    CommandExecutionRequestApprovalParams,
    DynamicToolCallParams,
    DynamicToolCallResponse,
    FileChangeRequestApprovalParams,
)
from agent_app_server.testing import (
    FakeModelServer,
    custom_tool_call_reply,
    function_call_reply,
    response_failed,
    text_reply,
)
from support.agent_turns import exec_args, tool_outputs

ASKING = {"approval_policy": "untrusted", "sandbox": "workspace-write"}


async def test_command_approval_through_the_handler(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    asked: list[CommandExecutionRequestApprovalParams] = []

    async def approve(params: CommandExecutionRequestApprovalParams) -> str:
        asked.append(params)
        return "accept"

    async with await connect_embedded(home) as client:
        client.on_command_approval(approve)
        thread = await client.start_thread(cwd=str(workspace), **ASKING)
        turn = await thread.run("write it")
    assert turn.status == "completed"
    assert (workspace / "out.txt").read_text() == "hi\n"
    assert [(p.item_id, p.thread_id) for p in asked] == [("call_1", thread.id)]


async def test_file_change_approval_declined_through_the_handler(
    home: Path, model: FakeModelServer, workspace: Path
) -> None:
    patch = "*** Begin Patch\n*** Add File: new.txt\n+hello\n*** End Patch\n"
    model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p"), text_reply("ok"))
    asked: list[FileChangeRequestApprovalParams] = []

    async def decline(params: FileChangeRequestApprovalParams) -> str:
        asked.append(params)
        return "decline"

    async with await connect_embedded(home) as client:
        client.on_file_change_approval(decline)
        thread = await client.start_thread(cwd=str(workspace), **ASKING)
        await thread.run("add a file")
    assert [p.item_id for p in asked] == ["call_p"]
    assert not (workspace / "new.txt").exists()


async def test_dynamic_tool_call_through_the_handler(home: Path, model: FakeModelServer, workspace: Path) -> None:
    tool = {"type": "function", "name": "lookup", "description": "Look up", "inputSchema": {"type": "object"}}
    model.enqueue(function_call_reply("lookup", json.dumps({"q": "x"}), "call_t"), text_reply("done"))

    async def lookup(params: DynamicToolCallParams) -> DynamicToolCallResponse:
        assert params.tool == "lookup" and params.arguments == {"q": "x"}
        return DynamicToolCallResponse.model_validate(
            {"contentItems": [{"type": "inputText", "text": "found"}], "success": True}
        )

    async with await connect_embedded(home, options=ClientOptions(experimental_api=True)) as client:
        client.on_dynamic_tool_call(lookup)
        thread = await client.start_thread(cwd=str(workspace), dynamic_tools=[tool])
        await thread.run("look it up")
    assert tool_outputs(model.requests[1].body)["call_t"] == "found"


async def test_an_unhandled_server_request_gets_an_error_naming_it(
    home: Path, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    sent: list[dict[str, Any]] = []
    options = ClientOptions(wire_tap=lambda way, text: sent.append(json.loads(text)) if way == "send" else None)
    async with await connect_embedded(home, options=options) as client:
        thread = await client.start_thread(cwd=str(workspace), **ASKING)
        turn = await thread.run("write it")
    assert turn.status == "completed"
    assert not (workspace / "out.txt").exists()
    (reply,) = [m for m in sent if "error" in m]
    assert reply["error"]["code"] == -32601
    assert reply["error"]["message"].startswith(
        "no handler is registered for the server request `item/commandExecution/requestApproval` in this client"
    )


async def test_a_failed_turn_raises_its_typed_error(home: Path, model: FakeModelServer, workspace: Path) -> None:
    model.enqueue(response_failed("context_length_exceeded", "Your input exceeds the context window of this model."))
    async with await connect_embedded(home) as client:
        thread = await client.start_thread(cwd=str(workspace))
        turn = await thread.turn("too long")
        completed = await turn.wait()
        assert completed.status == "failed"
        try:
            await turn.wait(check=True)
        except ContextWindowExceeded as error:
            assert isinstance(error, TurnFailed) and error.turn.id == turn.id
            assert error.codex_error_info == "contextWindowExceeded"
        else:
            raise AssertionError("a failed turn must raise")
