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
import logging
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..protocol.fastpath import DeltaEncoder
from ..rpc.errors import InvalidParams
from .files import read_file
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
from .ids import uuid7
from .instructions import environment_context, find_project_docs, instruction_messages, user_message
from .journal import Event, OrderedSink

if TYPE_CHECKING:
    from .model import ModelClient, ModelRequest
    from .threads import EventSink, LoadedThread, ThreadManager

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
    started_at: int = field(default_factory=lambda: int(time.time()))
    started_ms: int = field(default_factory=now_ms)
    pending_input: list[list[dict[str, Any]]] = field(default_factory=list)
    final_message: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None
    #: A model response is streaming and has not completed yet.
    stream_open: bool = False
    _finished: bool = False

    @property
    def thread_id(self) -> str:
        return self.thread.id

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

    async def run(self) -> None:
        engine = self.engine
        thread = self.thread
        try:
            # Before the turn is journaled: the context load looks for an unfinished last turn.
            await engine.ensure_context(thread)
            if not thread.record.preview:
                thread.record.preview = preview_text(self.input)
            thread.journal.add(TURN_STARTED, self.turn_wire("inProgress"))
            # Stored first, so a client that saw the turn start finds it after any crash.
            self.emit_stored("turn/started", {"threadId": self.thread_id, "turn": self.turn_wire("inProgress")})
            if self.compact_only:
                await engine.compact(self)
                await self.finish("completed")
                return
            if thread.abort_note_pending:
                engine.add_context(self, user_message(TURN_ABORTED_NOTE))
                thread.abort_note_pending = False
            if engine.needs_compaction(thread):
                await engine.compact(self)
            await self.user_message_item(self.input)
            await engine.tools.prepare(self)

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

    async def sample(self) -> list[ToolCall]:
        """One model response: stream it to the client, keep its items; return its tool calls.

        Every output item joins the context as it completes (so an announced item is stored with
        what the model needs to continue from it); a retry discards what the failed attempt added.
        """
        from .model import (
            Completed,
            ItemAdded,
            ItemDone,
            ModelError,
            RateLimits,
            ReasoningSummaryDelta,
            ReasoningSummaryPartAdded,
            ReasoningTextDelta,
            Retrying,
            TextDelta,
        )

        engine = self.engine
        request = engine.build_request(self)
        client = engine.client_for(self.thread)
        thread_id, turn_id = self.thread_id, self.turn_id
        sink = engine.sink
        streaming: dict[str, dict[str, Any]] = {}
        # Agent message text arrives in many small pieces; joining once beats repeated concatenation.
        text_parts: dict[str, list[str]] = {}
        encoders: dict[Any, DeltaEncoder] = {}
        context_before = len(self.thread.context or ())
        calls: list[ToolCall] = []
        self.stream_open = False
        try:
            async for event in client.stream(request):
                self.stream_open = True
                if type(event) is TextDelta:
                    parts = text_parts.get(event.item_id)
                    if parts is not None:
                        parts.append(event.delta)
                    encoder = encoders.get(event.item_id)
                    if encoder is None:
                        encoder = encoders[event.item_id] = DeltaEncoder(
                            "item/agentMessage/delta", thread_id, turn_id, event.item_id
                        )
                    sink.emit_encoded(thread_id, "item/agentMessage/delta", encoder.encode(event.delta))
                elif type(event) is ReasoningSummaryDelta:
                    reasoning = streaming.get(event.item_id)
                    if reasoning is not None:
                        _grow(reasoning["summary"], event.summary_index, event.delta)
                    key = (event.item_id, "s", event.summary_index)
                    encoder = encoders.get(key)
                    if encoder is None:
                        encoder = encoders[key] = DeltaEncoder(
                            "item/reasoning/summaryTextDelta",
                            thread_id,
                            turn_id,
                            event.item_id,
                            {"summaryIndex": event.summary_index},
                        )
                    sink.emit_encoded(thread_id, "item/reasoning/summaryTextDelta", encoder.encode(event.delta))
                elif type(event) is ReasoningTextDelta:
                    reasoning = streaming.get(event.item_id)
                    if reasoning is not None:
                        _grow(reasoning["content"], event.content_index, event.delta)
                    key = (event.item_id, "c", event.content_index)
                    encoder = encoders.get(key)
                    if encoder is None:
                        encoder = encoders[key] = DeltaEncoder(
                            "item/reasoning/textDelta",
                            thread_id,
                            turn_id,
                            event.item_id,
                            {"contentIndex": event.content_index},
                        )
                    sink.emit_encoded(thread_id, "item/reasoning/textDelta", encoder.encode(event.delta))
                elif type(event) is ReasoningSummaryPartAdded:
                    reasoning = streaming.get(event.item_id)
                    if reasoning is not None:
                        _grow(reasoning["summary"], event.summary_index, "")
                    sink.emit(
                        thread_id,
                        "item/reasoning/summaryPartAdded",
                        {
                            "threadId": thread_id,
                            "turnId": turn_id,
                            "itemId": event.item_id,
                            "summaryIndex": event.summary_index,
                        },
                    )
                elif type(event) is ItemAdded:
                    wire = _started_item(event.item)
                    if wire is not None:
                        streaming[wire["id"]] = wire
                        if wire["type"] == "agentMessage":
                            text_parts[wire["id"]] = []
                        self.item_started(
                            dict(wire, summary=[], content=[]) if wire["type"] == "reasoning" else dict(wire)
                        )
                elif type(event) is ItemDone:
                    item = event.item
                    engine.add_context(self, item)
                    kind = item.get("type")
                    if kind in ("function_call", "custom_tool_call"):
                        calls.append(ToolCall(item))
                        continue
                    streamed = streaming.pop(str(item.get("id")), None)
                    parts = text_parts.pop(str(item.get("id")), None)
                    if streamed is not None and parts is not None:
                        streamed["text"] = "".join(parts)
                    wire = _completed_item(item, streamed)
                    if wire is not None:
                        if wire["type"] == "agentMessage":
                            self.final_message = wire
                        self.item_completed(wire)
                elif type(event) is Completed:
                    self.stream_open = False
                    engine.account_usage(self, event.usage)
                    # The reference reports rate limits after every response, known or not.
                    self.emit("account/rateLimits/updated", {"rateLimits": self.thread.rate_limits})
                elif type(event) is RateLimits:
                    self.thread.rate_limits = dict(event.snapshot)
                elif type(event) is Retrying:
                    # Partial output of the failed attempt is discarded: the retry starts over.
                    streaming.clear()
                    text_parts.clear()
                    calls.clear()
                    context = self.thread.context or []
                    if len(context) > context_before:
                        engine.reset_context(self, context[:context_before])
                    self.emit(
                        "error",
                        {
                            "error": model_error_wire(event.error),
                            "willRetry": True,
                            "threadId": thread_id,
                            "turnId": turn_id,
                        },
                    )
        except ModelError as error:
            self.report_stream_end()
            if error.codex_error_info == "contextWindowExceeded":
                # The reference reports the (full) usage before failing on a context overflow.
                engine.account_overflow(self)
            raise TurnFailed(model_error_wire(error)) from None
        except asyncio.CancelledError:
            self.report_stream_end()
            raise
        return calls

    def report_stream_end(self) -> None:
        """As the reference: a model response that opened but never completed (disconnect,
        failure, interrupt) still reports rate limits as it ends — once."""
        if self.stream_open:
            self.stream_open = False
            self.emit("account/rateLimits/updated", {"rateLimits": self.thread.rate_limits})

    def mark_unread(self) -> None:
        """A finished result (answer or failure) now waits for the user's attention."""
        thread = self.thread
        thread.read_revision += 1
        self.emit(
            "thread/readState/changed",
            {
                "threadId": self.thread_id,
                "readState": {
                    "firstUnread": {"type": "turn", "turnId": self.turn_id},
                    "revision": str(thread.read_revision),
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
        if thread.active is self:
            thread.active = None
        engine.on_turn_finished(self)
        engine.tools.turn_finished(self, status)
        items = [self.final_message] if status == "completed" and self.final_message else []
        turn = self.turn_wire(status, items=items, error=error)
        self.journal(history)
        thread.journal.add(TURN_COMPLETED, {**turn, "items": []})
        if status == "interrupted":
            thread.abort_note_pending = True
        if error is not None and error.get("codexErrorInfo") == "contextWindowExceeded":
            # As the reference: the next turn first compacts the history that no longer fits.
            thread.compact_before_next_turn = True
        if status == "failed":
            thread.status = {"type": "systemError"}
            self.emit("thread/status/changed", {"threadId": self.thread_id, "status": thread.status})
            self.emit("error", {"error": error, "willRetry": False, "threadId": self.thread_id, "turnId": self.turn_id})
            self.mark_unread()
        else:
            if status == "completed":
                self.mark_unread()
            thread.status = {"type": "idle"}
            self.emit("thread/status/changed", {"threadId": self.thread_id, "status": thread.status})
        self.emit_stored("turn/completed", {"threadId": self.thread_id, "turn": turn})
        # Persisting must survive the cancellation that may have brought us here.
        with contextlib.suppress(Exception):
            await asyncio.shield(engine.threads.flush(thread))


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

    def client_for(self, thread: LoadedThread) -> ModelClient:
        from .providers import MissingCredentials

        try:
            return self._client_factory(thread)
        except MissingCredentials as exc:
            raise TurnFailed(
                {"message": str(exc), "codexErrorInfo": "unauthorized", "additionalDetails": None}
            ) from None

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
        )
        thread.active = runner
        thread.status = {"type": "active", "activeFlags": []}
        return runner

    def launch(self, runner: TurnRunner) -> None:
        """Start the runner's task; call after the ``turn/start`` reply is queued."""
        runner.emit("thread/status/changed", {"threadId": runner.thread_id, "status": runner.thread.status})
        runner.task = asyncio.get_running_loop().create_task(runner.run(), name=f"turn-{runner.turn_id}")

    async def interrupt(self, runner: TurnRunner) -> None:
        if runner.task is not None and not runner.task.done():
            runner.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner.task

    # ------------------------------------------------------------------ context

    async def ensure_context(self, thread: LoadedThread) -> None:
        """Load the model-visible history of a thread read back from the store. A last turn
        that did not complete (interrupted, or cut by a crash) is told to the next request."""
        if thread.context is not None:
            return
        if not thread.materialized:
            thread.context = []
            return
        events = await self.threads.store.read_events(thread.id, kinds=RESUME_KINDS)
        thread.context = fold_context(events)
        if last_turn_interrupted(events):
            thread.abort_note_pending = True

    def add_context(self, runner: TurnRunner, item: dict[str, Any]) -> None:
        """Append to the model-visible history; stored with the next write of the thread."""
        thread = runner.thread
        if thread.context is None:
            thread.context = []
        thread.context.append(item)
        thread.journal.add(CONTEXT_ITEM, {"turnId": runner.turn_id, "item": item})

    def reset_context(self, runner: TurnRunner, items: list[dict[str, Any]]) -> None:
        """Replace the model-visible history (compaction, a retried response)."""
        runner.thread.context = list(items)
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
        # As the reference: a reasoning summary is always asked for, an effort only when chosen.
        reasoning: dict[str, Any] = {"summary": settings.reasoning_summary or "auto"}
        if settings.reasoning_effort:
            reasoning["effort"] = settings.reasoning_effort
        return ModelRequest(
            model=settings.model,
            input=[*prefix, *with_call_outputs(thread.context or [])],
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
        total = dict(runner.thread.token_total) or dict(last)
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
        thread = runner.thread
        total = thread.token_total
        for key, value in last.items():
            total[key] = total.get(key, 0) + value
        thread.last_input_tokens = usage.input_tokens
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
        return thread.compact_before_next_turn

    async def compact(self, runner: TurnRunner) -> None:
        """Replace the thread's context with a model-written summary (``contextCompaction`` item)."""
        from .model import ItemDone, ModelError, ModelRequest, Retrying

        thread = runner.thread
        item = {"type": "contextCompaction", "id": uuid7()}
        runner.item_started(item)
        request = ModelRequest(
            model=thread.settings.model,
            input=[*with_call_outputs(thread.context or []), user_message(COMPACT_PROMPT)],
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
        thread.compact_before_next_turn = False
        runner.item_completed(item)
        runner.emit("thread/compacted", {"threadId": thread.id, "turnId": runner.turn_id})
