"""History pages from the store: turns and items by position, both directions, kept in step with
every event write (append, replace, delete), migrated into older files, and the same pages from
memory for threads that never reach the database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core import history as core_history
from agent_app_server.store import (
    SCHEMA_VERSION,
    AnchorNotFound,
    EventRecord,
    HistoryAnchor,
    MemoryHistory,
    ThreadRecord,
    ThreadStore,
)
from agent_app_server.store import _history as store_history
from agent_app_server.store._schema import _V1_DDL, _split_statements

RecordFactory = Callable[..., ThreadRecord]
SUMMARY = ("userMessage", "agentMessage")


def turn_events(turn_id: str, *, answers: int = 2, completed: bool = True) -> list[tuple[str, Any]]:
    """A turn as the engine logs it: start, user message, reasoning, answers, context, completion."""
    events: list[tuple[str, Any]] = [
        ("turn/started", {"id": turn_id, "items": [], "status": "inProgress", "itemsView": "notLoaded"}),
        ("item/completed", {"turnId": turn_id, "item": {"type": "userMessage", "id": f"{turn_id}-u", "content": []}}),
        ("context/item", {"turnId": turn_id, "item": {"type": "message", "role": "user"}}),
        (
            "item/completed",
            {"turnId": turn_id, "item": {"type": "reasoning", "id": f"{turn_id}-r", "summary": [], "content": []}},
        ),
    ]
    for n in range(answers):
        # Model item ids repeat across turns (the fake model's do): positions, not ids, are unique.
        events.append(
            (
                "item/completed",
                {"turnId": turn_id, "item": {"type": "agentMessage", "id": f"msg{n}", "text": f"{turn_id} a{n}"}},
            )
        )
    if completed:
        events.append(("turn/completed", {"id": turn_id, "items": [], "status": "completed", "completedAt": 5}))
    return events


async def seeded(store: ThreadStore, make_record: RecordFactory, turns: int) -> str:
    record = make_record()
    await store.put_thread(record)
    for t in range(turns):
        await store.append_events(record.id, turn_events(f"t{t}"))
    return record.id


def test_indexed_kinds_are_the_cores() -> None:
    assert store_history.TURN_STARTED == core_history.TURN_STARTED
    assert store_history.ITEM_COMPLETED == core_history.ITEM_COMPLETED
    assert store_history.TURN_COMPLETED == core_history.TURN_COMPLETED


async def test_turn_pages_both_ways(store: ThreadStore, make_record: RecordFactory) -> None:
    thread_id = await seeded(store, make_record, 7)
    newest = await store.list_turns(thread_id, descending=True, limit=3)
    assert [turn.turn_id for turn in newest.rows] == ["t6", "t5", "t4"] and newest.more
    assert all(turn.items == [] for turn in newest.rows)
    assert newest.rows[0].completed == {"id": "t6", "items": [], "status": "completed", "completedAt": 5}
    after = HistoryAnchor(newest.rows[-1].seq, "t4", inclusive=False)
    rest = await store.list_turns(thread_id, anchor=after, descending=True, limit=10)
    assert [turn.turn_id for turn in rest.rows] == ["t3", "t2", "t1", "t0"] and not rest.more
    # An inclusive anchor read the other way starts with the anchored turn itself.
    back = HistoryAnchor(newest.rows[-1].seq, "t4", inclusive=True)
    forward = await store.list_turns(thread_id, anchor=back, limit=10)
    assert [turn.turn_id for turn in forward.rows] == ["t4", "t5", "t6"] and not forward.more


async def test_turn_item_views(store: ThreadStore, make_record: RecordFactory) -> None:
    thread_id = await seeded(store, make_record, 3)
    full = await store.list_turns(thread_id, limit=1, items="all")
    assert [item.item_id for item in full.rows[0].items] == ["t0-u", "t0-r", "msg0", "msg1"]
    summary = await store.list_turns(thread_id, descending=True, limit=2, items="summary", summary=SUMMARY)
    for turn in summary.rows:
        assert [item.item["type"] for item in turn.items] == ["userMessage", "agentMessage"]
        assert turn.items[-1].item["text"] == f"{turn.turn_id} a1"  # the final answer, not the first


async def test_item_pages_by_thread_and_by_turn(store: ThreadStore, make_record: RecordFactory) -> None:
    thread_id = await seeded(store, make_record, 3)
    everything = await store.list_items(thread_id, limit=100)
    assert len(everything.rows) == 12 and not everything.more
    assert [item.seq for item in everything.rows] == sorted(item.seq for item in everything.rows)
    first = await store.list_items(thread_id, limit=5)
    anchor = HistoryAnchor(first.rows[-1].seq, first.rows[-1].item_id, inclusive=False)
    second = await store.list_items(thread_id, anchor=anchor, limit=5)
    assert [item.seq for item in first.rows + second.rows] == [item.seq for item in everything.rows[:10]]
    newest = await store.list_items(thread_id, descending=True, limit=2)
    assert [item.item_id for item in newest.rows] == ["msg1", "msg0"] and newest.rows[0].turn_id == "t2"
    of_turn = await store.list_items(thread_id, turn_id="t1", limit=100)
    assert [item.item_id for item in of_turn.rows] == ["t1-u", "t1-r", "msg0", "msg1"]
    assert all(item.turn_id == "t1" for item in of_turn.rows)
    at = await store.find_item(thread_id, "t1", "msg0")
    assert at is not None
    after = await store.list_items(thread_id, turn_id="t1", anchor=HistoryAnchor(at, "msg0", False), limit=10)
    assert [item.item_id for item in after.rows] == ["msg1"]
    assert await store.find_item(thread_id, "t1", "nope") is None
    assert await store.find_turn(thread_id, "t2") is not None and await store.find_turn(thread_id, "t9") is None


async def test_stale_anchors_are_refused(store: ThreadStore, make_record: RecordFactory) -> None:
    thread_id = await seeded(store, make_record, 4)
    turns = await store.list_turns(thread_id, limit=10)
    last = turns.rows[-1]
    with pytest.raises(AnchorNotFound):
        await store.list_turns(thread_id, anchor=HistoryAnchor(last.seq, "someone-else", True))
    # A revert keeps a prefix of the log: anchors inside it stay valid, later ones are gone.
    events = await store.read_events(thread_id)
    kept = [(event.kind, event.payload) for event in events if event.seq < last.seq]
    await store.replace_events(thread_id, kept)
    with pytest.raises(AnchorNotFound):
        await store.list_turns(thread_id, anchor=HistoryAnchor(last.seq, last.turn_id, True))
    earlier = turns.rows[1]
    page = await store.list_turns(thread_id, anchor=HistoryAnchor(earlier.seq, earlier.turn_id, True), limit=10)
    assert [turn.turn_id for turn in page.rows] == ["t1", "t2"]
    turn_head, item_head = await store.history_heads(thread_id)
    assert turn_head == HistoryAnchor(earlier.seq + 7, "t2", True)
    assert item_head is not None and item_head.key == "msg1"


async def test_an_unfinished_turn_and_a_later_completion(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record()
    await store.put_thread(record)
    await store.append_events(record.id, turn_events("t0", completed=False))
    page = await store.list_turns(record.id, limit=5)
    assert page.rows[0].completed is None
    await store.append_events(record.id, [("turn/completed", {"id": "t0", "items": [], "status": "interrupted"})])
    page = await store.list_turns(record.id, limit=5)
    assert page.rows[0].completed == {"id": "t0", "items": [], "status": "interrupted"}


async def test_delete_thread_drops_its_index(
    store: ThreadStore, make_record: RecordFactory, count_rows: Callable[[str], int]
) -> None:
    thread_id = await seeded(store, make_record, 2)
    await store.delete_thread(thread_id)
    assert (await store.list_items(thread_id)).rows == []
    assert count_rows("history_items") == 0
    assert count_rows("history_turns") == 0


async def test_a_version_1_file_is_migrated_and_indexed(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
        for statement in _split_statements(_V1_DDL):
            conn.execute(statement)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        conn.execute(
            "INSERT INTO threads (id, created_at, updated_at, cwd, model_provider, source_kind, source, preview, "
            "title_cf, archived, cli_version, extra) "
            "VALUES ('old', 1, 1, '/w', 'p', 'cli', '\"cli\"', '', '', 0, '', '{}')"
        )
        events = turn_events("t0") + turn_events("t1", completed=False)
        conn.executemany(
            "INSERT INTO events (thread_id, seq, kind, payload, created_at_ms) VALUES ('old', ?, ?, ?, 7)",
            [(seq, kind, json.dumps(payload)) for seq, (kind, payload) in enumerate(events, start=1)],
        )
    store = await ThreadStore.open(db_path)
    try:
        turns = await store.list_turns("old", descending=True, items="all")
        assert [turn.turn_id for turn in turns.rows] == ["t1", "t0"]
        assert turns.rows[0].completed is None and turns.rows[1].completed is not None
        assert len(turns.rows[1].items) == 4
        assert len((await store.list_items("old", limit=100)).rows) == 8
    finally:
        await store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


async def test_memory_pages_match_the_store(store: ThreadStore, make_record: RecordFactory) -> None:
    thread_id = await seeded(store, make_record, 6)
    memory = MemoryHistory(await store.read_events(thread_id))

    def shape(rows: list[Any]) -> list[Any]:
        return [(row.seq, getattr(row, "turn_id", None), [i.seq for i in getattr(row, "items", [])]) for row in rows]

    for descending in (False, True):
        for items in ("none", "all", "summary"):
            stored = await store.list_turns(thread_id, descending=descending, limit=4, items=items, summary=SUMMARY)
            mem = memory.list_turns(None, descending, 4, items, SUMMARY)
            assert shape(stored.rows) == shape(mem.rows) and stored.more == mem.more
            anchor = HistoryAnchor(stored.rows[1].seq, stored.rows[1].turn_id, inclusive=descending)
            stored = await store.list_turns(
                thread_id, anchor=anchor, descending=descending, limit=3, items=items, summary=SUMMARY
            )
            mem = memory.list_turns(anchor, descending, 3, items, SUMMARY)
            assert shape(stored.rows) == shape(mem.rows) and stored.more == mem.more
        for turn_id in (None, "t3"):
            stored_items = await store.list_items(thread_id, turn_id=turn_id, descending=descending, limit=5)
            mem_items = memory.list_items(turn_id, None, descending, 5)
            assert [i.seq for i in stored_items.rows] == [i.seq for i in mem_items.rows]
            assert stored_items.more == mem_items.more
            last = stored_items.rows[-1]
            anchor = HistoryAnchor(last.seq, last.item_id, inclusive=False)
            stored_items = await store.list_items(thread_id, turn_id=turn_id, anchor=anchor, descending=descending)
            mem_items = memory.list_items(turn_id, anchor, descending, 25)
            assert [i.seq for i in stored_items.rows] == [i.seq for i in mem_items.rows]
    assert await store.history_heads(thread_id) == memory.heads()
    assert memory.find_item("t3", "msg1") == await store.find_item(thread_id, "t3", "msg1")
    with pytest.raises(AnchorNotFound):
        memory.list_items(None, HistoryAnchor(1, "x", True), False, 5)
    assert MemoryHistory([EventRecord("x", 1, "context/item", {}, 0)]).heads() == (None, None)
