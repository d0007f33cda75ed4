"""History pages: thread/turns/list, thread/items/list, thread/items/read (experimental), and the
cursors thread/resume and thread/revert hand out for them.

Owns: the cursor format (opaque to clients), page sizes, item views, and turning the store's
history rows into wire turns and item entries. Every page is a keyed range read on the store's
history index (``store/_history.py``), so it costs the same on a thread of ten turns or ten
thousand; an ephemeral thread, whose log lives only in memory, is paged the same way from memory.

Cursors: a *next* cursor continues after the last row of a page (exclusive); a *backwards*
cursor, and the ones thread/resume returns, start at a row and include it (``turnsBackwardsCursor``
with ``sortDirection: "desc"`` starts with the newest turn). A cursor names its row, so one whose
row is gone (after thread/revert) is refused as invalid rather than silently shifted.
Layer: server (imports ``core``, ``protocol``, ``rpc``, ``store``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal

from ...core.errors import InvalidCursorError
from ...protocol import (
    ThreadItemsListAnchor,
    ThreadItemsListParams,
    ThreadItemsListResponse,
    ThreadItemsReadParams,
    ThreadItemsReadResponse,
    ThreadTurnsListParams,
    ThreadTurnsListResponse,
)
from ...rpc import InvalidParams
from ...store import (
    AnchorNotFound,
    HistoryAnchor,
    HistoryItem,
    HistoryPage,
    HistoryTurn,
    ItemsView,
    MemoryHistory,
    ThreadStore,
)
from ..connection import Connection
from . import handler

#: Page sizes as the reference's: 25 unless asked, at most 100 (larger requests get 100).
DEFAULT_PAGE = 25
MAX_PAGE = 100

#: ``itemsView`` → what the store puts in each turn. A summary is the turn's first user message
#: and its final answer (the reference's summary), which is what a history list shows of a turn.
_STORE_VIEW: dict[str, ItemsView] = {"notLoaded": "none", "summary": "summary", "full": "all"}
_SUMMARY_TYPES = ("userMessage", "agentMessage")

CursorKind = Literal["turn", "item"]


# ---------------------------------------------------------------------- cursors


def encode_cursor(kind: CursorKind, anchor: HistoryAnchor) -> str:
    raw = json.dumps([kind, anchor.seq, anchor.key, int(anchor.inclusive)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(kind: CursorKind, cursor: str) -> HistoryAnchor:
    """The anchor a cursor of ``kind`` names; -32602 ``invalid cursor: <c>`` for anything else."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursorError(cursor) from None
    if not (
        isinstance(value, list)
        and len(value) == 4
        and value[0] == kind
        and type(value[1]) is int
        and value[1] > 0
        and isinstance(value[2], str)
        and value[3] in (0, 1)
        and type(value[3]) is int
    ):
        raise InvalidCursorError(cursor)
    return HistoryAnchor(seq=value[1], key=value[2], inclusive=bool(value[3]))


# ---------------------------------------------------------------------- where a thread's history is


class _History:
    """A thread's history pages, from the store or (ephemeral threads) from memory."""

    def __init__(self, store: ThreadStore | None, thread_id: str, memory: MemoryHistory | None) -> None:
        self._store = store
        self._thread_id = thread_id
        self._memory = memory

    async def list_turns(
        self, anchor: HistoryAnchor | None, descending: bool, limit: int, items: ItemsView
    ) -> HistoryPage[HistoryTurn]:
        if self._memory is not None:
            return self._memory.list_turns(anchor, descending, limit, items, _SUMMARY_TYPES)
        assert self._store is not None
        return await self._store.list_turns(
            self._thread_id, anchor=anchor, descending=descending, limit=limit, items=items, summary=_SUMMARY_TYPES
        )

    async def list_items(
        self, turn_id: str | None, anchor: HistoryAnchor | None, descending: bool, limit: int
    ) -> HistoryPage[HistoryItem]:
        if self._memory is not None:
            return self._memory.list_items(turn_id, anchor, descending, limit)
        assert self._store is not None
        return await self._store.list_items(
            self._thread_id, turn_id=turn_id, anchor=anchor, descending=descending, limit=limit
        )

    async def find_turn(self, turn_id: str) -> int | None:
        if self._memory is not None:
            return self._memory.find_turn(turn_id)
        assert self._store is not None
        return await self._store.find_turn(self._thread_id, turn_id)

    async def find_item(self, turn_id: str, item_id: str) -> int | None:
        if self._memory is not None:
            return self._memory.find_item(turn_id, item_id)
        assert self._store is not None
        return await self._store.find_item(self._thread_id, turn_id, item_id)

    async def heads(self) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        if self._memory is not None:
            return self._memory.heads()
        assert self._store is not None
        return await self._store.history_heads(self._thread_id)


async def _history(conn: Connection, thread_id: str) -> tuple[_History, str | None]:
    """The thread's history and the id of its running turn; ``thread not found`` if there is no thread."""
    threads = conn.app.threads
    record, loaded = await threads.read(thread_id)
    active = loaded.active.turn_id if loaded is not None and loaded.active is not None else None
    if loaded is not None and loaded.ephemeral:
        return _History(None, record.id, MemoryHistory(loaded.memory_events)), active
    if loaded is not None and not loaded.materialized:
        # Started but never saved (no turn yet): there is no history.
        return _History(None, record.id, MemoryHistory([])), active
    return _History(threads.store, record.id, None), active


async def backwards_cursors(conn: Connection, thread_id: str) -> tuple[str | None, str | None]:
    """``(turnsBackwardsCursor, itemsBackwardsCursor)``: inclusive cursors at the newest turn and item."""
    history, _ = await _history(conn, thread_id)
    turn, item = await history.heads()
    return (
        None if turn is None else encode_cursor("turn", turn),
        None if item is None else encode_cursor("item", item),
    )


def _page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if limit < 1:
        raise InvalidParams(f"limit must be at least 1 (omit it for the default page of {DEFAULT_PAGE})")
    return min(limit, MAX_PAGE)


# ---------------------------------------------------------------------- thread/turns/list


def wire_turn(turn: HistoryTurn, view: str, active_turn_id: str | None) -> dict[str, Any]:
    wire = dict(turn.started)
    if turn.completed is not None:
        wire.update(turn.completed)
    wire["items"] = [item.item for item in turn.items]
    wire["itemsView"] = view
    if wire.get("status") == "inProgress" and turn.turn_id != active_turn_id:
        # Its completion never reached the log (the process stopped mid-turn): it is not running.
        wire["status"] = "interrupted"
    return wire


@handler("thread/turns/list")
async def thread_turns_list(conn: Connection, params: ThreadTurnsListParams) -> ThreadTurnsListResponse:
    history, active = await _history(conn, params.thread_id)
    limit = _page_size(params.limit)
    anchor = decode_cursor("turn", params.cursor) if params.cursor is not None else None
    view = params.items_view or "summary"
    try:
        page = await history.list_turns(anchor, params.sort_direction != "asc", limit, _STORE_VIEW[view])
    except AnchorNotFound:
        raise InvalidCursorError(params.cursor or "") from None
    turns = page.rows
    last, first = (turns[-1], turns[0]) if turns else (None, None)
    return ThreadTurnsListResponse.model_validate(
        {
            "data": [wire_turn(turn, view, active) for turn in turns],
            "nextCursor": encode_cursor("turn", HistoryAnchor(last.seq, last.turn_id, False))
            if last is not None and page.more
            else None,
            "backwardsCursor": encode_cursor("turn", HistoryAnchor(first.seq, first.turn_id, True))
            if first is not None
            else None,
        }
    )


# ---------------------------------------------------------------------- thread/items/list


@handler("thread/items/list")
async def thread_items_list(conn: Connection, params: ThreadItemsListParams) -> ThreadItemsListResponse:
    history, _ = await _history(conn, params.thread_id)
    limit = _page_size(params.limit)
    turn_id = params.turn_id or None
    if turn_id is not None and await history.find_turn(turn_id) is None:
        raise InvalidParams(f"turn not found: {turn_id}")
    cursor = params.cursor
    anchor: HistoryAnchor | None = None
    if isinstance(cursor, ThreadItemsListAnchor):
        if turn_id is None:
            raise InvalidParams("an item anchor cursor needs `turnId`: the turn the item belongs to")
        seq = await history.find_item(turn_id, cursor.item_id)
        if seq is None:
            raise InvalidParams(f"invalid cursor: item {cursor.item_id} is not in turn {turn_id}")
        anchor = HistoryAnchor(seq, cursor.item_id, inclusive=False)
    elif cursor is not None:
        anchor = decode_cursor("item", cursor)
    try:
        # Items default to oldest first, unlike turns.
        page = await history.list_items(turn_id, anchor, params.sort_direction == "desc", limit)
    except AnchorNotFound:
        raise InvalidCursorError(cursor if isinstance(cursor, str) else "") from None
    items = page.rows
    last, first = (items[-1], items[0]) if items else (None, None)
    return ThreadItemsListResponse.model_validate(
        {
            "data": [_entry(item) for item in items],
            "nextCursor": encode_cursor("item", HistoryAnchor(last.seq, last.item_id, False))
            if last is not None and page.more
            else None,
            "backwardsCursor": encode_cursor("item", HistoryAnchor(first.seq, first.item_id, True))
            if first is not None
            else None,
        }
    )


def _entry(item: HistoryItem) -> dict[str, Any]:
    return {"turnId": item.turn_id, "item": item.item, "startedAtMs": None, "completedAtMs": None}


# ---------------------------------------------------------------------- thread/items/read


#: How many ids one thread/items/read may name (the reference's bound).
MAX_READ_IDS = 100


@handler("thread/items/read")
async def thread_items_read(conn: Connection, params: ThreadItemsReadParams) -> ThreadItemsReadResponse:
    if not 1 <= len(params.item_ids) <= MAX_READ_IDS:
        raise InvalidParams(f"itemIds must contain 1 to {MAX_READ_IDS} ids, got {len(params.item_ids)}")
    history, _ = await _history(conn, params.thread_id)
    wanted = set(params.item_ids)
    found: list[HistoryItem] = []
    # As the reference: a turn or an id that is not there is simply not in the answer.
    if await history.find_turn(params.turn_id) is not None:
        anchor: HistoryAnchor | None = None
        while True:
            page = await history.list_items(params.turn_id, anchor, False, MAX_PAGE)
            found += [item for item in page.rows if item.item_id in wanted]
            if not page.more or not page.rows or len(found) == len(wanted):
                break
            anchor = HistoryAnchor(page.rows[-1].seq, page.rows[-1].item_id, False)
    return ThreadItemsReadResponse.model_validate({"data": [_entry(item) for item in found]})
