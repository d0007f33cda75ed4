"""The conversation on screen: prompt, streamed answer, reasoning, commands, diffs, plan, errors."""

from __future__ import annotations

from agent_app_server.testing import FakeModelServer, text_reply
from agent_app_server.tui.cells import AnswerCell, UserCell
from support.tui import OpenApp


async def test_prompt_streams_the_answer_as_markdown(open_app: OpenApp, model: FakeModelServer) -> None:
    model.enqueue(text_reply("Here is **bold** and a list:\n\n- one\n- two\n"))
    async with open_app() as ui:
        await ui.type("Hello there")
        await ui.turn_done()
        await ui.until(lambda: ui.cells(AnswerCell) and "- two" in ui.cells(AnswerCell)[-1].markdown.source, "answer")
        assert [cell.text for cell in ui.cells(UserCell)] == ["Hello there"]
        answer = ui.cells(AnswerCell)[-1]
        assert answer.markdown.source == "Here is **bold** and a list:\n\n- one\n- two\n"
