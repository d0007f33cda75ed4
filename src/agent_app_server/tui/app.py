"""The terminal UI application: one conversation with an app server through an ``AsyncClient``.

Owns: the screen layout (transcript, composer, footer), turning the server's notifications into
transcript cells, the approval queue (server requests shown one dialog at a time; one answered
by another client closes; another client's dynamic tool calls left to it), keystrokes before the
stream (a key's echo frame carries no stream work), the composer's verbs (a prompt starts a turn
or steers the running one, ``!cmd`` runs ``thread/shellCommand``, ``/commands``), interrupting,
and the connection's life as the footer shows it. Layer: tui (Textual; imports ``client`` only:
whoever builds the app hands it a connected client, embedded or remote).
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..client import AsyncClient, Backoff, ClientError, ClientOptions, ConnectionLost, Event, text_input
from ..client.handlers import COMMAND_APPROVAL, DYNAMIC_TOOL_CALL, FILE_CHANGE_APPROVAL, MCP_ELICITATION
from .cells import (
    AnswerCell,
    Cell,
    CommandCell,
    ErrorCell,
    FileChangeCell,
    InfoCell,
    PlanCell,
    ReasoningCell,
    ToolCell,
    UserCell,
    diff_text,
)
from .composer import Composer
from .screens import Approval, ApprovalScreen, Page, PickerScreen, is_confirmation

#: Approval policies as the /approvals picker offers them.
APPROVAL_POLICIES = {
    "untrusted": "ask before anything but reading",
    "on-request": "the model asks when it needs to",
    "on-failure": "ask when a sandboxed command fails",
    "never": "never ask",
}
#: Threads per page in the resume picker.
THREADS_PER_PAGE = 20

SLASH_COMMANDS = {
    "new": "start a new thread",
    "resume": "resume a thread (picker; or /resume THREAD_ID)",
    "fork": "fork this thread into a new one",
    "model": "choose the model for the next turns",
    "approvals": "choose when the agent asks before acting",
    "status": "server, version, thread, model, token usage, rate limits",
    "compact": "summarise the conversation to free context",
    "diff": "the file changes of this session's turns",
    "help": "this list",
    "quit": "leave (prints the command that resumes this thread)",
}


def approval_key(method: str, params: Any) -> str:
    """Identity of an approval request, the same for every asking of it (re-asked after a reconnect)."""
    if not isinstance(params, dict):
        return method
    # An elicitation names no item: what it asks tells two apart.
    asked = params.get("message") if method == MCP_ELICITATION else None
    return json.dumps(
        [method, params.get("threadId"), params.get("itemId"), params.get("approvalId"), asked], separators=(",", ":")
    )


class ConnectionWatch:
    """What the client tells the UI about its connection: drops, reconnects, and which server
    request id stands for which approval (``serverRequest/resolved`` names only the id).

    Create it first and connect with :meth:`options`; the app subscribes to ``changed``."""

    def __init__(self, client_name: str = "agent_app_server_tui", *, reconnect: Backoff | None = None) -> None:
        self.client_name = client_name
        #: How the client reconnects (None: the client's default).
        self.reconnect = reconnect
        self.state = "connected"
        self.reconnects = 0
        #: Server request id → approval key, for the requests this connection was asked.
        self.request_keys: dict[Any, str] = {}
        self.changed: Callable[[], None] = lambda: None

    def options(self) -> ClientOptions:
        options = ClientOptions(
            client_name=self.client_name,
            on_reconnect=self._reconnected,
            on_disconnect=self._disconnected,
            wire_tap=self._tap,
        )
        if self.reconnect is not None:
            options.reconnect = self.reconnect
        return options

    def _reconnected(self, count: int) -> None:
        self.state = "connected"
        self.reconnects = count
        self.changed()

    def _disconnected(self) -> None:
        self.state = "reconnecting"
        self.changed()

    def _tap(self, direction: str, text: str) -> None:
        # Cheap on the hot path: only approval requests and elicitations are parsed (a delta
        # mentioning their names costs one parse and is then ignored).
        if direction != "recv" or ("requestApproval" not in text and MCP_ELICITATION not in text):
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict) and "id" in message and isinstance(message.get("method"), str):
            self.request_keys[message["id"]] = approval_key(message["method"], message.get("params"))


#: The longest the event pump runs before letting the UI's other work (keys, frames) in.
PUMP_SLICE_S = 0.002
#: How long the UI leaves another client's dynamic tool call to that client (the one that
#: declared the tool) before answering that it runs none: the first answer wins, and an
#: immediate refusal from a client only watching would beat the real one.
TOOL_DEFER_S = 10.0
#: How long after a key the user counts as typing.
TYPING_S = 0.5
#: The longest a keystroke holds the stream back while its echo is drawn (a bound, should the
#: frame that shows it never come).
ECHO_HOLD_S = 0.05


@dataclass
class Target:
    """Where the UI is connected, as the footer says it and as the resume command spells it."""

    description: str
    #: The command line that reconnects the same way, without ``--resume``.
    command: list[str] = field(default_factory=lambda: ["agent-app-server", "tui"])

    def resume_command(self, thread_id: str) -> str:
        return shlex.join([*self.command, "--resume", thread_id])


def _user_text(item: dict[str, Any]) -> str:
    parts = []
    for content in item.get("content") or []:
        if isinstance(content, dict):
            if content.get("type") == "text":
                parts.append(str(content.get("text", "")))
            elif content.get("type") in ("mention", "skill"):
                parts.append(f"@{content.get('path') or content.get('name')}")
    return "\n".join(parts)


def cell_for(item: dict[str, Any]) -> Cell | None:
    """The transcript cell that shows a thread item (None: an item the transcript does not show)."""
    kind = item.get("type")
    item_id = str(item.get("id"))
    if kind == "userMessage":
        return UserCell(_user_text(item))
    if kind in ("agentMessage", "plan"):
        return AnswerCell(item_id, str(item.get("text") or ""))
    if kind == "reasoning":
        summary = item.get("summary")
        return ReasoningCell(item_id, list(summary) if isinstance(summary, list) else None)
    if kind == "commandExecution":
        return CommandCell(item)
    if kind == "fileChange":
        return FileChangeCell(item)
    if kind in ("mcpToolCall", "dynamicToolCall"):
        return ToolCell(item)
    if kind == "contextCompaction":
        return InfoCell("The conversation was compacted (summarised) to free context.")
    if kind == "webSearch":
        return InfoCell(f"searched the web: {item.get('query', '')}")
    return None


class TuiApp(App[str | None]):
    """The conversation. ``run_async()`` returns the command that resumes the thread (or None)."""

    TITLE = "agent-app-server"
    CSS = """
    Screen { layout: vertical; }
    #transcript { height: 1fr; padding: 0 1; }
    #footer { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    .warning { color: $warning; }
    """
    BINDINGS = [
        Binding("ctrl+c", "interrupt_or_quit", "interrupt / quit", priority=True),
        Binding("escape", "interrupt", "interrupt"),
    ]

    def __init__(
        self,
        client: AsyncClient,
        *,
        connection: ConnectionWatch | None = None,
        target: Target | None = None,
        cwd: str,
        prompt: str | None = None,
        resume: str | None = None,
        approval_policy: str | None = None,
        sandbox: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.connection = connection or ConnectionWatch()
        self.target = target or Target("embedded server")
        self.cwd = cwd
        self.initial_prompt = prompt
        self.initial_resume = resume
        # Subscribed before anything is asked, so nothing the server says is missed.
        self.events = client.events()
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.model: str | None = None
        self.model_override: str | None = None
        self.approval_policy = approval_policy
        self.sandbox = sandbox
        self.token_usage: dict[str, Any] | None = None
        self.cells: dict[str, Cell] = {}
        self.plans: dict[str, PlanCell] = {}
        self.diffs: dict[str, str] = {}
        #: Items that approvals refer to (command and file-change items, by id).
        self.items: dict[str, dict[str, Any]] = {}
        self.errored_turns: set[str] = set()
        #: Turns of this session that ended (any status), for whoever waits on the UI.
        self.turns_completed = 0
        self.approvals: list[Approval] = []
        self.showing: tuple[Approval, ApprovalScreen] | None = None
        self.gone: str | None = None
        self.ready = asyncio.Event()
        #: Dynamic tool calls asked of this client, settled when their item completes.
        self._tool_calls: dict[str, asyncio.Future[None]] = {}
        #: Set while no keystroke waits for its echo (see :attr:`echo_pending`).
        self._echoed = asyncio.Event()
        self._echoed.set()
        self._key_at = 0.0
        self.transcript = VerticalScroll(id="transcript")
        self.composer = Composer()
        self.footer = Static(id="footer")

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield self.transcript
        yield self.composer
        yield self.footer

    async def on_mount(self) -> None:
        self.transcript.anchor()
        self.composer.focus()

        # The client calls back from its own tasks; the footer is redrawn from the app's.
        def changed() -> None:
            self.call_later(self._refresh_footer)

        self.connection.changed = changed
        self.client.set_request_handler(COMMAND_APPROVAL, self._approval_handler(COMMAND_APPROVAL))
        self.client.set_request_handler(FILE_CHANGE_APPROVAL, self._approval_handler(FILE_CHANGE_APPROVAL))
        self.client.set_request_handler(MCP_ELICITATION, self._elicitation)
        self.client.set_request_handler(DYNAMIC_TOOL_CALL, self._dynamic_tool_call)
        self._pump()
        self._start()

    @work(group="start")
    async def _start(self) -> None:
        try:
            if self.initial_resume:
                await self.resume_thread(self.initial_resume)
            else:
                await self.new_thread()
        except ClientError as exc:
            await self.add(ErrorCell(str(exc)))
            return
        finally:
            self.ready.set()
        hints = "Enter send · Ctrl-J new line · /help commands · !cmd shell · @ file · Esc interrupt · Ctrl-C quit"
        await self.add(InfoCell(Text(hints, style="dim")))
        if self.initial_prompt:
            await self.submit(self.initial_prompt)

    async def add(self, cell: Cell) -> Cell:
        await self.transcript.mount(cell)
        return cell

    def _refresh_footer(self) -> None:
        state = self.connection.state if self.gone is None else "disconnected"
        colour = {"connected": "green", "reconnecting": "yellow"}.get(state, "red")
        text = Text("● ", style=colour)
        text.append(state)
        if self.connection.reconnects:
            text.append(f" ({self.connection.reconnects} reconnect{'s' * (self.connection.reconnects > 1)})")
        if self.turn_id:
            text.append(" · working (Esc interrupts, Enter steers)", style="yellow")
        model = self.model_override or self.model
        if model:
            text.append(f" · {model}")
        total = _total_tokens(self.token_usage)
        if total is not None:
            text.append(f" · {total:,} tokens")
        text.append(f" · {self.target.description}")
        if self.thread_id:
            text.append(f" · thread {self.thread_id}")
        self.footer.update(text)

    # ------------------------------------------------------------------ threads

    def _adopt(self, session: dict[str, Any]) -> None:
        thread = session["thread"]
        old = self.thread_id
        self.thread_id = thread["id"]
        self.model = session.get("model") or thread.get("model")
        self.cwd = session.get("cwd") or thread.get("cwd") or self.cwd
        self.approval_policy = self.approval_policy or _policy_name(session.get("approvalPolicy"))
        self.turn_id = None
        self.token_usage = None
        if old and old != self.thread_id:
            self.run_worker(self._unsubscribe(old), group="unsubscribe")
        self._refresh_footer()

    async def _unsubscribe(self, thread_id: str) -> None:
        # Best effort: the other thread's notifications are filtered out anyway.
        try:
            await self.client.request("thread/unsubscribe", {"threadId": thread_id})
        except ClientError:
            return

    async def _clear(self) -> None:
        await self.transcript.remove_children()
        self.cells.clear()
        self.plans.clear()
        self.diffs.clear()

    async def new_thread(self) -> None:
        params: dict[str, Any] = {"cwd": self.cwd}
        if self.approval_policy:
            params["approvalPolicy"] = self.approval_policy
        if self.model_override:
            params["model"] = self.model_override
        if self.sandbox:
            params["sandbox"] = self.sandbox
        session = await self.client.request("thread/start", params)
        await self._clear()
        self._adopt(session)
        await self.add(InfoCell(f"new thread {self.thread_id} · {self.model}"))

    async def resume_thread(self, thread_id: str) -> None:
        session = await self.client.request("thread/resume", {"threadId": thread_id})
        await self._clear()
        self._adopt(session)
        await self.add(InfoCell(f"resumed thread {self.thread_id} · {self.model}"))
        for turn in session["thread"].get("turns") or []:
            for item in turn.get("items") or []:
                cell = cell_for(item)
                if cell is not None:
                    await self.add(cell)
            error = turn.get("error")
            if turn.get("status") == "failed" and isinstance(error, dict):
                await self.add(_error_cell(error))
            if turn.get("status") == "inProgress":
                self.turn_id = turn.get("id")
        self._refresh_footer()

    # ------------------------------------------------------------------ notifications

    @work(group="pump")
    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            yielded = loop.time()
            async for event in self.events:
                if self.echo_pending:
                    await self._echo_drawn()
                try:
                    await self.on_server_event(event)
                except Exception as exc:  # a surprising message must not end the conversation
                    self.log.error(f"showing {event.method} failed: {exc!r}")
                # A burst of events is read without waiting; let keystrokes and frames in
                # between, so typing stays responsive while an answer streams.
                if loop.time() - yielded > PUMP_SLICE_S:
                    await asyncio.sleep(0)
                    yielded = loop.time()
        except ConnectionLost as lost:
            await self._server_gone(str(lost))
            return
        if not self._exiting:
            await self._server_gone("the connection ended")

    _exiting = False

    # ------------------------------------------------------------------ keystrokes first

    @property
    def echo_pending(self) -> bool:
        """A keystroke waits for the frame that shows it: the stream holds back (events are
        read but not handled, answers not drawn), so that frame carries the composer alone."""
        if self._echoed.is_set():
            return False
        return asyncio.get_running_loop().time() - self._key_at < ECHO_HOLD_S

    @property
    def typing(self) -> bool:
        """A key came in the last :data:`TYPING_S` (the stream is drawn less often meanwhile)."""
        return asyncio.get_running_loop().time() - self._key_at < TYPING_S

    async def _echo_drawn(self) -> None:
        remaining = ECHO_HOLD_S - (asyncio.get_running_loop().time() - self._key_at)
        try:
            await asyncio.wait_for(self._echoed.wait(), max(remaining, 0))
        except TimeoutError:
            return

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._key_at = asyncio.get_running_loop().time()
            self._echoed.clear()
        await super().on_event(event)

    def post_display_hook(self) -> None:
        # A frame is out: whatever keystroke came before it is drawn (or drew nothing).
        self._echoed.set()

    async def _server_gone(self, reason: str) -> None:
        self.gone = reason
        self.turn_id = None
        for approval, screen in [self.showing] if self.showing else []:
            self.showing = None
            screen.dismiss("cancel")
            del approval
        self._refresh_footer()
        where = self.target.description
        text = f"The server ({where}) went away and did not come back: {reason}."
        if self.thread_id:
            text += f"\nThread {self.thread_id} is kept by the server. When it is back, resume it with:\n  "
            text += self.target.resume_command(self.thread_id)
        await self.add(ErrorCell(text))

    async def on_server_event(self, event: Event) -> None:
        method = event.method
        params = event.params if isinstance(event.params, dict) else {}
        if method == "serverRequest/resolved":
            self._resolved_elsewhere(params.get("requestId"))
            return
        thread_id = params.get("threadId")
        if thread_id is not None and thread_id != self.thread_id:
            return
        if method == "item/agentMessage/delta" or method == "item/plan/delta":
            cell = self.cells.get(params["itemId"])
            if cell is None:
                cell = await self._open(AnswerCell(params["itemId"]), params["itemId"])
            if isinstance(cell, AnswerCell):
                cell.append(params["delta"])
        elif method == "item/commandExecution/outputDelta":
            cell = self.cells.get(params["itemId"])
            if isinstance(cell, CommandCell):
                cell.append(params["delta"])
        elif method == "item/reasoning/summaryTextDelta":
            cell = self.cells.get(params["itemId"])
            if cell is None:
                cell = await self._open(ReasoningCell(params["itemId"]), params["itemId"])
            if isinstance(cell, ReasoningCell):
                cell.append(int(params.get("summaryIndex") or 0), params["delta"])
        elif method == "item/started":
            await self._item_started(params["item"])
        elif method == "item/completed":
            await self._item_completed(params["item"])
        elif method == "turn/started":
            self.turn_id = params["turn"]["id"]
            self._refresh_footer()
        elif method == "turn/completed":
            await self._turn_completed(params["turn"])
        elif method == "turn/plan/updated":
            turn_id = params["turnId"]
            plan = self.plans.get(turn_id)
            if plan is None:
                plan = self.plans[turn_id] = PlanCell(turn_id)
                await self.add(plan)
            plan.show(list(params.get("plan") or []), params.get("explanation"))
        elif method == "turn/diff/updated":
            self.diffs[params["turnId"]] = str(params.get("diff") or "")
        elif method == "error":
            error = params.get("error") or {}
            if params.get("willRetry"):
                await self.add(InfoCell(f"⚠ {error.get('message', 'error')} (retrying)", classes="warning"))
            else:
                self.errored_turns.add(str(params.get("turnId")))
                await self.add(_error_cell(error))
        elif method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage")
            self.token_usage = usage if isinstance(usage, dict) else None
            self._refresh_footer()
        elif method in ("warning", "configWarning", "deprecationNotice"):
            message = params.get("message") or params.get("summary") or ""
            await self.add(InfoCell(f"⚠ {message}", classes="warning"))

    async def _open(self, cell: Cell, item_id: str) -> Cell:
        self.cells[item_id] = cell
        await self.add(cell)
        return cell

    async def _item_started(self, item: dict[str, Any]) -> None:
        item_id = str(item.get("id"))
        if item.get("type") in ("commandExecution", "fileChange"):
            self.items[item_id] = item
        if item.get("type") == "userMessage" or item_id in self.cells:
            return  # the prompt was echoed when it was sent
        cell = cell_for(item)
        if cell is not None:
            await self._open(cell, item_id)

    async def _item_completed(self, item: dict[str, Any]) -> None:
        item_id = str(item.get("id"))
        settled = self._tool_calls.get(item_id)
        if settled is not None and not settled.done():
            settled.set_result(None)
        self.items.pop(item_id, None)
        cell = self.cells.get(item_id)
        if cell is None:
            if item.get("type") == "userMessage":
                return
            new = cell_for(item)
            if new is not None:
                await self._open(new, item_id)
            return
        if isinstance(cell, AnswerCell):
            cell.complete(str(item.get("text") or ""))
        elif isinstance(cell, ReasoningCell):
            cell.complete(list(item.get("summary") or []))
        elif isinstance(cell, CommandCell | FileChangeCell | ToolCell):
            cell.complete(item)

    async def _turn_completed(self, turn: dict[str, Any]) -> None:
        turn_id = turn.get("id")
        if turn_id == self.turn_id:
            self.turn_id = None
        # Everything streamed in this turn is drawn before the turn is said to be over.
        for cell in list(self.cells.values()):
            if isinstance(cell, AnswerCell | CommandCell):
                await cell.flush()
        self.turns_completed += 1
        status = turn.get("status")
        if status == "failed" and turn_id not in self.errored_turns:
            await self.add(_error_cell(turn.get("error") or {"message": "the turn failed"}))
        elif status == "interrupted":
            await self.add(InfoCell("■ interrupted"))
        self._refresh_footer()

    # ------------------------------------------------------------------ approvals

    def _approval_handler(self, method: str) -> Callable[[Any], Any]:
        async def ask(params: Any) -> dict[str, Any]:
            params = params if isinstance(params, dict) else {}
            approval = Approval(
                method,
                params,
                item=self.items.get(str(params.get("itemId"))),
                key=approval_key(method, params),
                answer=asyncio.get_running_loop().create_future(),
            )
            return {"decision": await self._decision(approval)}

        return ask

    async def _decision(self, approval: Approval) -> str:
        self.approvals.append(approval)
        # The client runs handlers in its own tasks; screens are pushed from the app's.
        self.call_later(self._show_next_approval)
        decision: str = await approval.answer
        return decision

    async def _dynamic_tool_call(self, params: Any) -> dict[str, Any]:
        """Another client's tool (this UI declares none): left to that client to answer."""
        params = params if isinstance(params, dict) else {}
        call_id = str(params.get("callId"))
        settled = self._tool_calls.setdefault(call_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(settled), TOOL_DEFER_S)
        except TimeoutError:
            pass
        finally:
            self._tool_calls.pop(call_id, None)
        # Moot when the call completed (the server took the other client's answer).
        raise RuntimeError(
            f"this terminal UI runs no dynamic tools; `{params.get('tool')}` belongs to the client that "
            "declared it in thread/start, which did not answer"
        )

    async def _elicitation(self, params: Any) -> dict[str, Any]:
        """An MCP server asks: a yes/no (running one of its tools) is a dialog like any approval;
        a form or a web page to visit is declined, saying so (the UI has no forms yet)."""
        params = params if isinstance(params, dict) else {}
        if not is_confirmation(params):
            server = params.get("serverName", "an MCP server")
            note = f"declined a request from {server} that needs a form or a web page: {params.get('message', '')}"
            self.run_worker(self.add(InfoCell(note, classes="warning")), group="note")
            return {"action": "decline", "content": None}
        approval = Approval(
            MCP_ELICITATION,
            params,
            key=approval_key(MCP_ELICITATION, params),
            answer=asyncio.get_running_loop().create_future(),
        )
        decision = await self._decision(approval)
        if decision == "acceptForSession":
            return {"action": "accept", "content": {}, "_meta": {"persist": "session"}}
        return {"action": decision, "content": {} if decision == "accept" else None}

    def _show_next_approval(self) -> None:
        if self.showing is not None or not self.approvals:
            return
        approval = self.approvals[0]
        screen = ApprovalScreen(approval, len(self.approvals) - 1)
        self.showing = (approval, screen)
        self.push_screen(screen, callback=lambda decision: self._decided(approval, decision))

    def _decided(self, approval: Approval, decision: str | None) -> None:
        if approval in self.approvals:
            self.approvals.remove(approval)
        if self.showing is not None and self.showing[0] is approval:
            self.showing = None
        if not approval.answer.done():
            approval.answer.set_result(decision or "cancel")
        self._show_next_approval()

    def _resolved_elsewhere(self, request_id: Any) -> None:
        key = self.connection.request_keys.pop(request_id, None)
        if key is None:
            return
        for approval in list(self.approvals):
            if approval.key != key or approval.answer.done():
                continue
            # Answered by another client: the server took that answer; ours would go nowhere.
            approval.answer.set_result("cancel")
            if self.showing is not None and self.showing[0] is approval:
                self.showing[1].dismiss("cancel")
            else:
                self.approvals.remove(approval)
            self.run_worker(self.add(InfoCell("an approval was answered by another client")), group="note")

    # ------------------------------------------------------------------ input

    @on(Composer.Submitted)
    async def _submitted(self, message: Composer.Submitted) -> None:
        await self.submit(message.text)

    async def submit(self, text: str) -> None:
        """What the composer sends: a ``/command``, a ``!shell`` line, a steer or a new turn."""
        await self.ready.wait()
        try:
            if text.startswith("/") and text[1:].split(" ", 1)[0] in SLASH_COMMANDS:
                await self.slash(text[1:].strip())
            elif text.startswith("!") and text[1:].strip():
                await self._shell(text[1:].strip())
            elif self.thread_id is None:
                await self.add(ErrorCell("there is no thread; /new starts one"))
            elif self.turn_id is not None:
                await self.add(UserCell(f"↳ {text}"))
                await self.client.request(
                    "turn/steer",
                    {"threadId": self.thread_id, "expectedTurnId": self.turn_id, "input": [text_input(text)]},
                )
            else:
                await self.add(UserCell(text))
                params: dict[str, Any] = {"threadId": self.thread_id, "input": [text_input(text)]}
                if self.model_override:
                    params["model"] = self.model_override
                if self.approval_policy:
                    params["approvalPolicy"] = self.approval_policy
                response = await self.client.request("turn/start", params)
                self.turn_id = self.turn_id or response["turn"]["id"]
                self._refresh_footer()
        except ClientError as exc:
            await self.add(_rpc_error_cell(exc))

    async def _shell(self, command: str) -> None:
        if self.thread_id is None:
            await self.add(ErrorCell("there is no thread; /new starts one"))
            return
        await self.client.request("thread/shellCommand", {"threadId": self.thread_id, "command": command})

    @on(Composer.FilePickRequested)
    def _pick_file(self) -> None:
        async def load(query: str, cursor: str | None) -> Page:
            if not query:
                return Page([])
            found = await self.client.request(
                "fuzzyFileSearch", {"query": query, "roots": [self.cwd], "cancellationToken": "tui-file-picker"}
            )
            return Page([(str(match["path"]), str(match["path"])) for match in found.get("files") or []])

        def chosen(path: Any) -> None:
            self.composer.insert(f"{path} " if path else "@")
            self.composer.focus()

        self.push_screen(PickerScreen("Insert a file path (fuzzy search)", load), callback=chosen)

    def action_interrupt(self) -> None:
        if self.turn_id is not None and self.thread_id is not None:
            self.run_worker(self._interrupt(self.thread_id, self.turn_id), group="interrupt")

    async def _interrupt(self, thread_id: str, turn_id: str) -> None:
        try:
            await self.client.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id})
        except ClientError as exc:
            await self.add(_rpc_error_cell(exc))

    def action_interrupt_or_quit(self) -> None:
        if self.turn_id is not None:
            self.action_interrupt()
        else:
            self.quit()

    def quit(self) -> None:
        self._exiting = True
        self.exit(self.target.resume_command(self.thread_id) if self.thread_id else None)

    # ------------------------------------------------------------------ slash commands

    async def slash(self, line: str) -> None:
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        if name == "quit":
            self.quit()
        elif name == "help":
            text = Text()
            for command, what in SLASH_COMMANDS.items():
                text.append(f"/{command}", style="bold").append(f"  {what}\n")
            await self.add(InfoCell(text))
        elif name == "new":
            await self.new_thread()
        elif name == "resume":
            if argument:
                await self.resume_thread(argument)
            else:
                self.push_screen(PickerScreen("Resume a thread", self._thread_page), callback=self._resume_chosen)
        elif name == "fork":
            await self._fork()
        elif name == "model":
            self.push_screen(
                PickerScreen("Model for the next turns", self._model_page, searchable=False),
                callback=self._model_chosen,
            )
        elif name == "approvals":
            self.push_screen(
                PickerScreen("When should the agent ask before acting?", self._policy_page, searchable=False),
                callback=self._policy_chosen,
            )
        elif name == "status":
            await self.add(InfoCell(await self._status()))
        elif name == "compact":
            if self.thread_id:
                await self.client.request("thread/compact/start", {"threadId": self.thread_id})
                await self.add(InfoCell("compacting the conversation…"))
        elif name == "diff":
            diff = "\n".join(d for d in self.diffs.values() if d)
            await self.add(InfoCell(diff_text(diff) if diff else Text("no file changes in this thread yet")))

    async def _thread_page(self, query: str, cursor: str | None) -> Page:
        params: dict[str, Any] = {"limit": THREADS_PER_PAGE, "sortKey": "updated_at"}
        if query:
            params["searchTerm"] = query
        if cursor:
            params["cursor"] = cursor
        listed = await self.client.request("thread/list", params)
        options: list[tuple[str | Text, Any]] = []
        for thread in listed.get("data") or []:
            label = Text(str(thread.get("name") or thread.get("preview") or "(empty)").splitlines()[0][:70])
            label.append(f"  {thread['id']}", style="dim")
            options.append((label, thread["id"]))
        return Page(options, listed.get("nextCursor"))

    def _resume_chosen(self, thread_id: Any) -> None:
        if thread_id:
            self.run_worker(self._guarded(self.resume_thread(str(thread_id))), group="resume")

    async def _guarded(self, action: Any) -> None:
        try:
            await action
        except ClientError as exc:
            await self.add(_rpc_error_cell(exc))

    async def _fork(self) -> None:
        if self.thread_id is None:
            return
        old = self.thread_id
        session = await self.client.request("thread/fork", {"threadId": old})
        self._adopt(session)
        await self.add(InfoCell(f"forked thread {old} into {self.thread_id}; you are now in the fork"))

    async def _model_page(self, _query: str, cursor: str | None) -> Page:
        listed = await self.client.request("model/list", {"cursor": cursor} if cursor else {})
        options: list[tuple[str | Text, Any]] = []
        for model in listed.get("data") or []:
            if model.get("hidden"):
                continue
            label = Text(str(model.get("displayName") or model.get("model")))
            current = model.get("model") == (self.model_override or self.model)
            label.append(f"  {model.get('description', '')}{'  (current)' if current else ''}", style="dim")
            options.append((label, model.get("model")))
        return Page(options, listed.get("nextCursor"))

    def _model_chosen(self, model: Any) -> None:
        if model:
            self.model_override = str(model)
            self._refresh_footer()
            self.run_worker(self.add(InfoCell(f"model for the next turns: {model}")), group="note")

    async def _policy_page(self, _query: str, _cursor: str | None) -> Page:
        return Page([(Text(f"{p}  ").append(what, style="dim"), p) for p, what in APPROVAL_POLICIES.items()])

    def _policy_chosen(self, policy: Any) -> None:
        if policy:
            self.approval_policy = str(policy)
            self.run_worker(self.add(InfoCell(f"approvals: {policy} (from the next turn)")), group="note")

    async def _status(self) -> Text:
        response = self.client.initialize_response
        text = Text("Status\n", style="bold")
        rows = [
            ("server", self.target.description),
            ("user agent", response.user_agent if response is not None else "?"),
            ("thread", self.thread_id or "none"),
            ("model", self.model_override or self.model or "?"),
            ("cwd", self.cwd),
            ("approvals", self.approval_policy or "server default"),
            ("tokens", _usage_text(self.token_usage)),
        ]
        try:
            limits = await self.client.request("account/rateLimits/read", None)
            rows.append(("rate limits", _limits_text(limits)))
        except ClientError as exc:
            rows.append(("rate limits", f"not available ({getattr(exc, 'message', exc)})"))
        for label, value in rows:
            text.append(f"{label:>12}  ", style="dim").append(f"{value}\n")
        text.rstrip()
        return text


def _error_cell(error: dict[str, Any]) -> ErrorCell:
    return ErrorCell(str(error.get("message") or "error"), error.get("codexErrorInfo"), error.get("additionalDetails"))


def _rpc_error_cell(exc: ClientError) -> ErrorCell:
    return ErrorCell(str(exc), getattr(exc, "codex_error_info", None))


def _policy_name(policy: Any) -> str | None:
    return policy if isinstance(policy, str) else None


def _total_tokens(usage: dict[str, Any] | None) -> int | None:
    total = (usage or {}).get("total")
    value = total.get("totalTokens") if isinstance(total, dict) else None
    return value if isinstance(value, int) else None


def _usage_text(usage: dict[str, Any] | None) -> str:
    if not usage:
        return "none yet"
    total = usage.get("total") or {}
    window = usage.get("modelContextWindow")
    parts = [f"{total.get('totalTokens', 0):,} total", f"{total.get('inputTokens', 0):,} in"]
    parts.append(f"{total.get('outputTokens', 0):,} out")
    if window:
        parts.append(f"context window {window:,}")
    return ", ".join(parts)


def _limits_text(limits: dict[str, Any]) -> str:
    snapshot = limits.get("rateLimits") or {}
    parts = []
    for name in ("primary", "secondary"):
        window = snapshot.get(name)
        if isinstance(window, dict):
            parts.append(f"{name} {window.get('usedPercent', '?')}% used")
    return ", ".join(parts) or "none reported"
