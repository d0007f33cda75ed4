"""Modal screens: the approval dialog and the pickers (threads to resume, models, approval
policies, files).

Owns: how a pending approval (a command, a patch, an MCP server asking to run one of its tools)
is shown and answered (``y`` accept, ``a`` accept for the session, ``n`` decline, ``Esc``
cancel) and one picker (search box, list, paging with PgUp/PgDn) that every list in the UI uses,
fed by a loader the app supplies. Layer: tui (Textual, and ``client``'s request names; no client
calls).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..client.handlers import COMMAND_APPROVAL, FILE_CHANGE_APPROVAL, MCP_ELICITATION
from .cells import change_text

_TITLES = {COMMAND_APPROVAL: "Run this command?", FILE_CHANGE_APPROVAL: "Apply this patch?"}


def is_confirmation(params: dict[str, Any]) -> bool:
    """An elicitation that asks yes or no (a form without fields), which the dialog can answer."""
    schema = params.get("requestedSchema")
    return params.get("mode") == "form" and isinstance(schema, dict) and not schema.get("properties")


@dataclass
class Approval:
    """One server request waiting for the user: what to show, and where the answer goes."""

    method: str
    params: dict[str, Any]
    #: For a file change: the ``fileChange`` item (its patch), from ``item/started``.
    item: dict[str, Any] | None = None
    key: str = ""
    answer: Any = field(default=None)

    @property
    def title(self) -> str:
        return _TITLES.get(self.method, f"Allow the {self.params.get('serverName', 'MCP')} MCP server?")


class ApprovalScreen(ModalScreen[str]):
    """The approval dialog; dismissed with the decision string."""

    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; }
    ApprovalScreen > Vertical {
        width: 90%; max-width: 120; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    ApprovalScreen .title { text-style: bold; margin-bottom: 1; }
    ApprovalScreen VerticalScroll { height: auto; max-height: 24; }
    ApprovalScreen .keys { margin-top: 1; }
    """

    BINDINGS = [
        Binding("y", "decide('accept')", "accept"),
        Binding("a", "decide('acceptForSession')", "accept for session"),
        Binding("n", "decide('decline')", "decline"),
        Binding("escape", "decide('cancel')", "cancel"),
    ]

    def __init__(self, approval: Approval, waiting: int) -> None:
        super().__init__()
        self.approval = approval
        self.waiting = waiting

    def compose(self) -> ComposeResult:
        approval = self.approval
        params = approval.params
        with Vertical():
            title = approval.title + (f"   ({self.waiting} more waiting)" if self.waiting else "")
            yield Static(title, classes="title")
            with VerticalScroll():
                yield Static(self._what(), classes="what")
            details = Text()
            cwd = params.get("cwd") or (approval.item or {}).get("cwd")
            if cwd:
                details.append("in ", style="dim").append(str(cwd))
            reason = params.get("reason")
            if reason:
                details.append("\nwhy: ", style="dim").append(str(reason))
            if params.get("grantRoot"):
                details.append("\nalso grants write access to: ", style="dim").append(str(params["grantRoot"]))
            yield Static(details, classes="details")
            yield Static(
                Text.from_markup(
                    "[b]y[/b] accept   [b]a[/b] accept for this session   [b]n[/b] decline   [b]Esc[/b] cancel the turn"
                ),
                classes="keys",
            )

    def _what(self) -> Text:
        approval = self.approval
        if approval.method == MCP_ELICITATION:
            text = Text(str(approval.params.get("message") or "(no message)"), style="bold")
            meta = approval.params.get("_meta")
            arguments = meta.get("tool_params") if isinstance(meta, dict) else None
            if arguments is not None:
                text.append("\nwith " + json.dumps(arguments, ensure_ascii=False), style="dim")
            return text
        if approval.method == COMMAND_APPROVAL:
            command = approval.params.get("command") or (approval.item or {}).get("command") or "(command not given)"
            return Text(f"$ {command}", style="bold")
        changes = (approval.item or {}).get("changes") or approval.params.get("changes") or []
        return change_text(list(changes)) if changes else Text("(the patch was not shown to this client)")

    def action_decide(self, decision: str) -> None:
        self.dismiss(decision)


@dataclass
class Page:
    """One page of a picker: ``(label, value)`` options and the cursor of the next page."""

    options: list[tuple[str | Text, Any]]
    next_cursor: str | None = None


Loader = Callable[[str, str | None], Awaitable[Page]]


class PickerScreen(ModalScreen[Any]):
    """A searchable, paged list; dismissed with the chosen value (None: cancelled)."""

    DEFAULT_CSS = """
    PickerScreen { align: center middle; }
    PickerScreen > Vertical {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    PickerScreen .title { text-style: bold; }
    PickerScreen OptionList { height: auto; max-height: 20; }
    PickerScreen .hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("down", "move(1)", show=False, priority=True),
        Binding("up", "move(-1)", show=False, priority=True),
        Binding("pagedown", "page(1)", "next page", priority=True),
        Binding("pageup", "page(-1)", "previous page", priority=True),
    ]

    def __init__(self, title: str, load: Loader, *, searchable: bool = True, query: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.load = load
        self.searchable = searchable
        self.query_text = query
        #: Cursors of the pages before the current one (None: the first page).
        self.cursors: list[str | None] = [None]
        self.next_cursor: str | None = None
        self.options = OptionList()
        self.hint = Static("", classes="hint")
        self.loaded = 0
        self._values: list[Any] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title")
            if self.searchable:
                yield Input(value=self.query_text, placeholder="type to search", id="search")
            yield self.options
            yield self.hint

    def on_mount(self) -> None:
        (self.query_one("#search", Input) if self.searchable else self.options).focus()
        self.reload()

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.cursors = [None]
        self.reload()

    @work(exclusive=True, group="picker-load")
    async def reload(self) -> None:
        try:
            page = await self.load(self.query_text, self.cursors[-1])
        except Exception as exc:
            self.options.clear_options()
            self.hint.update(Text(f"could not load the list: {exc}", style="red"))
            return
        self.next_cursor = page.next_cursor
        self.options.clear_options()
        self.options.add_options(Option(label, id=str(index)) for index, (label, _) in enumerate(page.options))
        self._values = [value for _, value in page.options]
        if page.options:
            self.options.highlighted = 0
        pages = f"page {len(self.cursors)}" + (" · PgDn next" if page.next_cursor else "")
        pages += " · PgUp previous" if len(self.cursors) > 1 else ""
        empty = "nothing found · " if not page.options else ""
        self.hint.update(f"{empty}{pages} · Enter choose · Esc cancel")
        self.loaded += 1

    def action_move(self, step: int) -> None:
        count = self.options.option_count
        if count:
            current = self.options.highlighted or 0
            self.options.highlighted = max(0, min(count - 1, current + step))

    def action_page(self, step: int) -> None:
        if step > 0 and self.next_cursor:
            self.cursors.append(self.next_cursor)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
        else:
            return
        self.reload()

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#search")
    def _submit(self) -> None:
        self._choose(self.options.highlighted)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def _choose(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self._values):
            self.dismiss(self._values[index])
