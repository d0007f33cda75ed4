"""Controlling the agent from the UI: interrupt, steer, ``!shell``, slash commands, the ``@`` file
picker, ``/quit``. Textual's pilot drives the app; the server is ours, embedded, on the fake model."""

from __future__ import annotations

from pathlib import Path

from agent_app_server.testing import FakeModelServer, delay, text_reply
from agent_app_server.testing.fake_model import Script
from agent_app_server.tui.cells import AnswerCell, CommandCell, InfoCell, UserCell
from agent_app_server.tui.screens import PickerScreen
from support.tui import Driver, OpenApp


def stalled_reply(text: str, pause_s: float) -> Script:
    """An answer whose stream stops for ``pause_s`` after its first deltas (a slow model)."""
    events = text_reply(text)
    return [*events[:6], delay(pause_s), *events[6:]]


async def streaming(ui: Driver) -> None:
    """Send a prompt and wait until its answer is streaming."""
    await ui.send("go")
    await ui.until(lambda: ui.app.turn_id and ui.cells(AnswerCell), "the answer to start streaming")


async def test_escape_interrupts_the_running_turn(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(stalled_reply("one two three four five six seven eight", 60))
    async with open_app() as ui:
        await streaming(ui)
        await ui.pilot.press("escape")
        await ui.turn_done()
        await ui.shows("■ interrupted")


async def test_ctrl_c_interrupts_then_quits(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(stalled_reply("one two three four five six seven eight", 60))
    async with open_app() as ui:
        await streaming(ui)
        await ui.pilot.press("ctrl+c")
        await ui.turn_done()
        thread_id = ui.app.thread_id
        await ui.pilot.press("ctrl+c")
        await ui.until(lambda: ui.app.return_value, "the app to exit")
        assert ui.app.return_value == f"agent-app-server tui --resume {thread_id}"


async def test_typing_while_a_turn_runs_steers_it(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(stalled_reply("one two three four five six seven eight", 5.0), text_reply("steered answer"))
    async with open_app() as ui:
        await ui.type("start")
        await ui.until(lambda: ui.app.turn_id and ui.cells(AnswerCell), "the answer to start streaming")
        await ui.send("also do this")
        assert ui.cells(UserCell)[-1].text == "↳ also do this"
        await ui.turn_done()
        await ui.until(lambda: len(model.requests) >= 2, "the steer to reach the model")
        assert "also do this" in str(model.requests[1].body["input"])


async def test_bang_runs_a_shell_command_in_the_thread(open_app: OpenApp, workspace: Path) -> None:
    (workspace / "marker.txt").write_text("x")
    async with open_app() as ui:
        await ui.type("!ls")
        command = await ui.until(lambda: ui.cells(CommandCell), "the command cell")
        await ui.until(lambda: command[0].status == "completed", "the command to finish")
        assert "marker.txt" in command[0].output
        assert command[0].exit_code == 0


async def test_slash_new_fork_compact_and_status(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("first answer"), text_reply("a summary of it all"))
    async with open_app() as ui:
        first = ui.app.thread_id
        await ui.type("hello")
        await ui.turn_done()
        await ui.type("/status")
        await ui.shows(f"thread  {first}")
        await ui.shows("tokens  ")
        await ui.type("/compact")
        await ui.shows("compacting the conversation…")
        await ui.shows("The conversation was compacted (summarised) to free context.")
        assert len(model.requests) == 2
        await ui.type("/fork")
        await ui.until(lambda: ui.app.thread_id != first, "the fork")
        await ui.shows(f"forked thread {first} into {ui.app.thread_id}")
        await ui.type("/new")
        await ui.until(lambda: not ui.cells(UserCell), "a fresh transcript")
        await ui.shows(f"new thread {ui.app.thread_id}")
        await ui.type("/help")
        await ui.shows("/compact")


async def test_resume_picker_searches_pages_and_resumes(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(*(text_reply(f"answer {n}") for n in range(3)))
    async with open_app() as ui:
        threads = []
        for n in range(3):
            if n:
                await ui.type("/new")
                await ui.until(lambda: ui.app.thread_id not in threads, "a new thread")
            threads.append(ui.app.thread_id)
            await ui.type(f"topic {n} " + ("zebra" if n == 1 else "plain"))
            await ui.turn_done(n + 1)
        await ui.type("/new")
        await ui.type("/resume")
        picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "the picker")
        await ui.until(lambda: picker.loaded and picker.options.option_count == 3, "three threads listed")
        for char in "zebra":
            await ui.pilot.press(char)
        await ui.until(lambda: picker.options.option_count == 1, "the search to narrow the list")
        await ui.pilot.press("enter")
        await ui.until(lambda: ui.app.thread_id == threads[1], "the chosen thread resumed")
        await ui.shows("topic 1 zebra")
        await ui.shows("answer 1")


async def test_resume_picker_pages(open_app: OpenApp, model: FakeModelServer, monkeypatch: object) -> None:
    from agent_app_server.tui import app as app_module

    setattr(app_module, "THREADS_PER_PAGE", 1)  # noqa: B010 (one thread a page: paging with 2 threads)
    try:
        model.enqueue(text_reply("a"), text_reply("b"))
        async with open_app() as ui:
            await ui.type("one")
            await ui.turn_done()
            await ui.type("/new")
            await ui.type("two")
            await ui.turn_done(2)
            await ui.type("/resume")
            picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "picker")
            await ui.until(lambda: picker.loaded == 1, "the first page")
            first = picker._values
            assert picker.next_cursor
            await ui.pilot.press("pagedown")
            await ui.until(lambda: picker.loaded == 2, "the second page")
            assert picker._values != first and len(picker._values) == 1
            await ui.pilot.press("pageup")
            await ui.until(lambda: picker.loaded == 3, "the first page again")
            assert picker._values == first
            await ui.pilot.press("escape")
    finally:
        setattr(app_module, "THREADS_PER_PAGE", 20)  # noqa: B010


async def test_model_and_approvals_pickers_set_the_next_turn(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("ok"))
    async with open_app() as ui:
        await ui.type("/approvals")
        picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "picker")
        await ui.until(lambda: picker.loaded, "the policies")
        await ui.pilot.press("down", "enter")
        await ui.until(lambda: ui.app.approval_policy == "on-request", "the policy")
        await ui.type("/model")
        picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "picker")
        await ui.until(lambda: picker.loaded, "the models")
        assert picker.options.option_count >= 1
        chosen = picker._values[0]
        await ui.pilot.press("enter")
        await ui.until(lambda: ui.app.model_override == chosen, "the model")
        await ui.type("go")
        await ui.turn_done()
        assert model.requests[-1].body["model"] == chosen


async def test_at_opens_the_file_picker(open_app: OpenApp, workspace: Path) -> None:
    (workspace / "src").mkdir()
    (workspace / "src" / "needle_module.py").write_text("")
    (workspace / "other.txt").write_text("")
    async with open_app() as ui:
        await ui.pilot.press("l", "o", "o", "k", "space", "at")
        picker = await ui.until(lambda: isinstance(ui.app.screen, PickerScreen) and ui.app.screen, "the picker")
        for char in "needle":
            await ui.pilot.press(char)
        await ui.until(lambda: picker._values == ["src/needle_module.py"], "the fuzzy match")
        await ui.pilot.press("enter")
        await ui.until(lambda: ui.app.composer.text == "look src/needle_module.py ", "the path in the composer")


async def test_quit_prints_the_resume_command(open_app: OpenApp) -> None:
    async with open_app() as ui:
        thread_id = ui.app.thread_id
        await ui.type("/quit")
        await ui.until(lambda: ui.app.return_value, "the app to exit")
        assert ui.app.return_value == f"agent-app-server tui --resume {thread_id}"


async def test_unknown_slash_text_is_a_prompt(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("a path, then"))
    async with open_app() as ui:
        await ui.type("/usr/bin is a path")
        await ui.turn_done()
        assert ui.cells(UserCell)[-1].text == "/usr/bin is a path"
        assert not [c for c in ui.cells(InfoCell) if "unknown" in str(c.body.render())]
