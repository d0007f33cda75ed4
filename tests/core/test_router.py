"""core/tools/router.py: which tools the model is offered for a thread, and how each call the
model makes becomes the output it gets back (never an exception: a bad call is an output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.thread_basics import ClientIdentity
from agent_app_server.core.tools import AgentToolRouter
from agent_app_server.core.turns import ToolCall, TurnEngine, TurnRunner
from support.recording_sink import RecordingSink


@pytest.fixture
def turn(engine: TurnEngine, tmp_path: Path) -> TurnRunner:
    """A turn of a fresh thread (not launched: the test makes the model's calls itself)."""
    settings = engine.threads.default_settings(str(tmp_path))
    settings.dynamic_tools = [{"name": "lookup", "description": "Look up", "inputSchema": {"type": "object"}}]
    thread = engine.threads.start_thread(ClientIdentity("cli"), settings)
    return engine.start(thread, [{"type": "text", "text": "go", "text_elements": []}])


def router(engine: TurnEngine) -> AgentToolRouter:
    assert isinstance(engine.tools, AgentToolRouter)
    return engine.tools


def function_call(name: str, arguments: Any, call_id: str = "call_1") -> ToolCall:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall({"type": "function_call", "name": name, "arguments": raw, "call_id": call_id})


def test_the_model_is_offered_the_built_in_tools_and_the_threads_dynamic_ones(
    engine: TurnEngine, turn: TurnRunner
) -> None:
    names = [spec.get("name") for spec in router(engine).specs(turn)]
    assert names[:5] == ["exec_command", "write_stdin", "apply_patch", "update_plan", "view_image"]
    assert "lookup" in names
    # The Responses API takes apply_patch as a freeform (custom) tool.
    assert router(engine).specs(turn)[2]["type"] == "custom"
    assert router(engine).wire_api(turn.thread) == "responses"


async def test_update_plan_notifies_the_client(engine: TurnEngine, turn: TurnRunner, sink: RecordingSink) -> None:
    plan = {"explanation": "why", "plan": [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "pending"}]}
    output = await router(engine).call(turn, function_call("update_plan", plan))
    assert output == {"type": "function_call_output", "call_id": "call_1", "output": "Plan updated"}
    assert sink.notifications[-1] == (
        turn.thread_id,
        "turn/plan/updated",
        {
            "threadId": turn.thread_id,
            "turnId": turn.turn_id,
            "explanation": "why",
            "plan": [{"step": "a", "status": "inProgress"}, {"step": "b", "status": "pending"}],
        },
    )


@pytest.mark.parametrize(
    ("call", "output"),
    [
        (function_call("update_plan", "{not json"), "failed to parse function arguments: "),
        (function_call("update_plan", "[1]"), "failed to parse function arguments: expected a JSON object"),
        (function_call("update_plan", {"plan": "x"}), "failed to parse function arguments: `plan` must be a list"),
        (function_call("update_plan", {"plan": [{"step": "a", "status": "done"}]}), "unknown status 'done'"),
        (function_call("no_such_tool", {}), "unsupported call: no_such_tool"),
        (
            ToolCall({"type": "custom_tool_call", "name": "mystery", "input": "", "call_id": "call_1"}),
            "unsupported custom tool call: mystery",
        ),
    ],
)
async def test_a_bad_call_is_an_output_the_model_can_read(
    engine: TurnEngine, turn: TurnRunner, call: ToolCall, output: str
) -> None:
    result = await router(engine).call(turn, call)
    assert result["call_id"] == "call_1" and output in result["output"]


async def test_view_image_of_a_missing_file_says_so(engine: TurnEngine, turn: TurnRunner, tmp_path: Path) -> None:
    result = await router(engine).call(turn, function_call("view_image", {"path": str(tmp_path / "nope.png")}))
    assert "nope.png" in str(result["output"])


async def test_apply_patch_writes_inside_the_workspace(
    engine: TurnEngine, turn: TurnRunner, sink: RecordingSink, tmp_path: Path
) -> None:
    turn.thread.settings.approval_policy = "never"
    turn.thread.settings.sandbox_policy = {"type": "dangerFullAccess"}
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch"
    call = ToolCall({"type": "custom_tool_call", "name": "apply_patch", "input": patch, "call_id": "call_1"})
    result = await router(engine).call(turn, call)
    assert result["type"] == "custom_tool_call_output"
    assert (tmp_path / "hello.txt").read_text() == "hi\n"
    # item/completed is announced once the item is stored.
    await engine.sink.delivered(turn.thread_id)
    assert "item/completed" in sink.methods()
