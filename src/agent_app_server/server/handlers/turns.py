"""Turn and history methods: turn/start, turn/steer, turn/interrupt, thread/resume, thread/fork,
thread/revert, thread/compact/start (history pages are in ``pages``).
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from ...core.goals import goal_of
from ...core.history import HISTORY_KINDS, fold_turns
from ...core.ids import parse_thread_id
from ...core.thread_basics import ThreadSettings, sandbox_policy_for_mode, session_result
from ...core.threads import LoadedThread
from ...protocol import (
    ThreadCompactStartParams,
    ThreadCompactStartResponse,
    ThreadForkParams,
    ThreadForkResponse,
    ThreadResumeParams,
    ThreadResumeResponse,
    ThreadRevertParams,
    ThreadRevertResponse,
    TurnInterruptParams,
    TurnInterruptResponse,
    TurnStartParams,
    TurnStartResponse,
    TurnSteerParams,
    TurnSteerResponse,
)
from ...rpc import InvalidParams, InvalidRequest, Reply
from ..connection import Connection, raw_param
from . import handler
from .pages import backwards_cursors
from .threads import _client, _wire, checked_model

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
    user_input = _checked_input(params.input)
    if params.tool_output is not None:
        raise InvalidParams("`toolOutput` cannot be combined with nonempty `input`")
    active = thread.active
    if active is not None:
        # As the reference: turn/start on a busy thread adds the input to the running turn.
        active.pending_input.append(user_input)
        return Reply(TurnStartResponse.model_validate({"turn": _reply_turn(active)}))
    if app.fleet is not None:
        # Another server of the fleet may be running it (refused), or may have run it since.
        await app.fleet.claim(thread)
        if thread.active is not None:
            raise InvalidRequest(f"thread {thread.id} started a turn meanwhile; use turn/steer to add input")
    _apply_overrides(conn, thread.settings, params)
    runner = app.turns.start(thread, user_input, root_turn_id=params.root_turn_id, output_schema=params.output_schema)
    app.subscribe(conn, thread.id)
    return Reply(TurnStartResponse.model_validate({"turn": _reply_turn(runner)}), lambda: app.turns.launch(runner))


def _checked_input(parts: list[Any]) -> list[dict[str, Any]]:
    """A turn's user input in wire form; refused as the reference refuses it."""
    user_input = [part.to_wire() for part in parts]
    if not user_input:
        raise InvalidParams("input must contain at least one item")
    for part in user_input:
        url = part.get("url") if part.get("type") == "image" else None
        if isinstance(url, str) and not url.startswith("data:"):
            raise InvalidParams("remote image URLs are not supported; use an inline data URL instead")
    return user_input


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
    fleet = conn.app.fleet
    if fleet is not None:
        forwarded, _ = await fleet.forward(thread, "turn/interrupt", {"turnId": params.turn_id})
        if forwarded:
            return Reply(TurnInterruptResponse())
    if not params.turn_id:
        # As the reference: an empty turnId means "whatever is running", and nothing running
        # is not an error.
        if thread.active is None:
            return Reply(TurnInterruptResponse())
        runner: Any = thread.active
    else:
        runner = _active_turn(thread, params.turn_id, "interrupt")
    # As the reference: the aborted model stream is reported before the reply; the interrupted
    # turn/completed follows it.
    runner.report_stream_end()
    return Reply(TurnInterruptResponse(), lambda: runner.task.cancel() if runner.task else None)


@handler("turn/steer")
async def turn_steer(conn: Connection, params: TurnSteerParams) -> TurnSteerResponse:
    thread = conn.app.threads.require_loaded(params.thread_id)
    fleet = conn.app.fleet
    if fleet is not None:
        steer = {"expectedTurnId": params.expected_turn_id, "input": _checked_input(params.input)}
        forwarded, result = await fleet.forward(thread, "turn/steer", steer)
        if forwarded:
            return TurnSteerResponse(turn_id=result["turnId"])
    runner = _active_turn(thread, params.expected_turn_id, "steer")
    user_input = _checked_input(params.input)
    runner.pending_input.append(user_input)
    return TurnSteerResponse(turn_id=runner.turn_id)


# ---------------------------------------------------------------------- history


async def _turns(conn: Connection, thread_id: str) -> list[dict[str, Any]]:
    return fold_turns(await conn.app.threads.events(thread_id, HISTORY_KINDS))


def _after_seq(conn: Connection) -> int | None:
    """``afterSeq`` (beyond the reference's schema): replay what the client missed."""
    value = raw_param("afterSeq")
    if value is None:
        return None
    if not conn.event_replay:
        raise InvalidRequest("afterSeq requires the eventReplay capability; send capabilities.eventReplay: true")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParams(
            f"Invalid params for thread/resume: `afterSeq`: expected a non-negative integer, got {value!r}"
        )
    return value


async def _prepare_numbering(conn: Connection, thread_id: str) -> str | None:
    """Continue the thread's notification numbers from the log before it emits anything here."""
    try:
        canonical = parse_thread_id(thread_id)
    except ValueError:
        return None  # threads.resume reports the bad id
    await conn.app.replay.prepare(canonical)
    return canonical


@handler("thread/resume")
async def thread_resume(conn: Connection, params: ThreadResumeParams) -> Reply:
    app = conn.app
    after_seq = _after_seq(conn)
    canonical = await _prepare_numbering(conn, params.thread_id)
    # In a fleet, a thread this server runs no turn of is numbered by another server: its
    # notifications (replayed and live) come from the shared log, from where it ends now.
    fleet = app.fleet if app.fleet is not None and canonical is not None and app.fleet.follows(canonical) else None
    follow_from = 0
    if fleet is not None and canonical is not None:
        follow_from = await fleet.check_after_seq(canonical, after_seq)
    elif after_seq is not None and canonical is not None:
        app.replay.check_after_seq(canonical, after_seq)
    thread, newly_loaded = await app.threads.resume(params.thread_id)
    if newly_loaded:
        # As the reference: resuming a thread that is already loaded joins it as it is; the
        # overrides apply only when the thread is loaded from the store.
        _apply_overrides(conn, thread.settings, params)
    replay_end = 0
    if after_seq is not None:
        # From here on the thread's live notifications wait for the replay of (afterSeq, replay_end).
        conn.hold(thread.id)
        replay_end = app.replay.next_seq(thread.id)
    app.subscribe(conn, thread.id, send_pending=after_seq is None)
    if fleet is not None:
        fleet.follow(thread.id, follow_from)
    # With excludeTurns the reply costs the same however long the thread: no fold, two index reads.
    turns = [] if params.exclude_turns else await _turns(conn, thread.id)
    if thread.active is not None:
        # The running turn is live, not interrupted: report it as the client will see it continue.
        for turn in turns:
            if turn["id"] == thread.active.turn_id:
                turn["status"] = "inProgress"
    elif app.fleet is not None:
        await app.fleet.show_running_elsewhere(thread.id, turns, thread)
    turns_cursor, items_cursor = await backwards_cursors(conn, thread.id)
    if not params.exclude_turns:
        conn.notify("deprecationNotice", _DEPRECATED_TURNS)
    if newly_loaded:
        app.emit(thread.id, "thread/status/changed", {"threadId": thread.id, "status": thread.status})
    wire_thread = app.threads.to_wire(thread.record, thread, [] if params.exclude_turns else turns)
    # The missed notifications follow the reply, then what arrived meanwhile, then live ones.
    replay = (
        None
        if after_seq is None
        else functools.partial(_start_replay, conn, thread.id, after_seq, None if fleet is not None else replay_end)
    )

    def then() -> None:
        # As the reference: after the reply the thread's subscribers learn its goal (or that it has
        # none), a thread event like any other (numbered for replay).
        goal = goal_of(thread.record)
        if goal is None:
            app.emit(thread.id, "thread/goal/cleared", {"threadId": thread.id})
        else:
            app.emit(thread.id, "thread/goal/updated", {"threadId": thread.id, "turnId": None, "goal": goal})
        if replay is not None:
            replay()

    return Reply(
        ThreadResumeResponse.model_validate(
            {
                **session_result(wire_thread, thread.settings),
                "turnsBackwardsCursor": turns_cursor,
                "itemsBackwardsCursor": items_cursor,
            }
        ),
        then,
    )


_replays: set[asyncio.Task[None]] = set()


def _start_replay(conn: Connection, thread_id: str, after_seq: int, end_seq: int | None) -> None:
    """``end_seq`` None: from the fleet's shared log, to its end (another server numbers the thread)."""
    from ..replay import replay_to

    fleet = conn.app.fleet
    if end_seq is None and fleet is not None:
        replaying = fleet.replay_to(conn, thread_id, after_seq)
    else:
        replaying = replay_to(conn.app.replay, conn, thread_id, after_seq, end_seq or 0)
    task = asyncio.get_running_loop().create_task(replaying)
    _replays.add(task)
    task.add_done_callback(_replays.discard)


@handler("thread/fork")
async def thread_fork(conn: Connection, params: ThreadForkParams) -> Reply:
    app = conn.app
    threads = app.threads
    record, _ = await threads.read(params.thread_id)
    settings = threads.default_settings(record.cwd)
    settings.model_provider = record.model_provider
    settings.model = record.model or settings.model
    if params.model is not None:
        checked_model(params.model)
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

    return Reply(ThreadForkResponse.model_validate(session_result(wire_thread, fork.settings)), announce)


@handler("thread/revert")
async def thread_revert(conn: Connection, params: ThreadRevertParams) -> Reply:
    app = conn.app
    await _prepare_numbering(conn, params.thread_id)
    thread, _ = await app.threads.resume(params.thread_id)
    if thread.active is not None:
        raise InvalidRequest(f"thread {thread.id} has a turn in progress; interrupt it before reverting")
    await app.threads.revert(thread, params.before_turn_id)
    turns_cursor, items_cursor = await backwards_cursors(conn, thread.id)
    app.subscribe(conn, thread.id)
    response = ThreadRevertResponse(
        thread=app.threads.to_wire(thread.record, thread),
        turns_backwards_cursor=turns_cursor,
        items_backwards_cursor=items_cursor,
    )
    return Reply(response, lambda: app.emit(thread.id, "thread/reverted", {"threadId": thread.id}))


@handler("thread/compact/start")
async def thread_compact_start(conn: Connection, params: ThreadCompactStartParams) -> Reply:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    if thread.active is not None:
        raise InvalidRequest(f"thread {thread.id} has a turn in progress; compact it when the turn ends")
    runner = app.turns.start(thread, [], compact_only=True)
    app.subscribe(conn, thread.id)
    return Reply(ThreadCompactStartResponse(), lambda: app.turns.launch(runner))
