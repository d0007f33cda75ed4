"""Turn and history methods: turn/start, turn/steer, turn/interrupt, thread/resume, thread/fork,
thread/revert, thread/turns/list, thread/compact/start."""

from __future__ import annotations

import base64
import json
from typing import Any

from ...core.history import HISTORY_KINDS, fold_turns
from ...core.threads import LoadedThread, ThreadSettings, sandbox_policy_for_mode
from ...protocol import (
    ThreadCompactStartParams,
    ThreadCompactStartResponse,
    ThreadForkParams,
    ThreadForkResponse,
    ThreadResumeParams,
    ThreadResumeResponse,
    ThreadRevertParams,
    ThreadRevertResponse,
    ThreadTurnsListParams,
    ThreadTurnsListResponse,
    TurnInterruptParams,
    TurnInterruptResponse,
    TurnStartParams,
    TurnStartResponse,
    TurnSteerParams,
    TurnSteerResponse,
)
from ...rpc import InvalidParams, InvalidRequest, Reply
from ..connection import Connection
from . import handler
from .threads import _client, _thread_session_fields, _wire

DEFAULT_TURNS_PAGE = 25
_DEPRECATED_TURNS = {
    "summary": "thread history with every turn loaded at once is deprecated",
    "details": "Pass excludeTurns: true and page with thread/turns/list instead.",
}


def _apply_overrides(conn: Connection, settings: ThreadSettings, params: Any) -> None:
    """Thread/turn-level overrides; they persist for later turns of the thread."""
    config = conn.app.config
    cwd = getattr(params, "cwd", None)
    if cwd:
        settings.cwd = conn.app.threads.default_settings(cwd).cwd
    provider = getattr(params, "model_provider", None)
    if provider is not None:
        if provider not in config.providers:
            raise InvalidParams(
                f"unknown modelProvider `{provider}`; configure [model_providers.{provider}] in config.toml"
            )
        settings.model_provider = provider
    if getattr(params, "model", None):
        settings.model = params.model
    if getattr(params, "effort", None) is not None:
        settings.reasoning_effort = params.effort
    if getattr(params, "summary", None) is not None:
        settings.reasoning_summary = params.summary
    if getattr(params, "approval_policy", None) is not None:
        settings.approval_policy = _wire(params.approval_policy)
    if getattr(params, "approvals_reviewer", None) is not None:
        settings.approvals_reviewer = params.approvals_reviewer
    if getattr(params, "sandbox", None) is not None:
        settings.sandbox_policy = sandbox_policy_for_mode(params.sandbox, config, settings.cwd)
    if getattr(params, "sandbox_policy", None) is not None:
        settings.sandbox_policy = _wire(params.sandbox_policy)
    if getattr(params, "personality", None) is not None:
        settings.personality = params.personality
    if getattr(params, "base_instructions", None) is not None:
        settings.base_instructions = params.base_instructions
    if getattr(params, "developer_instructions", None) is not None:
        settings.developer_instructions = params.developer_instructions
    if getattr(params, "service_tier", None) is not None:
        settings.service_tier = params.service_tier


# ---------------------------------------------------------------------- turns


@handler("turn/start")
async def turn_start(conn: Connection, params: TurnStartParams) -> Reply:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    user_input = [part.to_wire() for part in params.input]
    if not user_input:
        raise InvalidParams("input must contain at least one item")
    active = thread.active
    if active is not None:
        # As the reference: turn/start on a busy thread adds the input to the running turn.
        active.pending_input.append(user_input)
        return Reply(TurnStartResponse.model_validate({"turn": _reply_turn(active)}))
    _apply_overrides(conn, thread.settings, params)
    runner = app.turns.start(thread, user_input, root_turn_id=params.root_turn_id, output_schema=params.output_schema)
    app.subscribe(conn, thread.id)
    return Reply(TurnStartResponse.model_validate({"turn": _reply_turn(runner)}), lambda: app.turns.launch(runner))


def _reply_turn(runner: Any) -> dict[str, Any]:
    turn: dict[str, Any] = runner.turn_wire("inProgress")
    turn["startedAt"] = None
    return turn


def _active_turn(thread: LoadedThread, expected: str, action: str) -> Any:
    active = thread.active
    if active is None:
        raise InvalidRequest(f"no active turn to {action}")
    if active.turn_id != expected:
        raise InvalidRequest(f"expected active turn id {expected} but found {active.turn_id}")
    return active


@handler("turn/interrupt")
async def turn_interrupt(conn: Connection, params: TurnInterruptParams) -> Reply:
    thread = conn.app.threads.require_loaded(params.thread_id)
    runner = _active_turn(thread, params.turn_id, "interrupt")
    # The reply goes out first; the interrupted turn/completed follows it.
    return Reply(TurnInterruptResponse(), lambda: runner.task.cancel() if runner.task else None)


@handler("turn/steer")
async def turn_steer(conn: Connection, params: TurnSteerParams) -> TurnSteerResponse:
    thread = conn.app.threads.require_loaded(params.thread_id)
    runner = _active_turn(thread, params.expected_turn_id, "steer")
    user_input = [part.to_wire() for part in params.input]
    if not user_input:
        raise InvalidParams("input must contain at least one item")
    runner.pending_input.append(user_input)
    return TurnSteerResponse(turn_id=runner.turn_id)


# ---------------------------------------------------------------------- history


async def _turns(conn: Connection, thread_id: str) -> list[dict[str, Any]]:
    return fold_turns(await conn.app.threads.events(thread_id, HISTORY_KINDS))


def _backwards_cursors(turns: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    if not turns:
        return None, None
    last = turns[-1]
    items = last.get("items") or []
    item_cursor = _encode_cursor({"turn": last["id"], "item": items[-1]["id"]}) if items else None
    return _encode_cursor({"turn": last["id"]}), item_cursor


@handler("thread/resume")
async def thread_resume(conn: Connection, params: ThreadResumeParams) -> Reply:
    app = conn.app
    thread, newly_loaded = await app.threads.resume(params.thread_id)
    _apply_overrides(conn, thread.settings, params)
    app.subscribe(conn, thread.id)
    turns = await _turns(conn, thread.id)
    if thread.active is not None:
        # The running turn is live, not interrupted: report it as the client will see it continue.
        for turn in turns:
            if turn["id"] == thread.active.turn_id:
                turn["status"] = "inProgress"
    turns_cursor, items_cursor = _backwards_cursors(turns)
    if not params.exclude_turns:
        conn.notify("deprecationNotice", _DEPRECATED_TURNS)
    if newly_loaded:
        app.emit(thread.id, "thread/status/changed", {"threadId": thread.id, "status": thread.status})
    wire_thread = app.threads.to_wire(thread.record, thread, [] if params.exclude_turns else turns)
    return Reply(
        ThreadResumeResponse(
            thread=wire_thread,
            turns_backwards_cursor=turns_cursor,
            items_backwards_cursor=items_cursor,
            **_thread_session_fields(thread),
        )
    )


@handler("thread/fork")
async def thread_fork(conn: Connection, params: ThreadForkParams) -> Reply:
    app = conn.app
    threads = app.threads
    record, _ = await threads.read(params.thread_id)
    settings = threads.default_settings(record.cwd)
    settings.model_provider = record.model_provider
    settings.model = record.model or settings.model
    _apply_overrides(conn, settings, params)
    fork = await threads.fork(
        params.thread_id, _client(conn), settings, last_turn_id=params.last_turn_id, ephemeral=params.ephemeral
    )
    app.subscribe(conn, fork.id)
    turns = [] if params.exclude_turns else await _turns(conn, fork.id)
    wire_thread = threads.to_wire(fork.record, fork, turns)
    started = threads.to_wire(fork.record, fork)

    def announce() -> None:
        if not params.exclude_turns:
            conn.notify("deprecationNotice", _DEPRECATED_TURNS)
        app.emit(fork.id, "thread/started", {"thread": started.to_wire()})

    return Reply(ThreadForkResponse(thread=wire_thread, **_thread_session_fields(fork)), announce)


@handler("thread/revert")
async def thread_revert(conn: Connection, params: ThreadRevertParams) -> Reply:
    app = conn.app
    thread, _ = await app.threads.resume(params.thread_id)
    if thread.active is not None:
        raise InvalidRequest(f"thread {thread.id} has a turn in progress; interrupt it before reverting")
    await app.threads.revert(thread, params.before_turn_id)
    turns = await _turns(conn, thread.id)
    turns_cursor, items_cursor = _backwards_cursors(turns)
    app.subscribe(conn, thread.id)
    response = ThreadRevertResponse(
        thread=app.threads.to_wire(thread.record, thread),
        turns_backwards_cursor=turns_cursor,
        items_backwards_cursor=items_cursor,
    )
    return Reply(response, lambda: app.emit(thread.id, "thread/reverted", {"threadId": thread.id}))


@handler("thread/turns/list")
async def thread_turns_list(conn: Connection, params: ThreadTurnsListParams) -> ThreadTurnsListResponse:
    record, _ = await conn.app.threads.read(params.thread_id)
    turns = await _turns(conn, record.id)
    descending = params.sort_direction != "asc"
    ordered = list(reversed(turns)) if descending else turns
    start = 0
    if params.cursor:
        anchor = _decode_cursor(params.cursor).get("turn")
        positions = {turn["id"]: index for index, turn in enumerate(ordered)}
        if anchor not in positions:
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        # Cursors from thread/resume include their anchor turn; our own next cursors do not.
        start = positions[anchor] + (0 if _decode_cursor(params.cursor).get("inclusive", True) else 1)
    if params.limit is not None and params.limit < 1:
        raise InvalidParams("limit must be at least 1")
    limit = params.limit or DEFAULT_TURNS_PAGE
    page = ordered[start : start + limit]
    view = params.items_view or "summary"
    for turn in page:
        _apply_items_view(turn, view)
    more = start + limit < len(ordered)
    next_cursor = _encode_cursor({"turn": page[-1]["id"], "inclusive": False}) if page and more else None
    backwards = _encode_cursor({"turn": page[0]["id"]}) if page else None
    return ThreadTurnsListResponse.model_validate(
        {"data": page, "nextCursor": next_cursor, "backwardsCursor": backwards}
    )


def _apply_items_view(turn: dict[str, Any], view: str) -> None:
    turn["itemsView"] = view
    if view == "notLoaded":
        turn["items"] = []
    elif view == "summary":
        messages = [item for item in turn["items"] if item.get("type") == "agentMessage"]
        turn["items"] = messages[-1:]


def _encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise InvalidParams(f"invalid cursor: {cursor}") from None
    if not isinstance(value, dict):
        raise InvalidParams(f"invalid cursor: {cursor}")
    return value


@handler("thread/compact/start")
async def thread_compact_start(conn: Connection, params: ThreadCompactStartParams) -> Reply:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    if thread.active is not None:
        raise InvalidRequest(f"thread {thread.id} has a turn in progress; compact it when the turn ends")
    runner = app.turns.start(thread, [], compact_only=True)
    app.subscribe(conn, thread.id)
    return Reply(ThreadCompactStartResponse(), lambda: app.turns.launch(runner))
