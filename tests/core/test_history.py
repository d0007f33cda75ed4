"""The history folds a restarted server relies on: dangling tool calls and cut turns."""

from __future__ import annotations

from typing import Any

from agent_app_server.core.history import (
    ABORTED_CALL_OUTPUT,
    TURN_COMPLETED,
    TURN_STARTED,
    last_turn_interrupted,
    with_call_outputs,
)
from agent_app_server.store import EventRecord


def events(*pairs: tuple[str, dict[str, Any]]) -> list[EventRecord]:
    return [EventRecord("t", seq, kind, payload, 0) for seq, (kind, payload) in enumerate(pairs, start=1)]


def test_a_call_without_output_gets_an_aborted_one_right_after_it() -> None:
    call = {"type": "function_call", "call_id": "a", "name": "exec_command", "arguments": "{}"}
    custom = {"type": "custom_tool_call", "call_id": "b", "name": "apply_patch", "input": "..."}
    answered = {"type": "function_call", "call_id": "c", "name": "exec_command", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c", "output": "ok"}
    note = {"type": "message", "role": "user", "content": []}
    assert with_call_outputs([call, custom, answered, output, note]) == [
        call,
        {"type": "function_call_output", "call_id": "a", "output": ABORTED_CALL_OUTPUT},
        custom,
        {"type": "custom_tool_call_output", "call_id": "b", "output": ABORTED_CALL_OUTPUT},
        answered,
        output,
        note,
    ]


def test_a_context_with_every_call_answered_is_returned_as_is() -> None:
    context = [
        {"type": "function_call", "call_id": "c", "name": "x", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
    ]
    assert with_call_outputs(context) is context


def test_a_turn_without_completion_or_interrupted_counts_as_cut() -> None:
    started = (TURN_STARTED, {"id": "1", "status": "inProgress"})
    assert last_turn_interrupted(events(started))
    assert last_turn_interrupted(events(started, (TURN_COMPLETED, {"id": "1", "status": "interrupted"})))
    assert not last_turn_interrupted(events(started, (TURN_COMPLETED, {"id": "1", "status": "completed"})))
    assert not last_turn_interrupted(events(started, (TURN_COMPLETED, {"id": "1", "status": "failed"})))
    assert not last_turn_interrupted(events())
    later = (TURN_STARTED, {"id": "2", "status": "inProgress"})
    done_later = (TURN_COMPLETED, {"id": "2", "status": "completed"})
    assert not last_turn_interrupted(events(started, later, done_later))
