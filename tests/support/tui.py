"""Driving the terminal UI headless (Textual's pilot): wait on what the screen shows, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from textual.pilot import Pilot

from agent_app_server.tui.app import TuiApp
from agent_app_server.tui.cells import AnswerCell, Cell

#: How long a test waits for the screen to show something before failing.
DEADLINE_S = 30.0


class Driver:
    """The app under a pilot: type into it, wait for what it shows."""

    def __init__(self, app: TuiApp, pilot: Pilot[Any]) -> None:
        self.app = app
        self.pilot = pilot

    async def until(self, condition: Callable[[], Any], what: str, within: float = DEADLINE_S) -> Any:
        """Process the app's messages until ``condition()`` is true (its value is returned)."""
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; transcript:\n{self.transcript()}")
            await self.pilot.pause(0.01)

    def cells(self, kind: type[Cell] = Cell) -> list[Any]:
        return list(self.app.transcript.query(kind))

    def transcript(self) -> str:
        """Every cell's text as the user reads it (answers as their Markdown source)."""
        lines = []
        for cell in self.app.transcript.query(Cell):
            if isinstance(cell, AnswerCell):
                lines.append(cell.drawn)
            else:
                lines.extend(str(static.render()) for static in cell.query("Static"))
        return "\n".join(lines)

    def screen_text(self) -> str:
        """The text of the screen on top (a dialog, a picker, or the conversation)."""
        return "\n".join(str(static.render()) for static in self.app.screen.query("Static"))

    async def shows(self, text: str, within: float = DEADLINE_S) -> None:
        await self.until(lambda: text in self.transcript(), f"{text!r} on screen", within)

    async def type(self, text: str) -> None:
        """Type into the composer (``\\n`` as Ctrl-J) and send it with Enter."""
        self.app.composer.focus()
        for char in text:
            await self.pilot.press("ctrl+j" if char == "\n" else _key(char))
        await self.pilot.press("enter")

    async def send(self, text: str) -> None:
        """Put ``text`` in the composer at once and press Enter (typing it takes a while)."""
        self.app.composer.load_text(text)
        self.app.composer.focus()
        await self.pilot.press("enter")

    async def turn_done(self, count: int = 1) -> None:
        """Wait until ``count`` turns have completed since the app started."""
        await self.until(lambda: self.app.turns_completed >= count, f"{count} turn(s) to complete")


_NAMED = {
    " ": "space",
    "/": "slash",
    "!": "exclamation_mark",
    "@": "at",
    ".": "full_stop",
    "-": "minus",
    "_": "underscore",
}


def _key(char: str) -> str:
    return _NAMED.get(char, char)


#: ``async with open_app(...) as driver`` (the fixture in tests/tui/conftest.py).
OpenApp = Callable[..., AbstractAsyncContextManager[Driver]]
