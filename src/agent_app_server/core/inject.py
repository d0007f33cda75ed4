"""``thread/inject_items``: Responses-API items a client appends to a thread's model-visible
history (context from elsewhere: another agent's findings, a pasted transcript).

Owns: checking that each item is a Responses item, and appending the items to the thread's
context, durably, so the next request sends them after the thread's earlier history.
Layer: core.
"""

from __future__ import annotations

from typing import Any

from ..rpc.errors import InvalidParams
from .history import CONTEXT_ITEM
from .threads import ThreadManager
from .turns import TurnEngine

#: The Responses API's input item types (the reference's ``ResponseItem`` variants).
RESPONSE_ITEM_TYPES = frozenset(
    {
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "web_search_call",
        "image_generation_call",
        "compaction",
    }
)
MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})


def check_items(items: list[Any]) -> list[dict[str, Any]]:
    if not items:
        raise InvalidParams("items must not be empty")
    for index, item in enumerate(items):
        where = f"items[{index}] is not a valid response item"
        if not isinstance(item, dict):
            raise InvalidParams(f"{where}: expected an object with a `type`")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise InvalidParams(f"{where}: missing field `type`")
        if kind not in RESPONSE_ITEM_TYPES:
            raise InvalidParams(
                f"{where}: unknown type `{kind}`; expected one of {', '.join(sorted(RESPONSE_ITEM_TYPES))}"
            )
        if kind == "message":
            if item.get("role") not in MESSAGE_ROLES:
                raise InvalidParams(f"{where}: a message needs `role` (one of {', '.join(sorted(MESSAGE_ROLES))})")
            if not isinstance(item.get("content"), list):
                raise InvalidParams(f"{where}: a message needs `content`, a list of content parts")
    return items


async def inject_items(threads: ThreadManager, turns: TurnEngine, thread_id: str, items: list[Any]) -> None:
    checked = check_items(items)
    record, loaded = await threads.read(thread_id)
    events = [(CONTEXT_ITEM, {"turnId": None, "item": item}) for item in checked]
    if loaded is None:
        # Not loaded: the items join the stored history that a resume folds into the context.
        await threads.store.append_events(record.id, events)
        return
    await turns.ensure_context(loaded)
    for kind, payload in events:
        loaded.journal.add(kind, payload)
    # Stored before the answer (an unsaved thread is saved now, an ephemeral one keeps them in
    # memory): injected history survives a restart like any other.
    await threads.flush(loaded)
    context = loaded.turn_state.context
    assert context is not None
    context.extend(checked)
