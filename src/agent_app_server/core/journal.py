"""Durable announcements: a thread's events reach its log before clients hear about them.

Owns: the per-thread journal of history events on their way to the store (kept in order,
written one batch at a time, everything added while a write is in flight batched into the
next), and :class:`OrderedSink`, the engine's view of the server's sink, through which a
notification announcing a stored fact (``item/completed``, ``turn/completed``) leaves only once
that fact is stored, and every later notification of the same thread waits behind it.

The contract this gives clients: an item they were told is complete survives a crash (kill -9)
at any moment after they were told. Nothing else is held back: while no announcement waits for
a write, notifications pass straight through, so the streaming path pays one dict lookup.
Layer: core.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .threads import EventSink

log = logging.getLogger(__name__)

Event = tuple[str, Any]
WriteBatch = Callable[[list[Event]], Awaitable[None]]


class ThreadJournal:
    """One thread's events not yet known to be stored, in the order they happened."""

    __slots__ = ("_in_flight", "_pending", "_stored", "_writer", "failure")

    def __init__(self) -> None:
        self._pending: list[Event] = []
        #: Resolves when the batch now accumulating in ``_pending`` is stored.
        self._stored: asyncio.Future[None] | None = None
        #: The batch being written (resolves when it is stored), None while the writer is idle.
        self._in_flight: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        #: The last write error; the turn that owns the journal reports it as its failure.
        self.failure: Exception | None = None

    def add(self, kind: str, payload: Any) -> None:
        """Journal an event; it is stored with the next batch (see :meth:`commit`)."""
        self._pending.append((kind, payload))

    def commit(self, write: WriteBatch) -> asyncio.Future[None] | None:
        """Start storing everything journaled so far (with ``write``, unless a writer runs).

        Returns a future that resolves once all of it is stored — also when the write failed
        (see ``failure``) — or None when nothing is waiting to be stored.
        """
        if not self._pending:
            return self._in_flight
        loop = asyncio.get_running_loop()
        if self._stored is None:
            self._stored = loop.create_future()
        if self._writer is None:
            self._writer = loop.create_task(self._drain(write), name="thread-journal")
        return self._stored

    async def _drain(self, write: WriteBatch) -> None:
        # A task of its own: a cancelled turn never cancels a write that announcements wait for.
        try:
            while self._pending:
                batch, stored = self._pending, self._stored
                self._pending, self._stored = [], None
                if stored is None:
                    stored = asyncio.get_running_loop().create_future()
                self._in_flight = stored
                try:
                    await write(batch)
                except Exception as exc:
                    log.exception("storing %d thread events failed", len(batch))
                    self.failure = exc
                finally:
                    if not stored.done():
                        stored.set_result(None)
        finally:
            self._writer = None
            self._in_flight = None


class _Backlog:
    """Notifications of one thread waiting behind a write, and who waits for them to leave."""

    __slots__ = ("drained", "entries")

    def __init__(self) -> None:
        #: ``(stored, method, payload, encoded)``: leaves once ``stored`` (if any) is done.
        self.entries: deque[tuple[asyncio.Future[None] | None, str, Any, bool]] = deque()
        self.drained = asyncio.Event()


class OrderedSink:
    """The server's :class:`~.threads.EventSink`, with stored-before-announced ordering per thread.

    The backlog of a thread is bounded by what the turn produces while one store write is in
    flight (a few milliseconds of model output); it empties as soon as the write completes.
    """

    def __init__(self, inner: EventSink) -> None:
        self._inner = inner
        self._backlogs: dict[str, _Backlog] = {}
        self._releasers: set[asyncio.Task[None]] = set()

    def emit(self, thread_id: str | None, method: str, params: Any) -> None:
        backlog = self._backlogs.get(thread_id) if thread_id is not None else None
        if backlog is None:
            self._inner.emit(thread_id, method, params)
        else:
            backlog.entries.append((None, method, params, False))

    def emit_encoded(self, thread_id: str, method: str, encoded: str) -> None:
        backlog = self._backlogs.get(thread_id)
        if backlog is None:
            self._inner.emit_encoded(thread_id, method, encoded)
        else:
            backlog.entries.append((None, method, encoded, True))

    def emit_stored(self, thread_id: str, stored: asyncio.Future[None] | None, method: str, params: Any) -> None:
        """Emit once ``stored`` resolved; the thread's later notifications wait behind this one."""
        backlog = self._backlogs.get(thread_id)
        if backlog is None:
            if stored is None or stored.done():
                self._inner.emit(thread_id, method, params)
                return
            backlog = self._backlogs[thread_id] = _Backlog()
            task = asyncio.get_running_loop().create_task(self._release(thread_id, backlog), name="ordered-sink")
            self._releasers.add(task)
            task.add_done_callback(self._releasers.discard)
        backlog.entries.append((stored, method, params, False))

    async def request(self, thread_id: str, method: str, params: Any, *, notify_resolved: bool = True) -> Any:
        """As the inner sink's, sent after every notification of the thread emitted before it."""
        backlog = self._backlogs.get(thread_id)
        if backlog is not None:
            await backlog.drained.wait()
        return await self._inner.request(thread_id, method, params, notify_resolved=notify_resolved)

    async def delivered(self, thread_id: str) -> None:
        """Wait until every notification of the thread emitted so far has gone out."""
        backlog = self._backlogs.get(thread_id)
        if backlog is not None:
            await backlog.drained.wait()

    async def _release(self, thread_id: str, backlog: _Backlog) -> None:
        entries = backlog.entries
        try:
            while entries:
                stored = entries[0][0]
                if stored is not None and not stored.done():
                    # wait(), not await: being cancelled must not cancel the write's future.
                    await asyncio.wait((stored,))
                self._send(thread_id, entries.popleft())
        finally:
            # Cancelled (the loop is closing): what is left still goes out, in order.
            while entries:
                self._send(thread_id, entries.popleft())
            del self._backlogs[thread_id]
            backlog.drained.set()

    def _send(self, thread_id: str, entry: tuple[asyncio.Future[None] | None, str, Any, bool]) -> None:
        _stored, method, payload, encoded = entry
        if encoded:
            self._inner.emit_encoded(thread_id, method, payload)
        else:
            self._inner.emit(thread_id, method, payload)
