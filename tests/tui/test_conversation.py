"""The conversation on screen: prompt, streamed answer, reasoning, commands, diffs, plan, errors.
Textual's pilot drives the app; the server is ours, embedded, on the fake model."""

from __future__ import annotations

import json
from pathlib import Path

from textual import events

from agent_app_server.testing import (
    FakeModelServer,
    custom_tool_call_reply,
    function_call_reply,
    response_failed,
    text_reply,
)
from agent_app_server.tui.cells import (
    AnswerCell,
    CommandCell,
    ErrorCell,
    FileChangeCell,
    PlanCell,
    ReasoningCell,
    ToolCell,
    UserCell,
)
from agent_app_server.tui.screens import ApprovalScreen
from support.agent_turns import exec_args, namespaced
from support.model_config import MCP_CONFIG
from support.tui import OpenApp

ASKING = ("approval_policy=untrusted", "sandbox_mode=workspace-write")


async def test_prompt_streams_the_answer_as_markdown(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("Here is **bold** and a list:\n\n- one\n- two\n"))
    async with open_app() as ui:
        await ui.type("Hello there")
        await ui.turn_done()
        assert [cell.text for cell in ui.cells(UserCell)] == ["Hello there"]
        answer = ui.cells(AnswerCell)[-1]
        assert answer.drawn == "Here is **bold** and a list:\n\n- one\n- two\n"
        assert model.requests[-1].body["input"][-1]["content"][0]["text"] == "Hello there"


async def test_the_prompt_argument_is_sent_first(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("Answer to the argument."))
    async with open_app(prompt="from the command line") as ui:
        await ui.turn_done()
        assert ui.cells(UserCell)[0].text == "from the command line"
        assert ui.cells(AnswerCell)[-1].drawn == "Answer to the argument."


async def test_composer_is_multi_line_and_keeps_history(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("one"), text_reply("two"))
    async with open_app() as ui:
        await ui.type("first line\nsecond line")
        await ui.turn_done()
        assert ui.cells(UserCell)[0].text == "first line\nsecond line"
        await ui.pilot.press("up")
        assert ui.app.composer.text == "first line\nsecond line"
        await ui.pilot.press("enter")
        await ui.turn_done(2)
        assert [cell.text for cell in ui.cells(UserCell)] == ["first line\nsecond line"] * 2


async def test_a_paste_keeps_its_line_breaks(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("pasted"))
    async with open_app() as ui:
        ui.app.composer.focus()
        ui.app.post_message(events.Paste("def f():\n    return 1\n"))
        await ui.until(lambda: ui.app.composer.text == "def f():\n    return 1\n", "the paste in the composer")
        await ui.pilot.press("enter")
        await ui.turn_done()
        assert ui.cells(UserCell)[0].text == "def f():\n    return 1\n"


async def test_an_mcp_tool_call_shows_what_was_called_and_its_result(
    open_app: OpenApp, model: FakeModelServer, home: Path
) -> None:
    with (home / "config.toml").open("a") as config:
        config.write("\n" + MCP_CONFIG)
    model.enqueue(
        namespaced(function_call_reply("echo", json.dumps({"text": "hi"}), "call_1"), "mcp__echo"), text_reply("echoed")
    )
    async with open_app() as ui:
        await ui.type("echo hi")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the MCP server's question")
        shown = await ui.until(lambda: "with {" in ui.screen_text() and ui.screen_text(), "the question in full")
        assert "Allow the echo MCP server?" in shown and 'run tool "echo"' in shown and '{"text": "hi"}' in shown
        await ui.pilot.press("y")
        await ui.turn_done()
        cell = await ui.until(lambda: ui.cells(ToolCell), "the tool call")
        await ui.until(lambda: cell[0].item.get("status") == "completed", "the call to complete")
        shown = str(cell[0].body.render())
        assert 'echo.echo({"text": "hi"})' in shown and "echo: hi" in shown


async def test_reasoning_summary_is_collapsed(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("done", reasoning_summary="**Weighing options** then deciding"))
    async with open_app() as ui:
        await ui.type("think")
        await ui.turn_done()
        reasoning = await ui.until(lambda: ui.cells(ReasoningCell), "a reasoning cell")
        await ui.until(lambda: "Weighing options" in reasoning[0].box.title, "the summary title")
        assert reasoning[0].box.collapsed


async def test_command_cell_after_approval_shows_output_and_exit_code(
    open_app: OpenApp, model: FakeModelServer, workspace: Path
) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi from the agent"), "call_1"), text_reply("ran"))
    async with open_app(overrides=ASKING) as ui:
        await ui.type("run it")
        dialog = await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen) and ui.app.screen, "the dialog")
        shown = ui.screen_text()
        assert "Run this command?" in shown and "echo hi from the agent" in shown and str(workspace) in shown
        assert dialog.approval.params["itemId"] == "call_1"
        await ui.pilot.press("y")
        await ui.turn_done()
        command = ui.cells(CommandCell)[0]
        await ui.until(lambda: command.status == "completed", "the command to complete")
        assert command.exit_code == 0
        assert "hi from the agent" in command.output
        await ui.shows("✓ exit 0")


async def test_declined_command_is_marked_declined(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("touch nope.txt"), "call_1"), text_reply("ok"))
    async with open_app(overrides=ASKING) as ui:
        await ui.type("try")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the dialog")
        await ui.pilot.press("n")
        await ui.turn_done()
        await ui.until(lambda: ui.cells(CommandCell) and ui.cells(CommandCell)[0].status == "declined", "declined")
        await ui.shows("declined")


async def test_file_change_shows_a_coloured_diff(open_app: OpenApp, model: FakeModelServer, workspace: Path) -> None:
    patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello, world\n*** End Patch\n"
    model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p"), text_reply("patched"))
    async with open_app(overrides=ASKING) as ui:
        await ui.type("make a file")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the dialog")
        assert "Apply this patch?" in ui.screen_text() and "+hello, world" in ui.screen_text()
        await ui.pilot.press("a")
        await ui.turn_done()
        assert (workspace / "hello.txt").read_text() == "hello, world\n"
        cell = ui.cells(FileChangeCell)[0]
        await ui.until(lambda: cell.item.get("status") == "completed", "the patch to be applied")
        body = cell.body.render()
        assert "+hello, world" in str(body)
        assert any("green" in str(span.style) for span in body.spans)  # type: ignore[union-attr]
        await ui.type("/diff")
        await ui.shows("hello.txt")


async def test_plan_is_a_checklist(open_app: OpenApp, model: FakeModelServer) -> None:
    plan = {"plan": [{"step": "read the code", "status": "completed"}, {"step": "fix it", "status": "in_progress"}]}
    model.enqueue(function_call_reply("update_plan", json.dumps(plan), "call_1"), text_reply("planned"))
    async with open_app() as ui:
        await ui.type("plan it")
        await ui.turn_done()
        await ui.until(lambda: ui.cells(PlanCell), "the plan")
        await ui.shows("☑ read the code")
        await ui.shows("◐ fix it")


async def test_error_is_explained_in_plain_words(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(response_failed("context_length_exceeded", "Your input exceeds the context window of this model."))
    async with open_app() as ui:
        await ui.type("a very long prompt")
        await ui.turn_done()
        await ui.until(lambda: ui.cells(ErrorCell), "the error")
        await ui.shows("Error: Codex ran out of room")
        await ui.shows("Run /compact")
        assert len(ui.cells(ErrorCell)) == 1
