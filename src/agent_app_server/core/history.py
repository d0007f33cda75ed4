"""Thread history: the per-thread event log and how turns are rebuilt from it.

Owns: the names and payloads of history events in the store's append-only log, and the fold
that turns them back into wire ``Turn`` objects (``thread/read {includeTurns}``, resume, fork).
Layer: core.
"""

from __future__ import annotations

from typing import Any

from ..store import EventRecord, ThreadStore

#: A turn began; payload is the wire Turn with ``items: []``.
TURN_STARTED = "turn/started"
#: An item reached its final state; payload ``{"turnId", "item"}`` (the wire ThreadItem).
ITEM_COMPLETED = "item/completed"
#: A turn ended; payload is the wire Turn (final status, error, times) without items.
TURN_COMPLETED = "turn/completed"

#: A model-visible history entry; payload ``{"turnId", "item"}`` (a Responses-API input item).
CONTEXT_ITEM = "context/item"
#: The model-visible history was replaced (compaction); payload ``{"turnId", "items"}``.
CONTEXT_RESET = "context/reset"

HISTORY_KINDS = [TURN_STARTED, ITEM_COMPLETED, TURN_COMPLETED]
CONTEXT_KINDS = [CONTEXT_ITEM, CONTEXT_RESET]
#: What a thread read back from the store needs before its next turn: the context, and whether
#: its last turn ended.
RESUME_KINDS = [*CONTEXT_KINDS, TURN_STARTED, TURN_COMPLETED]

#: The output the model is shown for a call whose own output was never produced (the turn was
#: interrupted or the process died while the tool ran), as the reference's prompt normalization.
ABORTED_CALL_OUTPUT = "aborted"
_CALL_OUTPUT_KINDS = {"function_call": "function_call_output", "custom_tool_call": "custom_tool_call_output"}


def fold_turns(events: list[EventRecord]) -> list[dict[str, Any]]:
    """Turns in order, each with its completed items and ``itemsView: "full"``.

    A turn whose ``turn/completed`` never made it to the log (the process died mid-turn) is
    reported as ``interrupted``: it is not running any more, and claiming otherwise would leave
    clients waiting for a completion that cannot come.
    """
    turns: dict[str, dict[str, Any]] = {}
    for event in events:
        payload = event.payload
        if event.kind == TURN_STARTED:
            turn = dict(payload)
            turn["items"] = []
            turns[turn["id"]] = turn
        elif event.kind == ITEM_COMPLETED:
            owner = turns.get(payload.get("turnId"))
            if owner is not None:
                owner["items"].append(payload["item"])
        elif event.kind == TURN_COMPLETED:
            owner = turns.get(payload.get("id"))
            if owner is not None:
                items = owner["items"]
                owner.update(payload)
                owner["items"] = items
    result = []
    for turn in turns.values():
        if turn.get("status") == "inProgress":
            turn["status"] = "interrupted"
        turn["itemsView"] = "full"
        result.append(turn)
    return result


def fold_context(events: list[EventRecord]) -> list[dict[str, Any]]:
    """The model-visible history (Responses-API items) the next request starts from."""
    context: list[dict[str, Any]] = []
    for event in events:
        if event.kind == CONTEXT_RESET:
            context = list(event.payload["items"])
        elif event.kind == CONTEXT_ITEM:
            context.append(event.payload["item"])
    return context


def last_turn_interrupted(events: list[EventRecord]) -> bool:
    """Whether the last turn in ``events`` ended other than completed or failed: interrupted, or
    never ended at all (the process died while it ran)."""
    last: str | None = None
    status: str | None = None
    for event in events:
        if event.kind == TURN_STARTED:
            last, status = event.payload.get("id"), None
        elif event.kind == TURN_COMPLETED and event.payload.get("id") == last:
            status = event.payload.get("status")
    return last is not None and status not in ("completed", "failed")


def with_call_outputs(context: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``context`` with an ``aborted`` output right after every tool call that has none.

    The model API refuses a call without its output; a turn cut short while a tool ran (an
    interrupt, a crash) leaves exactly that behind in the stored context.
    """
    answered = {item.get("call_id") for item in context if item.get("type") in _CALL_OUTPUT_KINDS.values()}
    if all(item.get("call_id") in answered for item in context if item.get("type") in _CALL_OUTPUT_KINDS):
        return context
    result: list[dict[str, Any]] = []
    for item in context:
        result.append(item)
        output_kind = _CALL_OUTPUT_KINDS.get(item.get("type", ""))
        if output_kind is not None and item.get("call_id") not in answered:
            result.append({"type": output_kind, "call_id": item.get("call_id"), "output": ABORTED_CALL_OUTPUT})
    return result


def turn_started_positions(events: list[EventRecord]) -> dict[str, int]:
    """Index in ``events`` of each turn's ``turn/started`` event, by turn id."""
    return {event.payload["id"]: index for index, event in enumerate(events) if event.kind == TURN_STARTED}


async def load_turns(store: ThreadStore, thread_id: str) -> list[dict[str, Any]]:
    return fold_turns(await store.read_events(thread_id, kinds=HISTORY_KINDS))
