"""The transcript's cells: one widget per thing that happened in the conversation.

Owns: how each thread item looks (the user's prompt, the agent's answer as Markdown, reasoning
summaries collapsed, command cells with live output and exit code, file changes as coloured
diffs, the plan as a checklist, MCP and dynamic tool calls, errors explained in plain words) and
how streamed text reaches the screen: deltas are appended to a buffer and drawn at most once per
frame (:class:`FrameThrottle`), so a 20,000-delta answer costs a few dozen re-renders, not 20,000
(each re-rendering only the answer's open block: :mod:`.markdown`).
Layer: tui (Textual; ``client`` for nothing but data shapes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Collapsible, Static

from .explain import explain
from .markdown import MarkdownView

#: Streamed text is drawn at most this often (a frame at 30 fps)...
FRAME_S = 1 / 30
#: ... and less often when drawing it costs more than this share of the time (a slow or busy
#: machine), so keystrokes always find the UI free; never less often than this:
STREAM_SHARE = 0.5
SLOWEST_FRAME_S = 0.25
#: A draw held back by a keystroke's echo looks again this soon.
ECHO_RETRY_S = 0.004
#: While the user types, streamed text is drawn at most this often (a frame drawn just before a
#: key makes its echo wait for the next frame slot).
TYPING_FRAME_S = 0.1
#: Lines of a command's output kept on screen (the rest is summarised as a count).
OUTPUT_TAIL_LINES = 12


@runtime_checkable
class KeysFirst(Protocol):
    """What the app tells the stream about the keyboard (the app is the one that sees keys)."""

    @property
    def echo_pending(self) -> bool:
        """A keystroke waits for the frame that shows it: hold the stream back."""

    @property
    def typing(self) -> bool:
        """Keys came a moment ago: draw the stream less often, so echoes find the screen free."""


class FrameThrottle:
    """Calls ``draw`` at most once per frame while ``poke`` is called; ``flush`` draws now.

    Only one draw runs at a time: pokes during a draw schedule exactly one more. A frame's cost
    (the draw, then the screen laid out and rendered) is measured, and the next draw waits long
    enough to keep the stream's share of the time under :data:`STREAM_SHARE`."""

    def __init__(self, owner: Widget, draw: Callable[[], Awaitable[None]]) -> None:
        self._owner = owner
        self._draw = draw
        self._scheduled = False
        self._drawing = False
        self._dirty = False
        self.interval = FRAME_S

    def poke(self) -> None:
        self._dirty = True
        if not self._scheduled and not self._drawing:
            self._scheduled = True
            app = self._owner.app
            typing = isinstance(app, KeysFirst) and app.typing
            self._owner.set_timer(max(self.interval, TYPING_FRAME_S) if typing else self.interval, self._tick)

    def finish(self) -> None:
        """The last change (the item completed): drawn now, not a frame interval later."""
        self._dirty = True
        self._owner.call_later(self.flush)

    async def _tick(self) -> None:
        # A keystroke's echo goes first (the app says so while it waits): its frame should not
        # wait for this draw, nor for the layout the draw causes.
        app = self._owner.app
        if isinstance(app, KeysFirst) and app.echo_pending:
            self._owner.set_timer(ECHO_RETRY_S, self._tick)
            return
        self._scheduled = False
        await self.flush()

    async def flush(self) -> None:
        if self._drawing or not self._dirty:
            return
        self._drawing = True
        started = time.monotonic()
        try:
            while self._dirty:
                self._dirty = False
                await self._draw()
        finally:
            self._drawing = False
        self._owner.call_after_refresh(self._shown, started)

    def _shown(self, started: float) -> None:
        cost = time.monotonic() - started
        self.interval = min(max(FRAME_S, cost / STREAM_SHARE), SLOWEST_FRAME_S)


class Cell(Vertical):
    """A transcript entry."""

    DEFAULT_CSS = """
    Cell { height: auto; margin: 0 0 1 0; }
    """


class UserCell(Cell):
    DEFAULT_CSS = """
    UserCell { border-left: thick $accent; padding: 0 1; background: $boost; }
    """

    def __init__(self, text: str) -> None:
        super().__init__(classes="user")
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(Text(self.text))


class AnswerCell(Cell):
    """The agent's answer, streamed as Markdown: deltas are buffered and appended once per frame."""

    def __init__(self, item_id: str, text: str = "") -> None:
        super().__init__(classes="answer")
        self.item_id = item_id
        self._pending: list[str] = [text] if text else []
        #: The text handed to the Markdown view so far.
        self.drawn = ""
        self._replace: str | None = None
        self.view = MarkdownView()
        self._throttle = FrameThrottle(self, self._draw)

    def compose(self) -> ComposeResult:
        yield self.view

    def on_mount(self) -> None:
        if self._pending:
            self._throttle.poke()

    @property
    def text(self) -> str:
        return self.drawn + "".join(self._pending)

    def append(self, delta: str) -> None:
        self._pending.append(delta)
        self._throttle.poke()

    def complete(self, text: str) -> None:
        """The authoritative text (``item/completed``): redraw it all if the deltas disagree."""
        if text != self.text:
            self._pending = []
            self._replace = text
        self._throttle.finish()

    async def _draw(self) -> None:
        if self._replace is not None:
            text, self._replace = self._replace, None
            self.view.update(text)
            self.drawn = text
        if not self._pending:
            return
        chunk = "".join(self._pending)
        self._pending.clear()
        self.drawn += chunk
        self.view.append(chunk)

    async def flush(self) -> None:
        await self._throttle.flush()


class ReasoningCell(Cell):
    """Reasoning summaries, collapsed under their first line."""

    def __init__(self, item_id: str, summary: list[str] | None = None) -> None:
        super().__init__(classes="reasoning")
        self.item_id = item_id
        self.parts: list[str] = list(summary or [])
        self.body = Static("", classes="reasoning-body")
        self.box = Collapsible(self.body, title="Thinking…", collapsed=True)
        self._throttle = FrameThrottle(self, self._draw)

    def compose(self) -> ComposeResult:
        yield self.box

    def on_mount(self) -> None:
        self._throttle.poke()

    def append(self, index: int, delta: str) -> None:
        while len(self.parts) <= index:
            self.parts.append("")
        self.parts[index] += delta
        self._throttle.poke()

    def complete(self, summary: list[str]) -> None:
        if summary:
            self.parts = list(summary)
        self._throttle.finish()

    async def _draw(self) -> None:
        text = "\n\n".join(part for part in self.parts if part)
        first = next((line for line in text.splitlines() if line.strip()), "")
        self.box.title = f"Thinking: {first.strip('*# ')[:80]}" if first else "Thinking…"
        self.body.update(Text(text))


def _status_text(status: str, exit_code: Any = None, duration_ms: Any = None) -> Text:
    if status == "inProgress":
        return Text("running…", style="yellow")
    if status == "declined":
        return Text("declined", style="magenta")
    took = f" in {duration_ms / 1000:.1f}s" if isinstance(duration_ms, int) else ""
    if status == "completed" and exit_code in (None, 0):
        return Text(f"✓ exit {exit_code if exit_code is not None else 0}{took}", style="green")
    return Text(f"✗ {status}{f' (exit {exit_code})' if exit_code is not None else ''}{took}", style="red")


class CommandCell(Cell):
    """``$ command`` with its live output (the last lines) and, at the end, its exit code."""

    DEFAULT_CSS = """
    CommandCell { border-left: thick $secondary; padding: 0 1; }
    CommandCell .output { color: $text-muted; }
    """

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(classes="command")
        self.item_id = str(item.get("id"))
        self.command = str(item.get("command", ""))
        self.output = str(item.get("aggregatedOutput") or "")
        self.status = str(item.get("status", "inProgress"))
        self.exit_code: Any = item.get("exitCode")
        self.duration_ms: Any = item.get("durationMs")
        self.header = Static()
        self.body = Static(classes="output")
        self._throttle = FrameThrottle(self, self._draw)

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.body

    def on_mount(self) -> None:
        self._throttle.poke()

    def append(self, delta: str) -> None:
        self.output += delta
        self._throttle.poke()

    def complete(self, item: dict[str, Any]) -> None:
        self.status = str(item.get("status", self.status))
        self.exit_code = item.get("exitCode")
        self.duration_ms = item.get("durationMs")
        final = item.get("aggregatedOutput")
        if isinstance(final, str):
            self.output = final
        self._throttle.finish()

    async def flush(self) -> None:
        await self._throttle.flush()

    async def _draw(self) -> None:
        header = Text("$ ", style="bold")
        header.append(self.command, style="bold")
        header.append("  ")
        header.append_text(_status_text(self.status, self.exit_code, self.duration_ms))
        self.header.update(header)
        lines = self.output.rstrip("\n").splitlines()
        hidden = len(lines) - OUTPUT_TAIL_LINES
        shown = lines[-OUTPUT_TAIL_LINES:] if hidden > 0 else lines
        body = Text(f"… {hidden} earlier lines\n" if hidden > 0 else "", style="dim")
        body.append("\n".join(shown))
        self.body.update(body)
        self.body.display = bool(lines)


def diff_text(diff: str) -> Text:
    """A unified diff coloured line by line."""
    text = Text()
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "diff ", "index ")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        text.append(line + "\n", style=style)
    text.rstrip()
    return text


_KIND_WORDS = {"add": "added", "delete": "deleted", "update": "edited"}


def change_text(changes: list[dict[str, Any]]) -> Text:
    """Each file of a ``fileChange`` item: its path and what happened, then its diff."""
    text = Text()
    for change in changes:
        kind = change.get("kind") or {}
        kind_name = kind.get("type", "update") if isinstance(kind, dict) else str(kind)
        text.append(f"{_KIND_WORDS.get(kind_name, kind_name)} {change.get('path', '?')}", style="bold")
        move = kind.get("move_path") if isinstance(kind, dict) else None
        if move:
            text.append(f" → {move}", style="bold")
        text.append("\n")
        diff = str(change.get("diff") or "")
        if kind_name == "add" and diff and not diff.startswith(("@@", "---")):
            diff = "".join(f"+{line}\n" for line in diff.splitlines())
        text.append_text(diff_text(diff))
        text.append("\n")
    text.rstrip()
    return text


class ItemCell(Cell):
    """A cell showing one thread item as it is now: drawn when mounted and at each update."""

    def __init__(self, item: dict[str, Any], *, classes: str) -> None:
        super().__init__(classes=classes)
        self.item_id = str(item.get("id"))
        self.item = item
        self.body = Static()

    def on_mount(self) -> None:
        self._draw()

    def complete(self, item: dict[str, Any]) -> None:
        self.item = item
        self._draw()

    def _draw(self) -> None:
        raise NotImplementedError


class FileChangeCell(ItemCell):
    """The files a patch changes, as coloured diffs, with the patch's status."""

    DEFAULT_CSS = """
    FileChangeCell { border-left: thick $warning; padding: 0 1; }
    """

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(item, classes="file-change")
        self.header = Static()

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.body

    def _draw(self) -> None:
        status = str(self.item.get("status", "inProgress"))
        header = Text("patch  ", style="bold")
        header.append_text(
            Text("waiting…", style="yellow")
            if status == "inProgress"
            else Text("✓ applied", style="green")
            if status == "completed"
            else _status_text(status)
        )
        self.header.update(header)
        self.body.update(change_text(list(self.item.get("changes") or [])))


_PLAN_MARKS = {"completed": ("☑", "green"), "inProgress": ("◐", "yellow"), "pending": ("☐", "")}


class PlanCell(Cell):
    """The turn's plan as a checklist (``turn/plan/updated`` replaces it in place)."""

    DEFAULT_CSS = """
    PlanCell { border-left: thick $success; padding: 0 1; }
    """

    def __init__(self, turn_id: str) -> None:
        super().__init__(classes="plan")
        self.turn_id = turn_id
        self.body = Static()

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, plan: list[dict[str, Any]], explanation: str | None) -> None:
        text = Text("Plan\n", style="bold")
        if explanation:
            text.append(explanation + "\n", style="italic")
        for step in plan:
            mark, style = _PLAN_MARKS.get(str(step.get("status")), ("☐", ""))
            text.append(f"{mark} {step.get('step', '')}\n", style=style)
        text.rstrip()
        self.body.update(text)


class ToolCell(ItemCell):
    """An MCP or dynamic tool call: what was called with which arguments, and how it ended."""

    DEFAULT_CSS = """
    ToolCell { border-left: thick $primary; padding: 0 1; }
    """

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__(item, classes="tool")

    def compose(self) -> ComposeResult:
        yield self.body

    def _draw(self) -> None:
        item = self.item
        if item.get("type") == "mcpToolCall":
            name = f"{item.get('server')}.{item.get('tool')}"
        else:
            namespace = item.get("namespace")
            name = f"{namespace}.{item.get('tool')}" if namespace else str(item.get("tool"))
        text = Text("⚙ ", style="bold")
        text.append(name, style="bold")
        text.append(f"({_short_json(item.get('arguments'))})  ")
        status = str(item.get("status", "inProgress"))
        text.append_text(_status_text("completed" if status == "completed" else status))
        result = _tool_result_text(item)
        if result:
            text.append("\n" + result, style="dim")
        self.body.update(text)


def _short_json(value: Any, limit: int = 120) -> str:
    encoded = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return encoded if len(encoded) <= limit else encoded[: limit - 1] + "…"


def _tool_result_text(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    parts: list[str] = []
    result = item.get("result")
    contents = result.get("content") if isinstance(result, dict) else item.get("contentItems")
    for part in contents or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return _short_json("\n".join(parts), 400) if parts else ""


class ErrorCell(Cell):
    """An error: the message, what its ``codexErrorInfo`` means in plain words, and any details."""

    DEFAULT_CSS = """
    ErrorCell { border-left: thick $error; padding: 0 1; }
    """

    def __init__(self, message: str, codex_error_info: Any = None, details: str | None = None) -> None:
        super().__init__(classes="error")
        text = Text("Error: ", style="bold red")
        text.append(message, style="red")
        hint = explain(codex_error_info)
        if hint:
            text.append("\n" + hint)
        if details:
            text.append("\n" + details, style="dim")
        self.body = Static(text)

    def compose(self) -> ComposeResult:
        yield self.body


class InfoCell(Cell):
    """A note from the UI itself (status, warnings, what a command did)."""

    DEFAULT_CSS = """
    InfoCell { color: $text-muted; padding: 0 1; }
    """

    def __init__(self, text: str | Text, *, classes: str = "info") -> None:
        super().__init__(classes=classes)
        self.body = Static(text if isinstance(text, Text) else Text(text))

    def compose(self) -> ComposeResult:
        yield self.body
