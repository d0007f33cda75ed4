"""SVG snapshots of the main screens (pytest-textual-snapshot's SVG format, compared by syrupy):
a streaming answer, a command cell, a diff, the approval dialog, the resume picker, an error.
Update them with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.

What differs from run to run (thread ids, the temporary workspace's name, durations) is replaced
by fixed text of the same width before comparing."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy.assertion import SnapshotAssertion

from agent_app_server.testing import (
    FakeModelServer,
    custom_tool_call_reply,
    delay,
    function_call_reply,
    response_failed,
    text_reply,
)
from agent_app_server.tui.cells import AnswerCell, CommandCell, ErrorCell, FileChangeCell
from agent_app_server.tui.screens import ApprovalScreen, PickerScreen
from support.agent_turns import exec_args
from support.tui import Driver, OpenApp

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WORKSPACE = re.compile(r"tuisnap[A-Za-z0-9_]{8}")
DURATION = re.compile(r"in&#160;\d+\.\ds")
ANSWER = (
    "# Result\n\nThe fix is **small**:\n\n1. read `config.toml`\n2. change one line\n\n```python\nprint('hi')\n```\n"
)


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A workspace whose path has the same length every run (its random part is masked)."""
    path = Path(tempfile.mkdtemp(prefix="tuisnap", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def steady_cursor(ui: Driver) -> None:
    """The composer's cursor does not blink: a dialog over the conversation shows the composer as
    it was when the dialog opened, cursor drawn or not depending on the moment."""
    ui.app.composer.cursor_blink = False


async def screenshot(ui: Driver) -> str:
    # No focus, so no blinking cursor (it would be drawn or not depending on the moment).
    ui.app.screen.set_focus(None)
    await ui.pilot.pause()
    svg = ui.app.export_screenshot()
    svg = UUID.sub("00000000-0000-0000-0000-000000000000", svg)
    svg = WORKSPACE.sub("tuisnapXXXXXXXX", svg)
    return DURATION.sub("in&#160;0.0s", svg)


@pytest.fixture
def svg(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(SVGImageExtension)


async def test_answer_streaming(open_app: OpenApp, model: FakeModelServer, svg: SnapshotAssertion) -> None:
    script = text_reply(ANSWER)
    model.enqueue([*script[:14], delay(60), *script[14:]])
    async with open_app(size=(90, 30)) as ui:
        steady_cursor(ui)
        await ui.send("How do I fix it?")
        await ui.until(lambda: ui.cells(AnswerCell) and "read" in ui.cells(AnswerCell)[0].drawn, "deltas")
        partial = ui.cells(AnswerCell)[0].text
        await ui.until(lambda: ui.cells(AnswerCell)[0].drawn == partial, "the drawn deltas")
        assert svg == await screenshot(ui)
        await ui.pilot.press("escape")
        await ui.turn_done()


async def test_command_cell(open_app: OpenApp, svg: SnapshotAssertion) -> None:
    async with open_app(size=(90, 24)) as ui:
        steady_cursor(ui)
        await ui.send("!printf 'first line\\nsecond line\\n'; exit 3")
        cell = await ui.until(lambda: ui.cells(CommandCell), "the command")
        await ui.until(lambda: cell[0].status != "inProgress", "the exit code")
        await cell[0].flush()
        assert svg == await screenshot(ui)


async def test_diff(open_app: OpenApp, model: FakeModelServer, workspace: Path, svg: SnapshotAssertion) -> None:
    (workspace / "greet.py").write_text("def greet():\n    return 'hello'\n")
    patch = (
        "*** Begin Patch\n*** Update File: greet.py\n@@\n def greet():\n-    return 'hello'\n+    return 'hello, world'\n"
        "*** Add File: notes.md\n+# Notes\n+greet() says hello, world\n*** End Patch\n"
    )
    model.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p"), text_reply("Updated the greeting."))
    async with open_app(size=(90, 30), overrides=("approval_policy=never", "sandbox_mode=workspace-write")) as ui:
        steady_cursor(ui)
        await ui.send("change the greeting")
        await ui.turn_done()
        cell = await ui.until(lambda: ui.cells(FileChangeCell), "the patch")
        await ui.until(lambda: cell[0].item.get("status") == "completed", "the patch applied")
        await ui.until(lambda: ui.cells(AnswerCell) and ui.cells(AnswerCell)[-1].drawn, "the answer")
        assert svg == await screenshot(ui)


async def test_approval_dialog(open_app: OpenApp, model: FakeModelServer, svg: SnapshotAssertion) -> None:
    model.enqueue(function_call_reply("exec_command", exec_args("rm -rf build && make"), "call_1"), text_reply("x"))
    overrides = ("approval_policy=untrusted", "sandbox_mode=workspace-write")
    async with open_app(size=(90, 30), overrides=overrides) as ui:
        steady_cursor(ui)
        await ui.send("rebuild")
        await ui.until(lambda: isinstance(ui.app.screen, ApprovalScreen), "the dialog")
        assert svg == await screenshot(ui)
        await ui.pilot.press("n")
        await ui.turn_done()


async def test_resume_picker(open_app: OpenApp, model: FakeModelServer, svg: SnapshotAssertion) -> None:
    model.enqueue(text_reply("a"), text_reply("b"))
    async with open_app(size=(90, 24)) as ui:
        steady_cursor(ui)
        await ui.send("Fix the flaky test in ci.yml")
        await ui.turn_done()
        await ui.send("/new")
        await ui.until(lambda: not ui.cells(AnswerCell), "a new thread")
        await ui.send("Explain the parser")
        await ui.turn_done(2)
        await ui.send("/resume")
        picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "the picker")
        await ui.until(lambda: picker.loaded, "the list")
        assert svg == await screenshot(ui)


async def test_error(open_app: OpenApp, model: FakeModelServer, svg: SnapshotAssertion) -> None:
    model.enqueue(response_failed("context_length_exceeded", "Your input exceeds the context window of this model."))
    async with open_app(size=(90, 20)) as ui:
        steady_cursor(ui)
        await ui.send("an enormous prompt")
        await ui.turn_done()
        await ui.until(lambda: ui.cells(ErrorCell), "the error")
        assert svg == await screenshot(ui)
