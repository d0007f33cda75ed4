"""Turns: one unit of agent work, from user input to the model's final answer.

Owns: the agent loop (sample the model, run tool calls, sample again), the item lifecycle on the
wire (``item/started`` → deltas → ``item/completed``), the turn's final status (completed,
interrupted, failed), the model-visible context of a thread, and what of it is persisted.
Notification order follows the reference as recorded in ``observed/NOTES.md``.

Durability: every item is journaled with the context entries the model needs for it, and its
``item/completed`` (like the ``turn/completed``) leaves only once that is stored (see
``journal.py``); what nothing has announced yet is batched into the next write.
Layer: core.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..protocol.fastpath import DeltaEncoder
from ..rpc.errors import InvalidParams
from .files import read_file
from .goals import ThreadGoals
from .history import (
    CONTEXT_ITEM,
    CONTEXT_RESET,
    ITEM_COMPLETED,
    RESUME_KINDS,
    TURN_COMPLETED,
    TURN_STARTED,
    fold_context,
    last_turn_interrupted,
    with_call_outputs,
)
from .hooks import Hooks, load_handlers
from .ids import uuid7
from .instructions import developer_message, environment_context, find_project_docs, instruction_messages, user_message
from .journal import Event, OrderedSink
from .thread_basics import IDLE
from .threads import SYSTEM_ERROR, active_status
from .usage import UsageLedger

if TYPE_CHECKING:
    from . import model
    from .model import ModelClient, ModelRequest
    from .threads import EventSink, LoadedThread, ThreadManager, WireStatus
    from .turn_state import TurnState

log = logging.getLogger(__name__)

TURN_ABORTED_NOTE = (
    "<turn_aborted>\nThe previous turn was interrupted before it finished (by the user, or the "
    "server stopped); output it had not completed was discarded. Do not assume any command it "
    "started finished.\n</turn_aborted>"
)

COMPACT_PROMPT = (
    "Summarize the conversation so far for a fresh continuation of this task. Include the user's goals, "
    "decisions made, files and commands that matter, what is done and what remains. Write it as notes "
    "to yourself; they will replace the earlier history."
)
COMPACT_SUMMARY_PREFIX = "Summary of the earlier conversation (it was compacted to save context):\n\n"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class TurnFailed(Exception):
    """The turn cannot go on; ``error`` is the wire TurnError."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


@dataclass
class ToolCall:
    """A tool call the model made in one response."""

    item: dict[str, Any]

    @property
    def call_id(self) -> str:
        return str(self.item.get("call_id") or self.item.get("id") or "")

    @property
    def name(self) -> str:
        return str(self.item.get("name") or "")

    @property
    def is_custom(self) -> bool:
        return self.item.get("type") == "custom_tool_call"


class TurnInterrupted(Exception):
    """Raised by a tool to end the turn as ``interrupted`` (e.g. the client answered ``cancel``)."""


class ToolRouter:
    """Tools offered to the model and how their calls are answered.

    The base router offers none and answers any call as unsupported (the reference's text), so a
    model that invents a tool gets told instead of hanging the turn.
    """

    def specs(self, turn: TurnRunner) -> list[dict[str, Any]]:
        return []

    async def call(self, turn: TurnRunner, call: ToolCall) -> dict[str, Any]:
        return tool_output(call, f"unsupported call: {call.name}")

    def thread_started(self, thread: LoadedThread) -> None:
        """A thread was created (``thread/start``); tools may start connecting for it."""

    def reconfigure(self, config: Any) -> None:
        """The user's configuration was reloaded (a :class:`~.config.Config`); tools configured
        there apply from now on."""

    async def prepare(self, turn: TurnRunner) -> None:
        """Before the turn's first model request (e.g. wait for tool servers to start)."""

    async def after_round(self, turn: TurnRunner) -> None:
        """After each model response and the tool calls it made."""

    def turn_finished(self, turn: TurnRunner, status: str) -> None:
        """The turn ended (``completed``, ``interrupted`` or ``failed``); tool work it left may stop."""

    async def aclose(self) -> None:
        """Server shutdown: stop whatever tools still run."""


def tool_output(call: ToolCall, output: str) -> dict[str, Any]:
    kind = "custom_tool_call_output" if call.is_custom else "function_call_output"
    return {"type": kind, "call_id": call.call_id, "output": output}


@dataclass
class TurnRunner:
    """Runs one turn of one thread. Created by :meth:`TurnEngine.start`."""

    engine: TurnEngine
    thread: LoadedThread
    turn_id: str
    input: list[dict[str, Any]]
    root_turn_id: str
    output_schema: Any = None
    #: A ``thread/compact/start`` turn: no user input, just the compaction.
    compact_only: bool = False
    #: Model-visible items that open the turn instead of a user message (a goal's continuation).
    context_input: list[dict[str, Any]] | None = None
    #: ``inProgress`` until :meth:`finish` sets how the turn ended (what finish listeners see).
    status: str = "inProgress"
    #: When set, the only tools the model is offered (a review offers only the tools that look).
    tool_names: frozenset[str] | None = None
    #: Token usage summed over this turn's model responses (wire ``TokenUsageBreakdown`` keys).
    usage: dict[str, int] = field(default_factory=dict)
    started_at: int = field(default_factory=lambda: int(time.time()))
    started_ms: int = field(default_factory=now_ms)
    pending_input: list[list[dict[str, Any]]] = field(default_factory=list)
    #: ``turn/settings/update``: ``model`` / ``effort`` / ``summary`` for this turn's next model
    #: requests only; the thread's own settings (and its next turns) are unchanged.
    step_settings: dict[str, str] = field(default_factory=dict)
    final_message: dict[str, Any] | None = None
    #: The thread's trusted hooks for this turn (None: none configured).
    hooks: Hooks | None = None
    task: asyncio.Task[None] | None = None
    #: A model response is streaming and has not completed yet.
    stream_open: bool = False
    _finished: bool = False

    @property
    def thread_id(self) -> str:
        return self.thread.id

    @property
    def state(self) -> TurnState:
        """What the thread's turns carry from one to the next (context, usage, flags)."""
        return self.thread.turn_state

    def emit(self, method: str, params: dict[str, Any]) -> None:
        self.engine.sink.emit(self.thread_id, method, params)

    def turn_wire(self, status: str, *, items: list[dict[str, Any]] | None = None, error: Any = None) -> dict[str, Any]:
        done = status != "inProgress"
        return {
            "id": self.turn_id,
            "rootTurnId": self.root_turn_id,
            "items": items or [],
            "itemsView": "summary" if done else "notLoaded",
            "status": status,
            "error": error,
            "startedAt": self.started_at,
            "completedAt": int(time.time()) if done else None,
            "durationMs": now_ms() - self.started_ms if done else None,
        }

    # ------------------------------------------------------------------ items

    def item_started(self, item: dict[str, Any]) -> None:
        self.emit(
            "item/started",
            {"item": item, "threadId": self.thread_id, "turnId": self.turn_id, "startedAtMs": now_ms()},
        )

    def item_completed(self, item: dict[str, Any], history: list[Event] | None = None) -> None:
        """Store the item (after ``history``, events the caller collected itself), then announce it."""
        self.journal(history)
        self.thread.journal.add(ITEM_COMPLETED, {"turnId": self.turn_id, "item": item})
        self.emit_stored(
            "item/completed",
            {"item": item, "threadId": self.thread_id, "turnId": self.turn_id, "completedAtMs": now_ms()},
        )

    def emit_stored(self, method: str, params: dict[str, Any]) -> None:
        """Emit once everything journaled so far is stored."""
        engine = self.engine
        engine.sink.emit_stored(self.thread_id, engine.threads.commit(self.thread), method, params)

    def journal(self, events: list[Event] | None) -> None:
        """Move events a caller collected into the thread's journal, in order."""
        if events:
            for kind, payload in events:
                self.thread.journal.add(kind, payload)
            events.clear()

    async def user_message_item(self, user_input: list[dict[str, Any]]) -> dict[str, Any]:
        """The user's input as context and as a ``userMessage`` item, stored together."""
        # In a worker thread: a localImage is a file read.
        self.engine.add_context(self, await asyncio.to_thread(user_input_to_model, user_input))
        item = {"type": "userMessage", "id": uuid7(), "content": user_input}
        self.item_started(item)
        self.item_completed(item)
        return item

    # ------------------------------------------------------------------ the loop

    async def begin(self) -> None:
        """Open the turn: load the thread's context (a last turn that did not complete is noticed
        here, before this one is journaled), then store ``turn/started`` and announce it once
        stored, so a client that saw the turn start finds it after any crash."""
        engine, thread = self.engine, self.thread
        await engine.ensure_context(thread)
        if not thread.record.preview:
            thread.record.preview = preview_text(self.input)
        thread.journal.add(TURN_STARTED, self.turn_wire("inProgress"))
        self.emit_stored("turn/started", {"threadId": self.thread_id, "turn": self.turn_wire("inProgress")})

    async def run(self) -> None:
        engine = self.engine
        thread = self.thread
        first_turn = not thread.record.preview
        try:
            await self.begin()
            self.hooks = await engine.load_hooks(self)
            if self.compact_only:
                await engine.compact(self)
                await self.finish("completed")
                return
            if self.state.abort_note_pending:
                engine.add_context(self, user_message(TURN_ABORTED_NOTE))
                self.state.abort_note_pending = False
            if engine.needs_compaction(thread):
                await engine.compact(self)
            if self.context_input is not None:
                for item in self.context_input:
                    engine.add_context(self, item)
            elif not await self.submit_prompt(first_turn):
                await self.finish("completed")
                return
            await engine.tools.prepare(self)

            stop_hook_active = False
            while True:
                calls = await self.sample()
                for call in calls:
                    engine.add_context(self, await engine.tools.call(self, call))
                await engine.tools.after_round(self)
                if calls:
                    continue
                if self.pending_input:
                    for steer in self.pending_input:
                        await self.user_message_item(steer)
                    self.pending_input.clear()
                    continue
                if await self.stop_hooks_continue(stop_hook_active):
                    stop_hook_active = True
                    continue
                break
            await engine.threads.flush(thread)
        except asyncio.CancelledError:
            await self.finish("interrupted")
            raise
        except TurnInterrupted:
            await self.finish("interrupted")
            return
        except TurnFailed as failure:
            await self.finish("failed", error=failure.error)
            return
        except Exception as exc:
            log.exception("turn %s failed", self.turn_id)
            error = {
                "message": f"internal error: {type(exc).__name__}: {exc}",
                "codexErrorInfo": "other",
                "additionalDetails": None,
            }
            await self.finish("failed", error=error)
            return
        await self.finish("completed")

    # ------------------------------------------------------------------ hooks

    def hook_context(self, contexts: list[str]) -> None:
        for text in contexts:
            self.engine.add_context(self, developer_message(text))

    async def submit_prompt(self, first_turn: bool) -> bool:
        """The user's input, with the ``SessionStart`` hooks' context before it (a thread's first
        turn here) and the ``UserPromptSubmit`` hooks' after it; False when a hook blocked the
        prompt (it never reaches the model or the history)."""
        hooks = self.hooks
        if hooks is not None and not self.state.session_hooks_ran:
            self.state.session_hooks_ran = True
            source = "startup" if first_turn else "resume"
            started = await hooks.run("sessionStart", {"source": source}, turn_id=self.turn_id, matcher_inputs=[source])
            self.hook_context(started.contexts)
        if hooks is not None and hooks.wants("userPromptSubmit"):
            prompt = "\n".join(part.get("text", "") for part in self.input if part.get("type") == "text")
            submitted = await hooks.run("userPromptSubmit", {"prompt": prompt}, turn_id=self.turn_id)
            if submitted.block_reason is not None:
                return False
            await self.user_message_item(self.input)
            self.hook_context(submitted.contexts)
            return True
        await self.user_message_item(self.input)
        return True

    async def stop_hooks_continue(self, stop_hook_active: bool) -> bool:
        """Run the ``Stop`` hooks; True when one blocked the stop: its reasons go to the model as a
        ``hookPrompt`` item and the turn samples again."""
        hooks = self.hooks
        if hooks is None or not hooks.wants("stop"):
            return False
        message = self.final_message.get("text") if self.final_message else None
        outcome = await hooks.run(
            "stop", {"stop_hook_active": stop_hook_active, "last_assistant_message": message}, turn_id=self.turn_id
        )
        if not outcome.blocks:
            return False
        fragments = [{"text": text, "hookRunId": run_id} for text, run_id in outcome.blocks]
        prompt = "".join(f'<hook_prompt hook_run_id="{run_id}">{text}</hook_prompt>' for text, run_id in outcome.blocks)
        self.engine.add_context(self, user_message(prompt))
        item = {"type": "hookPrompt", "id": uuid7(), "fragments": fragments}
        self.item_started(item)
        self.item_completed(item)
        return True

    async def sample(self) -> list[ToolCall]:
        """One model response: stream it to the client, keep its items; return its tool calls.

        Every output item joins the context as it completes (so an announced item is stored with
        what the model needs to continue from it); a retry discards what the failed attempt added.
        """
        from .model import ModelError

        engine = self.engine
        request = engine.build_request(self)
        client = engine.client_for(self.thread)
        response = _Response(self)
        on_event = _on_event()
        self.stream_open = False
        try:
            async for event in client.stream(request):
                self.stream_open = True
                on_event[type(event)](response, event)
        except ModelError as error:
            self.report_stream_end()
            if error.codex_error_info == "contextWindowExceeded":
                # The reference reports the (full) usage before failing on a context overflow.
                engine.account_overflow(self)
            raise TurnFailed(model_error_wire(error)) from None
        except asyncio.CancelledError:
            self.report_stream_end()
            raise
        return response.calls

    def report_stream_end(self) -> None:
        """As the reference: a model response that opened but never completed (disconnect,
        failure, interrupt) still reports rate limits as it ends — once."""
        if self.stream_open:
            self.stream_open = False
            if self.state.rate_limits:
                self.emit("account/rateLimits/updated", {"rateLimits": self.state.rate_limits})

    def mark_unread(self) -> None:
        """A finished result (answer or failure) now waits for the user's attention."""
        state = self.state
        state.read_revision += 1
        self.emit(
            "thread/readState/changed",
            {
                "threadId": self.thread_id,
                "readState": {
                    "firstUnread": {"type": "turn", "turnId": self.turn_id},
                    "revision": str(state.read_revision),
                },
            },
        )

    async def finish(
        self, status: str, history: list[Event] | None = None, error: dict[str, Any] | None = None
    ) -> None:
        """Emit the end of the turn exactly once, ``turn/completed`` after it is stored (also
        when cancelled). ``history``: events the caller collected itself, stored first."""
        if self._finished:
            return
        self._finished = True
        engine = self.engine
        thread = self.thread
        state = self.state
        if state.active is self:
            state.active = None
        self.status = status
        engine.on_turn_finished(self)
        engine.tools.turn_finished(self, status)
        items = [self.final_message] if status == "completed" and self.final_message else []
        turn = self.turn_wire(status, items=items, error=error)
        self.journal(history)
        thread.journal.add(TURN_COMPLETED, {**turn, "items": []})
        if status == "interrupted":
            state.abort_note_pending = True
        if error is not None and error.get("codexErrorInfo") == "contextWindowExceeded":
            # As the reference: the next turn first compacts the history that no longer fits.
            state.compact_before_next_turn = True
        if status == "failed":
            engine.set_status(thread, SYSTEM_ERROR)
            self.emit("error", {"error": error, "willRetry": False, "threadId": self.thread_id, "turnId": self.turn_id})
            self.mark_unread()
        else:
            if status == "completed":
                self.mark_unread()
            engine.set_status(thread, IDLE)
        self.emit_stored("turn/completed", {"threadId": self.thread_id, "turn": turn})
        # Persisting must survive the cancellation that may have brought us here.
        with contextlib.suppress(Exception):
            await asyncio.shield(engine.threads.flush(thread))


class _Response:
    """One model response as it streams: the items in flight and how each model event reaches the
    wire. ``_on_event`` maps each event type to its method, as ``core/model/responses.py`` maps
    SSE event types to model events."""

    __slots__ = (
        "calls",
        "context_before",
        "emit_encoded",
        "encoders",
        "runner",
        "streaming",
        "text_parts",
        "thread_id",
    )

    def __init__(self, runner: TurnRunner) -> None:
        self.runner = runner
        self.thread_id = runner.thread_id
        self.emit_encoded = runner.engine.sink.emit_encoded
        #: Items between their item/started and item/completed, by id, in wire form.
        self.streaming: dict[str, dict[str, Any]] = {}
        # Agent message text arrives in many small pieces; joining once beats repeated concatenation.
        self.text_parts: dict[str, list[str]] = {}
        #: One encoder per delta stream (an item's text, each summary part, each content part).
        self.encoders: dict[Any, DeltaEncoder] = {}
        self.calls: list[ToolCall] = []
        self.context_before = len(runner.state.context or ())

    def _encoder(self, key: Any, method: str, item_id: str, extra: dict[str, int] | None = None) -> DeltaEncoder:
        encoder = self.encoders[key] = DeltaEncoder(method, self.thread_id, self.runner.turn_id, item_id, extra)
        return encoder

    # The streaming hot path: one call per delta from the table, no further calls before the sink.

    def text_delta(self, event: model.TextDelta) -> None:
        item_id = event.item_id
        parts = self.text_parts.get(item_id)
        if parts is not None:
            parts.append(event.delta)
        encoder = self.encoders.get(item_id) or self._encoder(item_id, "item/agentMessage/delta", item_id)
        self.emit_encoded(self.thread_id, "item/agentMessage/delta", encoder.encode(event.delta))

    def summary_delta(self, event: model.ReasoningSummaryDelta) -> None:
        self._reasoning_delta(event.item_id, "summary", event.summary_index, event.delta)

    def reasoning_delta(self, event: model.ReasoningTextDelta) -> None:
        self._reasoning_delta(event.item_id, "content", event.content_index, event.delta)

    def _reasoning_delta(self, item_id: str, part: str, index: int, delta: str) -> None:
        reasoning = self.streaming.get(item_id)
        if reasoning is not None:
            _grow(reasoning[part], index, delta)
        method, index_name = _REASONING_DELTAS[part]
        key = (item_id, part, index)
        encoder = self.encoders.get(key) or self._encoder(key, method, item_id, {index_name: index})
        self.emit_encoded(self.thread_id, method, encoder.encode(delta))

    def summary_part_added(self, event: model.ReasoningSummaryPartAdded) -> None:
        reasoning = self.streaming.get(event.item_id)
        if reasoning is not None:
            _grow(reasoning["summary"], event.summary_index, "")
        runner = self.runner
        runner.emit(
            "item/reasoning/summaryPartAdded",
            {
                "threadId": runner.thread_id,
                "turnId": runner.turn_id,
                "itemId": event.item_id,
                "summaryIndex": event.summary_index,
            },
        )

    def item_added(self, event: model.ItemAdded) -> None:
        wire = _started_item(event.item)
        if wire is None:
            return
        self.streaming[wire["id"]] = wire
        if wire["type"] == "agentMessage":
            self.text_parts[wire["id"]] = []
        self.runner.item_started(dict(wire, summary=[], content=[]) if wire["type"] == "reasoning" else dict(wire))

    def item_done(self, event: model.ItemDone) -> None:
        item = event.item
        runner = self.runner
        runner.engine.add_context(runner, item)
        if item.get("type") in ("function_call", "custom_tool_call"):
            self.calls.append(ToolCall(item))
            return
        streamed = self.streaming.pop(str(item.get("id")), None)
        parts = self.text_parts.pop(str(item.get("id")), None)
        if streamed is not None and parts is not None:
            streamed["text"] = "".join(parts)
        wire = _completed_item(item, streamed)
        if wire is not None:
            if wire["type"] == "agentMessage":
                runner.final_message = wire
            runner.item_completed(wire)

    def completed(self, event: model.Completed) -> None:
        runner = self.runner
        runner.stream_open = False
        runner.engine.account_usage(runner, event.usage)
        # The reference reports rate limits after every response, known or not (a chat provider
        # that sends no rate-limit headers has none: nothing to report).
        if runner.state.rate_limits:
            runner.emit("account/rateLimits/updated", {"rateLimits": runner.state.rate_limits})

    def rate_limits(self, event: model.RateLimits) -> None:
        self.runner.state.rate_limits = dict(event.snapshot)

    def retrying(self, event: model.Retrying) -> None:
        # Partial output of the failed attempt is discarded: the retry starts over.
        self.streaming.clear()
        self.text_parts.clear()
        self.calls.clear()
        runner = self.runner
        context = runner.state.context or []
        if len(context) > self.context_before:
            runner.engine.reset_context(runner, context[: self.context_before])
        runner.emit(
            "error",
            {
                "error": model_error_wire(event.error),
                "willRetry": True,
                "threadId": runner.thread_id,
                "turnId": runner.turn_id,
            },
        )


#: A reasoning item's part → the method of its deltas and the param that numbers the part.
_REASONING_DELTAS = {
    "summary": ("item/reasoning/summaryTextDelta", "summaryIndex"),
    "content": ("item/reasoning/textDelta", "contentIndex"),
}


@functools.cache
def _on_event() -> dict[type, Callable[[_Response, Any], None]]:
    """Model event type → its ``_Response`` method (built on first use: ``core.model`` loads lazily)."""
    from . import model

    return {
        model.TextDelta: _Response.text_delta,
        model.ReasoningSummaryDelta: _Response.summary_delta,
        model.ReasoningTextDelta: _Response.reasoning_delta,
        model.ReasoningSummaryPartAdded: _Response.summary_part_added,
        model.ItemAdded: _Response.item_added,
        model.ItemDone: _Response.item_done,
        model.Completed: _Response.completed,
        model.RateLimits: _Response.rate_limits,
        model.Retrying: _Response.retrying,
    }


def _grow(parts: list[str], index: int, delta: str) -> None:
    while len(parts) <= index:
        parts.append("")
    parts[index] += delta


def _started_item(item: dict[str, Any]) -> dict[str, Any] | None:
    kind = item.get("type")
    item_id = str(item.get("id") or uuid7())
    if kind == "message" and item.get("role", "assistant") == "assistant":
        return {"type": "agentMessage", "id": item_id, "text": ""}
    if kind == "reasoning":
        return {"type": "reasoning", "id": item_id, "summary": [], "content": []}
    return None


def _completed_item(item: dict[str, Any], streamed: dict[str, Any] | None) -> dict[str, Any] | None:
    kind = item.get("type")
    item_id = str(item.get("id") or (streamed or {}).get("id") or uuid7())
    if kind == "message" and item.get("role", "assistant") == "assistant":
        text = "".join(
            part.get("text", "") for part in item.get("content") or [] if part.get("type") in ("output_text", "text")
        )
        if not text and streamed is not None:
            text = streamed.get("text", "")
        return {"type": "agentMessage", "id": item_id, "text": text}
    if kind == "reasoning":
        summary = [part.get("text", "") for part in item.get("summary") or []]
        content = [part.get("text", "") for part in item.get("content") or []]
        if streamed is not None:
            summary = summary or streamed["summary"]
            content = content or streamed["content"]
        return {"type": "reasoning", "id": item_id, "summary": summary, "content": content}
    return None


def model_error_wire(error: Any) -> dict[str, Any]:
    return {
        "message": error.message,
        "codexErrorInfo": error.codex_error_info,
        "additionalDetails": None,
    }


def preview_text(user_input: list[dict[str, Any]]) -> str:
    for part in user_input:
        if part.get("type") == "text" and part.get("text"):
            return str(part["text"])[:400]
    return ""


def user_input_to_model(user_input: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``turn/start`` input list as one Responses-API user message."""
    content: list[dict[str, Any]] = []
    for part in user_input:
        kind = part.get("type")
        if kind == "text":
            content.append({"type": "input_text", "text": part.get("text", "")})
        elif kind == "image" and part.get("url"):
            content.append({"type": "input_image", "image_url": part["url"]})
        elif kind == "localImage":
            content.append(_local_image(str(part.get("path", ""))))
        elif kind in ("skill", "mention"):
            content.append({"type": "input_text", "text": f"[{kind}: {part.get('name')} at {part.get('path')}]"})
    return {"type": "message", "role": "user", "content": content}


def _local_image(path: str) -> dict[str, Any]:
    """A ``localImage`` as a data URL (blocks: call it in a worker thread)."""
    try:
        data = read_file(path)
    except InvalidParams as exc:
        return {"type": "input_text", "text": f"[image {path} could not be read: {exc.message}]"}
    mime = mimetypes.guess_type(path)[0] or "image/png"
    return {"type": "input_image", "image_url": f"data:{mime};base64,{base64.b64encode(data).decode()}"}


class TurnEngine:
    """Starts turns and owns what they share: model clients, tools, context, persistence."""

    def __init__(
        self,
        threads: ThreadManager,
        sink: EventSink,
        *,
        client_factory: Callable[[LoadedThread], ModelClient],
        tools: ToolRouter | None = None,
        context_window: int | None = None,
    ) -> None:
        self.threads = threads
        self.sink = OrderedSink(sink)
        self._client_factory = client_factory
        self.tools = tools or ToolRouter()
        self.context_window = context_window
        self._finished_listeners: list[Callable[[TurnRunner], None]] = []
        self.goals = ThreadGoals(self)
        self.usage = UsageLedger(self)

    def client_for(self, thread: LoadedThread) -> ModelClient:
        from .providers import MissingCredentials

        try:
            return self._client_factory(thread)
        except MissingCredentials as exc:
            raise TurnFailed(
                {"message": str(exc), "codexErrorInfo": "unauthorized", "additionalDetails": None}
            ) from None

    async def load_hooks(self, runner: TurnRunner) -> Hooks | None:
        """The trusted hooks for the runner's thread, read from the config files now (an edit
        applies from the next turn), or None when there are none."""
        settings = runner.thread.settings
        handlers = await asyncio.to_thread(load_handlers, self.threads.config.codex_home, Path(settings.cwd))
        if not handlers:
            return None
        thread_id = runner.thread_id

        def announce(method: str, params: dict[str, Any]) -> None:
            self.sink.emit(thread_id, method, {"threadId": thread_id, **params})

        never = settings.approval_policy == "never"
        return Hooks(
            handlers,
            announce,
            session_id=thread_id,
            cwd=settings.cwd,
            model=settings.model,
            permission_mode="bypassPermissions" if never else "default",
        )

    def on_finished(self, listener: Callable[[TurnRunner], None]) -> None:
        self._finished_listeners.append(listener)

    def on_turn_finished(self, runner: TurnRunner) -> None:
        for listener in self._finished_listeners:
            listener(runner)

    # ------------------------------------------------------------------ turns

    def start(
        self,
        thread: LoadedThread,
        user_input: list[dict[str, Any]],
        *,
        root_turn_id: str | None = None,
        output_schema: Any = None,
        compact_only: bool = False,
        context_input: list[dict[str, Any]] | None = None,
    ) -> TurnRunner:
        turn_id = uuid7()
        runner = TurnRunner(
            engine=self,
            thread=thread,
            turn_id=turn_id,
            input=user_input,
            root_turn_id=root_turn_id or turn_id,
            output_schema=output_schema,
            compact_only=compact_only,
            context_input=context_input,
        )
        return self.activate(runner)

    def activate(self, runner: TurnRunner) -> TurnRunner:
        """Make ``runner`` its thread's running turn; :meth:`launch` it once the reply is queued."""
        runner.thread.turn_state.active = runner
        return runner

    def launch(self, runner: TurnRunner) -> None:
        """Start the runner's task; call after the ``turn/start`` reply is queued."""
        self.set_status(runner.thread, active_status())
        runner.task = asyncio.get_running_loop().create_task(runner.run(), name=f"turn-{runner.turn_id}")

    async def interrupt(self, runner: TurnRunner) -> None:
        if runner.task is not None and not runner.task.done():
            runner.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner.task

    def set_status(self, thread: LoadedThread, status: WireStatus) -> None:
        """The one way a loaded thread's status changes while turns run: set it and tell the
        subscribers, in order with the turn's other notifications."""
        thread.status = dict(status)
        self.sink.emit(thread.id, "thread/status/changed", {"threadId": thread.id, "status": thread.status})

    # ------------------------------------------------------------------ context

    async def ensure_context(self, thread: LoadedThread) -> None:
        """Load the model-visible history of a thread read back from the store. A last turn
        that did not complete (interrupted, or cut by a crash) is told to the next request."""
        state = thread.turn_state
        if state.context is not None:
            return
        if not thread.materialized:
            state.context = []
            return
        events = await self.threads.store.read_events(thread.id, kinds=RESUME_KINDS)
        state.context = fold_context(events)
        if last_turn_interrupted(events):
            state.abort_note_pending = True

    def add_context(self, runner: TurnRunner, item: dict[str, Any]) -> None:
        """Append to the model-visible history; stored with the next write of the thread."""
        state = runner.state
        if state.context is None:
            state.context = []
        state.context.append(item)
        runner.thread.journal.add(CONTEXT_ITEM, {"turnId": runner.turn_id, "item": item})

    def reset_context(self, runner: TurnRunner, items: list[dict[str, Any]]) -> None:
        """Replace the model-visible history (compaction, a retried response)."""
        runner.state.context = list(items)
        runner.thread.journal.add(CONTEXT_RESET, {"turnId": runner.turn_id, "items": list(items)})

    def build_request(self, runner: TurnRunner) -> ModelRequest:
        from .model import ModelRequest

        thread = runner.thread
        settings = thread.settings
        prefix = instruction_messages(
            base_instructions=settings.base_instructions,
            personality=settings.personality,
            developer_instructions=settings.developer_instructions,
            project_docs=find_project_docs(settings.cwd),
        )
        prefix.append(
            environment_context(
                cwd=settings.cwd, sandbox_policy=settings.sandbox_policy, approval_policy=settings.approval_policy
            )
        )
        text = None
        if runner.output_schema is not None:
            text = {"format": {"type": "json_schema", "name": "output", "schema": runner.output_schema, "strict": True}}
        step = runner.step_settings
        # As the reference: a reasoning summary is always asked for, an effort only when chosen.
        reasoning: dict[str, Any] = {"summary": step.get("summary") or settings.reasoning_summary or "auto"}
        effort = step.get("effort") or settings.reasoning_effort
        if effort:
            reasoning["effort"] = effort
        return ModelRequest(
            model=step.get("model") or settings.model,
            input=[*prefix, *with_call_outputs(runner.state.context or [])],
            tools=self.tools.specs(runner),
            reasoning=reasoning,
            text=text,
            prompt_cache_key=thread.id,
            extra_headers={
                "session-id": thread.id,
                "thread-id": thread.id,
                "x-client-request-id": thread.id,
                "originator": thread.record.originator or "agent-app-server",
            },
            client_metadata={"thread_id": thread.id, "turn_id": runner.turn_id},
        )

    async def record(self, runner: TurnRunner, history: list[Event], new_context: list[dict[str, Any]]) -> None:
        """Store events a caller collected itself and new model-visible items, in that order."""
        runner.journal(history)
        for item in new_context:
            self.add_context(runner, item)
        new_context.clear()
        await self.threads.flush(runner.thread)

    # ------------------------------------------------------------------ usage

    def account_overflow(self, runner: TurnRunner) -> None:
        """Usage after a context-window overflow: the last request filled the whole window."""
        window = self.context_window or 0
        last = {
            "inputTokens": 0,
            "cachedInputTokens": 0,
            "cacheWriteInputTokens": 0,
            "outputTokens": 0,
            "reasoningOutputTokens": 0,
            "totalTokens": window,
        }
        total = dict(runner.state.token_total) or dict(last)
        runner.emit(
            "thread/tokenUsage/updated",
            {
                "threadId": runner.thread_id,
                "turnId": runner.turn_id,
                "tokenUsage": {"total": total, "last": last, "modelContextWindow": self.context_window},
            },
        )

    def account_usage(self, runner: TurnRunner, usage: Any) -> None:
        if usage is None:
            return
        last = {
            "inputTokens": usage.input_tokens,
            "cachedInputTokens": usage.cached_input_tokens,
            "cacheWriteInputTokens": 0,
            "outputTokens": usage.output_tokens,
            "reasoningOutputTokens": usage.reasoning_output_tokens,
            "totalTokens": usage.total_tokens,
        }
        state = runner.state
        total = state.token_total
        for key, value in last.items():
            total[key] = total.get(key, 0) + value
        state.last_input_tokens = usage.input_tokens
        for key, value in last.items():
            runner.usage[key] = runner.usage.get(key, 0) + value
        runner.emit(
            "thread/tokenUsage/updated",
            {
                "threadId": runner.thread_id,
                "turnId": runner.turn_id,
                "tokenUsage": {"total": dict(total), "last": last, "modelContextWindow": self.context_window},
            },
        )

    # ------------------------------------------------------------------ compaction

    def needs_compaction(self, thread: LoadedThread) -> bool:
        return thread.turn_state.compact_before_next_turn

    async def compact(self, runner: TurnRunner) -> None:
        """Replace the thread's context with a model-written summary (``contextCompaction`` item)."""
        from .model import ItemDone, ModelError, ModelRequest, Retrying

        thread = runner.thread
        item = {"type": "contextCompaction", "id": uuid7()}
        runner.item_started(item)
        request = ModelRequest(
            model=thread.settings.model,
            input=[*with_call_outputs(runner.state.context or []), user_message(COMPACT_PROMPT)],
            tools=[],
            prompt_cache_key=thread.id,
        )
        summary = ""
        try:
            async for event in self.client_for(thread).stream(request):
                if type(event) is ItemDone and event.item.get("type") == "message":
                    summary += "".join(part.get("text", "") for part in event.item.get("content") or [])
                elif type(event) is Retrying:
                    summary = ""
        except ModelError as error:
            raise TurnFailed(model_error_wire(error)) from None
        self.reset_context(runner, [user_message(COMPACT_SUMMARY_PREFIX + summary.strip())])
        runner.state.compact_before_next_turn = False
        runner.item_completed(item)
        runner.emit("thread/compacted", {"threadId": thread.id, "turnId": runner.turn_id})
