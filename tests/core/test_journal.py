"""The journal and the ordered sink: announcements leave only once stored, in emission order."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_app_server.core.journal import Event, OrderedSink, ThreadJournal


class Recorder:
    """The server side of the sink: what left, in order."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.requests: list[str] = []

    def emit(self, thread_id: str | None, method: str, params: Any) -> None:
        self.sent.append(method)

    def emit_encoded(self, thread_id: str, method: str, encoded: str) -> None:
        self.sent.append(method)

    async def request(self, thread_id: str, method: str, params: Any, *, notify_resolved: bool = True) -> Any:
        self.requests.append(f"{method} after {len(self.sent)}")
        return {}


class GatedStore:
    """A write that completes when the test says so."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.gate = asyncio.Event()

    async def write(self, batch: list[Event]) -> None:
        self.batches.append(batch)
        await self.gate.wait()


async def test_an_announcement_waits_for_its_write_and_later_notifications_wait_behind_it() -> None:
    inner = Recorder()
    sink = OrderedSink(inner)
    journal = ThreadJournal()
    store = GatedStore()
    sink.emit("t", "item/started", {})
    journal.add("item/completed", {"n": 1})
    sink.emit_stored("t", journal.commit(store.write), "item/completed", {})
    sink.emit_encoded("t", "item/agentMessage/delta", "{}")
    journal.add("item/completed", {"n": 2})
    second = journal.commit(store.write)
    sink.emit_stored("t", second, "item/completed", {})
    sink.emit("other", "thread/started", {})
    await asyncio.sleep(0)
    # Another thread is not held back; this one's announcement waits for its write.
    assert inner.sent == ["item/started", "thread/started"]
    asking = asyncio.get_running_loop().create_task(sink.request("t", "item/tool/requestUserInput", {}))
    store.gate.set()
    assert second is not None
    await second
    await asking
    # The writer had not started yet: both events went out in one batch.
    assert [len(batch) for batch in store.batches] == [2]
    assert inner.sent == [
        "item/started",
        "thread/started",
        "item/completed",
        "item/agentMessage/delta",
        "item/completed",
    ]
    assert inner.requests == ["item/tool/requestUserInput after 5"]


async def test_events_added_during_a_write_go_out_as_one_batch() -> None:
    journal = ThreadJournal()
    store = GatedStore()
    journal.add("a", 1)
    first = journal.commit(store.write)
    await asyncio.sleep(0)
    journal.add("b", 2)
    journal.add("c", 3)
    journal.commit(store.write)
    last = journal.commit(store.write)
    store.gate.set()
    assert first is not None and last is not None
    await last
    assert first.done()
    assert store.batches == [[("a", 1)], [("b", 2), ("c", 3)]]
    assert journal.commit(store.write) is None


async def test_a_failed_write_still_releases_its_waiters_and_is_reported() -> None:
    journal = ThreadJournal()

    async def broken(batch: list[Event]) -> None:
        raise OSError("disk full")

    journal.add("a", 1)
    stored = journal.commit(broken)
    assert stored is not None
    await stored
    assert isinstance(journal.failure, OSError)
