"""The composer: where the user writes prompts, ``/commands`` and ``!shell`` lines.

Owns: multi-line editing (Enter sends, Ctrl-J or Shift-Enter adds a line, a paste keeps its line
breaks), the history of what was sent (Up on the first line / Down on the last line), and the
``@`` key asking for the file picker. Layer: tui (Textual only).
"""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 12; border: round $accent; }
    Composer:focus { border: round $accent-lighten-1; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class FilePickRequested(Message):
        """``@`` was typed: the app opens the file picker and inserts the choice."""

    def __init__(self) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", id="composer")
        self.sent: list[str] = []
        #: Position in ``history`` while browsing it (len(history): the draft being written).
        self._browse = 0
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._submit()
            return
        if event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.character == "@":
            event.stop()
            event.prevent_default()
            self.post_message(self.FilePickRequested())
            return
        if event.key == "up" and self.cursor_at_first_line and self._step_history(-1):
            event.stop()
            event.prevent_default()
            return
        if event.key == "down" and self.cursor_at_last_line and self._step_history(1):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _submit(self) -> None:
        text = self.text
        if not text.strip():
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._browse = len(self.sent)
        self._draft = ""
        self.clear()
        self.post_message(self.Submitted(text))

    def _step_history(self, step: int) -> bool:
        target = self._browse + step
        if not 0 <= target <= len(self.sent) or target == self._browse:
            return False
        if self._browse == len(self.sent):
            self._draft = self.text
        self._browse = target
        self.load_text(self._draft if target == len(self.sent) else self.sent[target])
        self.move_cursor(self.document.end)
        return True
