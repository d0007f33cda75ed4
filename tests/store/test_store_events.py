"""Per-thread event logs: append, read, seq numbering, replace, atomic thread updates."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent_app_server.store import ThreadNotFound, ThreadRecord, ThreadStore

RecordFactory = Callable[..., ThreadRecord]


async def _thread(store: ThreadStore, make_record: RecordFactory, **overrides: Any) -> ThreadRecord:
    record = make_record(**overrides)
    await store.put_thread(record)
    return record


async def test_append_and_read_round_trip(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    payloads: list[Any] = [
        None,
        0,
        -(2**63),
        1.5,
        "text with ünïcödé and \n newline",
        [1, [2, {"a": None}]],
        {"type": "agentMessage", "id": "msg_1", "text": "hi", "nested": {"deep": [True, False]}},
    ]
    before = time.time_ns() // 1_000_000
    seqs = await store.append_events(thread.id, [(f"kind{i}", p) for i, p in enumerate(payloads)])
    after = time.time_ns() // 1_000_000
    assert seqs == list(range(1, len(payloads) + 1))
    events = await store.read_events(thread.id)
    assert [(e.thread_id, e.seq, e.kind, e.payload) for e in events] == [
        (thread.id, i + 1, f"kind{i}", p) for i, p in enumerate(payloads)
    ]
    assert all(before <= e.created_at_ms <= after for e in events)


async def test_seqs_are_monotonic_per_thread_and_independent(store: ThreadStore, make_record: RecordFactory) -> None:
    a = await _thread(store, make_record)
    b = await _thread(store, make_record)
    assert await store.append_events(a.id, [("x", 1), ("x", 2)]) == [1, 2]
    assert await store.append_events(b.id, [("x", 1)]) == [1]
    assert await store.append_events(a.id, [("x", 3)]) == [3]
    assert await store.append_events(b.id, [("x", 2), ("x", 3), ("x", 4)]) == [2, 3, 4]
    assert await store.append_events(a.id, []) == []
    assert await store.last_seq(a.id) == 3
    assert await store.last_seq(b.id) == 4
    assert await store.last_seq("missing") == 0
    assert [e.payload for e in await store.read_events(a.id)] == [1, 2, 3]
    assert [e.payload for e in await store.read_events(b.id)] == [1, 2, 3, 4]


async def test_concurrent_appends_get_distinct_gapless_seqs(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    results = await asyncio.gather(
        *(store.append_events(thread.id, [("x", (task, 0)), ("x", (task, 1))]) for task in range(50))
    )
    all_seqs = sorted(seq for seqs in results for seq in seqs)
    assert all_seqs == list(range(1, 101))
    for seqs in results:
        assert seqs[1] == seqs[0] + 1
    events = await store.read_events(thread.id)
    # Each call's two events are adjacent: appends are not interleaved.
    for first, second in zip(events[::2], events[1::2], strict=True):
        assert first.payload[0] == second.payload[0]


async def test_read_events_filters(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    kinds = ["item", "delta", "item", "turn", "delta", "item", "turn", "item"]
    await store.append_events(thread.id, [(kind, i) for i, kind in enumerate(kinds, start=1)])

    async def seqs(**kwargs: Any) -> list[int]:
        return [e.seq for e in await store.read_events(thread.id, **kwargs)]

    assert await seqs() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert await seqs(after_seq=5) == [6, 7, 8]
    assert await seqs(after_seq=8) == []
    assert await seqs(limit=3) == [1, 2, 3]
    assert await seqs(limit=0) == []
    assert await seqs(after_seq=2, limit=2) == [3, 4]
    assert await seqs(kinds=["item"]) == [1, 3, 6, 8]
    assert await seqs(kinds=["turn", "delta"]) == [2, 4, 5, 7]
    assert await seqs(kinds=["item"], after_seq=3, limit=2) == [6, 8]
    assert await seqs(kinds=["nothing"]) == []
    assert await seqs(kinds=[]) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert await store.read_events("missing") == []


async def test_append_with_thread_updates(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    seqs = await store.append_events(
        thread.id, [("item", "a")], thread_updates={"updated_at": thread.updated_at + 10, "preview": "a"}
    )
    assert seqs == [1]
    assert await store.get_thread(thread.id) == dataclasses.replace(
        thread, updated_at=thread.updated_at + 10, preview="a"
    )
    assert await store.append_events(thread.id, [], thread_updates={"name": "n"}) == []
    got = await store.get_thread(thread.id)
    assert got is not None and got.name == "n"


async def test_append_with_bad_update_writes_nothing(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    with pytest.raises(TypeError, match="bogus"):
        await store.append_events(thread.id, [("item", 1)], thread_updates={"bogus": 1})
    with pytest.raises(ValueError):
        await store.append_events(thread.id, [("item", 1), ("item", float("nan"))])
    assert await store.read_events(thread.id) == []
    assert await store.get_thread(thread.id) == thread


async def test_append_to_missing_thread(store: ThreadStore) -> None:
    with pytest.raises(ThreadNotFound, match="thread not found: missing"):
        await store.append_events("missing", [("item", 1)])
    with pytest.raises(ThreadNotFound):
        await store.append_events("missing", [("item", 1)], thread_updates={"preview": "x"})
    assert await store.read_events("missing") == []


async def test_replace_events_restarts_seqs(store: ThreadStore, make_record: RecordFactory) -> None:
    thread = await _thread(store, make_record)
    other = await _thread(store, make_record)
    await store.append_events(thread.id, [("item", i) for i in range(10)])
    await store.append_events(other.id, [("item", "other")])

    await store.replace_events(thread.id, [("item", "kept-0"), ("turn", "kept-1")])
    events = await store.read_events(thread.id)
    assert [(e.seq, e.kind, e.payload) for e in events] == [(1, "item", "kept-0"), (2, "turn", "kept-1")]
    assert await store.append_events(thread.id, [("item", "next")]) == [3]
    assert [e.payload for e in await store.read_events(other.id)] == ["other"]

    await store.replace_events(thread.id, [], thread_updates={"preview": "reverted"})
    assert await store.last_seq(thread.id) == 0
    got = await store.get_thread(thread.id)
    assert got is not None and got.preview == "reverted"
    assert await store.append_events(thread.id, [("item", "again")]) == [1]


async def test_replace_events_missing_thread(store: ThreadStore) -> None:
    with pytest.raises(ThreadNotFound):
        await store.replace_events("missing", [("item", 1)])
