"""Event sequence numbers and replay (``capabilities.eventReplay``, ``thread/resume {afterSeq}``).

Beyond the reference, which numbers nothing: every notification fanned out to a thread's
subscribers gets the next number of that thread. Opted-in clients see it as a top-level ``seq``
beside ``emittedAtMs``; everyone else sees the reference's wire unchanged. Each numbered
notification is kept, exactly as it was sent, in memory (the newest :data:`RECENT_PER_THREAD` per
thread) and in the store's :class:`~agent_app_server.store.NotificationLog` (written in batches off
the event loop), so a client that dropped can ask for everything after the last number it saw,
also from a restarted server.

Owns: the per-thread counters, the in-memory tail, batching writes to the log, and replaying a
range to one connection while its live notifications wait (``Connection.hold``).
Layer: server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from ..protocol.envelope import with_seq as with_seq  # re-exported: the server numbers live notifications
from ..rpc import InvalidRequest
from ..store import NotificationLog

if TYPE_CHECKING:
    from pathlib import Path

    from .connection import Connection

log = logging.getLogger(__name__)

#: Newest notifications per loaded thread kept in memory (older ones are read back from the log).
RECENT_PER_THREAD = 128
#: Write to the log at least this often while notifications arrive ...
FLUSH_INTERVAL_S = 0.1
#: ... and at once when this many are waiting.
FLUSH_BATCH = 2000
#: Bound on notifications waiting for the log (a stuck disk must not grow memory without bound).
MAX_PENDING = 100_000
#: After a crash the last notifications sent may never have reached the log; numbering continues
#: this far above what the log knows, so no client ever sees a number used twice.
CRASH_SEQ_GAP = 1_000_000
#: Notifications sent per replay step before waiting for the connection to drain.
REPLAY_PAGE = 500
#: How often the log's age bound is applied while the server runs.
EXPIRY_INTERVAL_S = 3600.0
#: How often the in-memory tails of threads that are no longer loaded are released.
SWEEP_INTERVAL_S = 10.0

Entry = tuple[int, str, str]  # (seq, method, encoded message without seq)


class _ThreadEvents:
    __slots__ = ("flushed_upto", "last_activity", "next_seq", "persist", "pruned_upto", "recent")

    def __init__(self, next_seq: int, pruned_upto: int, persist: bool) -> None:
        self.next_seq = next_seq
        #: Numbers at or below this are unavailable (pruned from the log, or never kept).
        self.pruned_upto = pruned_upto
        self.flushed_upto = next_seq - 1
        self.persist = persist
        self.recent: collections.deque[Entry] = collections.deque()
        self.last_activity = time.monotonic()


class ReplayLog:
    """Numbers, keeps and replays one server's thread notifications."""

    def __init__(
        self,
        store: NotificationLog | None,
        *,
        is_loaded: Callable[[str], bool],
        is_ephemeral: Callable[[str], bool],
    ) -> None:
        self._store = store
        self._is_loaded = is_loaded
        self._is_ephemeral = is_ephemeral
        #: Whether this server numbers the thread's notifications (in a fleet: the lease holder only).
        self.numbers: Callable[[str], bool] = lambda _thread_id: True
        self._threads: dict[str, _ThreadEvents] = {}
        self._pending: list[tuple[str, int, str, str, int]] = []
        self._dirty = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._flush_lock = asyncio.Lock()
        #: Longest a notification waits for the log (shorter in a fleet, where other servers read it there).
        self.flush_interval_s = FLUSH_INTERVAL_S

    # ------------------------------------------------------------------ numbering

    async def prepare(self, thread_id: str, *, crashed: bool | None = None) -> None:
        """Load the thread's counter from the log (before a stored thread emits anything here).

        ``crashed`` overrides the log's view of whether its last writer died (see :meth:`reload`)."""
        if thread_id in self._threads or self._store is None:
            return
        try:
            info = await self._store.info(thread_id)
        except Exception:
            log.exception("could not read the notification log for thread %s", thread_id)
            return
        if thread_id in self._threads:
            return
        next_seq = info.last_seq + 1
        if (info.crashed if crashed is None else crashed) and info.last_seq > 0:
            next_seq += CRASH_SEQ_GAP
        state = _ThreadEvents(next_seq, info.pruned_upto, persist=True)
        state.flushed_upto = info.last_seq
        self._threads[thread_id] = state

    async def reload(self, thread_id: str, *, crashed: bool) -> None:
        """Continue the thread's numbering from the log, forgetting this server's own counter: in a
        fleet, another server may have numbered the thread's notifications since (see ``fleet``).
        ``crashed``: that server died, and may have sent numbers the log never got."""
        await self.flush()
        self._threads.pop(thread_id, None)
        await self.prepare(thread_id, crashed=crashed)

    def record(self, thread_id: str, method: str, encoded: str) -> int | None:
        """Number a notification of ``thread_id`` and keep it; returns its ``seq``.

        None for a thread whose numbering was never loaded here (e.g. ``thread/name/set`` on a
        thread that is not loaded): numbering it from 1 could repeat numbers a client already saw.
        """
        if not self.numbers(thread_id):
            return None
        state = self._threads.get(thread_id)
        if state is None:
            if not self._is_loaded(thread_id):
                return None
            # Loaded without :meth:`prepare`: a thread this process created (start/fork), with a
            # fresh id, so numbering starts at 1.
            state = self._threads[thread_id] = _ThreadEvents(
                1, 0, persist=self._store is not None and not self._is_ephemeral(thread_id)
            )
        seq = state.next_seq
        state.next_seq = seq + 1
        state.last_activity = time.monotonic()
        recent = state.recent
        recent.append((seq, method, encoded))
        if state.persist:
            pending = self._pending
            if not pending:
                self._dirty.set()
            pending.append((thread_id, seq, method, encoded, time.time_ns() // 1_000_000))
            if len(pending) >= FLUSH_BATCH:
                self._full.set()
                if len(pending) > MAX_PENDING:
                    self._drop_oldest_pending()
        if len(recent) > RECENT_PER_THREAD:
            self._trim(state)
        return seq

    def next_seq(self, thread_id: str) -> int:
        state = self._threads.get(thread_id)
        return 1 if state is None else state.next_seq

    def last_activity(self, thread_id: str) -> float:
        state = self._threads.get(thread_id)
        return 0.0 if state is None else state.last_activity

    # ------------------------------------------------------------------ size (for /metrics)

    @property
    def pending_writes(self) -> int:
        """Notifications numbered but not yet written to the log."""
        return len(self._pending)

    @property
    def memory_entries(self) -> int:
        """Notifications kept in memory (the newest of each thread)."""
        return sum(len(state.recent) for state in self._threads.values())

    async def disk_bytes(self) -> int:
        """The log's size on disk (its SQLite database and write-ahead log files; 0 without a log,
        or for a shared PostgreSQL log, whose size is the database's to report)."""
        from ..store import SqliteNotificationLog

        if not isinstance(self._store, SqliteNotificationLog):
            return 0
        return await asyncio.to_thread(_files_size, self._store.path)

    def check_after_seq(self, thread_id: str, after_seq: int) -> None:
        """Refuse an ``afterSeq`` we cannot serve exactly (call after :meth:`prepare`)."""
        state = self._threads.get(thread_id)
        last = 0 if state is None else state.next_seq - 1
        check_after_seq(thread_id, after_seq, last, 0 if state is None else state.pruned_upto)

    def forget_recent(self, thread_id: str) -> None:
        """An unloaded thread: drop its in-memory tail once written (the counter stays)."""
        state = self._threads.get(thread_id)
        if state is None:
            return
        if not state.persist:
            del self._threads[thread_id]
            return
        while state.recent and state.recent[0][0] <= state.flushed_upto:
            state.recent.popleft()

    async def delete_thread(self, thread_id: str) -> None:
        """A deleted thread: nothing of it is kept or replayable any more, in memory or in the log."""
        self._threads.pop(thread_id, None)
        self._pending = [row for row in self._pending if row[0] != thread_id]
        if self._store is not None:
            await self._store.delete_thread(thread_id)

    def _trim(self, state: _ThreadEvents) -> None:
        recent = state.recent
        if state.persist:
            # Only what the log already has may leave memory, so every number stays readable.
            while len(recent) > RECENT_PER_THREAD and recent[0][0] <= state.flushed_upto:
                recent.popleft()
        else:
            while len(recent) > RECENT_PER_THREAD:
                state.pruned_upto = recent.popleft()[0]

    def _drop_oldest_pending(self) -> None:
        dropped = self._pending[: len(self._pending) // 2]
        del self._pending[: len(dropped)]
        log.error("the notification log is not keeping up; %d notifications will not be replayable", len(dropped))
        for thread_id, seq, *_ in dropped:
            state = self._threads.get(thread_id)
            if state is not None:
                state.pruned_upto = max(state.pruned_upto, seq)
                state.flushed_upto = max(state.flushed_upto, seq)
                self._trim(state)

    # ------------------------------------------------------------------ writing

    def start(self) -> None:
        if self._store is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replay-log-writer")

    async def _run(self) -> None:
        next_expiry = time.monotonic() + EXPIRY_INTERVAL_S
        next_sweep = time.monotonic() + SWEEP_INTERVAL_S
        while True:
            await self._dirty.wait()
            # What arrived while the last write ran has waited already: a stream faster than
            # the interval is written back to back, not a write and an interval at a time.
            if self._pending and time.time_ns() // 1_000_000 - self._pending[0][4] < self.flush_interval_s * 1000:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.flush_interval_s)
            await self.flush()
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + SWEEP_INTERVAL_S
                for thread_id in [tid for tid in self._threads if not self._is_loaded(tid)]:
                    self.forget_recent(thread_id)
            if time.monotonic() >= next_expiry and self._store is not None:
                next_expiry = time.monotonic() + EXPIRY_INTERVAL_S
                try:
                    self._apply_pruned(await self._store.prune_expired())
                except Exception:
                    log.exception("pruning the notification log failed")

    async def flush(self) -> None:
        """Write what is waiting; returns once everything recorded before the call is in the log
        (a write already under way included, so a caller never reads the log behind it)."""
        async with self._flush_lock:
            await self._flush()

    async def _flush(self) -> None:
        store = self._store
        self._dirty.clear()
        self._full.clear()
        rows, self._pending = self._pending, []
        if store is None or not rows:
            return
        try:
            pruned = await store.append(rows)
        except Exception:
            log.exception("writing %d notifications to the replay log failed; retrying", len(rows))
            self._pending[:0] = rows
            if len(self._pending) > MAX_PENDING:
                self._drop_oldest_pending()
            self._dirty.set()
            await asyncio.sleep(FLUSH_INTERVAL_S * 10)
            return
        for thread_id, seq, *_ in rows:
            state = self._threads.get(thread_id)
            if state is not None and seq > state.flushed_upto:
                state.flushed_upto = seq
        self._apply_pruned(pruned)
        for thread_id in {row[0] for row in rows}:
            state = self._threads.get(thread_id)
            if state is not None and len(state.recent) > RECENT_PER_THREAD:
                self._trim(state)

    def _apply_pruned(self, pruned: dict[str, int]) -> None:
        for thread_id, upto in pruned.items():
            state = self._threads.get(thread_id)
            if state is not None and upto > state.pruned_upto:
                state.pruned_upto = upto

    async def close(self) -> None:
        """Write what is waiting and close the log (a clean shutdown: numbering continues densely)."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()
        if self._store is not None:
            await self._store.close()

    # ------------------------------------------------------------------ reading

    def _memory_range(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[Entry] | None:
        """Entries after ``after_seq`` from memory, or None when memory does not reach back that far."""
        state = self._threads.get(thread_id)
        if state is None or not state.recent:
            return None
        recent = state.recent
        first = recent[0][0]
        if first > after_seq + 1 and after_seq < state.flushed_upto and state.persist:
            return None
        out: list[Entry] = []
        for entry in recent:
            if entry[0] <= after_seq:
                continue
            if entry[0] >= before_seq or len(out) >= limit:
                break
            out.append(entry)
        return out

    async def read_range(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[Entry]:
        """Up to ``limit`` notifications with ``after_seq < seq < before_seq``, oldest first."""
        cursor = after_seq
        while True:
            from_memory = self._memory_range(thread_id, cursor, before_seq, limit)
            if from_memory is not None:
                return from_memory
            state = self._threads.get(thread_id)
            upper = before_seq if state is None or not state.recent else min(before_seq, state.recent[0][0])
            # Everything below the in-memory tail was written before it left memory, so this read
            # is complete for (cursor, upper) even if the tail moves on meanwhile.
            rows = await self._store.read_entries(thread_id, cursor, upper, limit) if self._store is not None else []
            if rows:
                return rows
            if upper >= before_seq:
                return []
            # Nothing stored below the tail: numbering jumped there (after a crash); go on above it.
            cursor = upper - 1

    def pruned_upto(self, thread_id: str) -> int:
        state = self._threads.get(thread_id)
        return 0 if state is None else state.pruned_upto


def check_after_seq(thread_id: str, after_seq: int, last: int, pruned_upto: int) -> None:
    """Refuse an ``afterSeq`` past the thread's ``last`` number, or before what is kept."""
    if after_seq > last:
        raise InvalidRequest(
            f"afterSeq {after_seq} is ahead of the last notification of thread {thread_id} (seq {last}); "
            "resume without afterSeq and reload the thread"
        )
    if after_seq < pruned_upto:
        raise InvalidRequest(
            f"notifications of thread {thread_id} after seq {after_seq} are no longer kept (only those after "
            f"seq {pruned_upto} are); resume without afterSeq and reload the thread with thread/turns/list"
        )


def _files_size(path: Path) -> int:
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def send_numbered(recipients: Iterable[Connection], thread_id: str, method: str, seq: int, encoded: str) -> None:
    """Send notification number ``seq`` of the thread: with its number to opted-in clients (the
    numbered text built once), as the reference's wire to everyone else."""
    numbered: str | None = None
    for connection in recipients:
        if connection.event_replay:
            if numbered is None:
                numbered = with_seq(encoded, seq)
            connection.send_thread_event(thread_id, method, seq, numbered)
        else:
            connection.send_encoded(method, encoded)


async def replay_to(replay: ReplayLog, conn: Connection, thread_id: str, after_seq: int, end_seq: int) -> None:
    """Send ``conn`` every notification of ``thread_id`` numbered in ``(after_seq, end_seq)``, then
    what arrived for it meanwhile (held since ``end_seq`` was taken), then resume live delivery."""

    async def pruned_upto() -> int:
        return replay.pruned_upto(thread_id)

    await replay_entries(
        conn,
        thread_id,
        after_seq,
        read=lambda cursor: replay.read_range(thread_id, cursor, end_seq, REPLAY_PAGE),
        pruned_upto=pruned_upto,
        end_seq=end_seq,
    )


async def replay_entries(
    conn: Connection,
    thread_id: str,
    after_seq: int,
    *,
    read: Callable[[int], Awaitable[list[Entry]]],
    pruned_upto: Callable[[], Awaitable[int]],
    end_seq: int | None = None,
) -> None:
    """Send ``conn`` what ``read(cursor)`` pages out after ``after_seq`` (until a page is empty, or
    ``end_seq``), then the thread's live notifications held meanwhile that it did not send, then
    resume live delivery. A client that fell behind what is kept is disconnected, as one that
    stopped reading: it must reload the thread."""
    peer = conn.peer
    cursor = after_seq
    try:
        while end_seq is None or cursor + 1 < end_seq:
            if peer is None or peer.closed:
                return
            entries = await read(cursor)
            if (not entries or entries[0][0] > cursor + 1) and await pruned_upto() > cursor:
                log.warning("replay of thread %s to connection %d fell behind the log's bound", thread_id, conn.id)
                conn.drop_held(thread_id)
                await conn.abort("event replay fell behind what the server keeps; resume without afterSeq")
                return
            if not entries:
                break
            for seq, method, encoded in entries:
                conn.send_replayed(method, with_seq(encoded, seq))
            cursor = entries[-1][0]
            await peer.wait_writable()
        conn.release_held(thread_id, cursor)
    except asyncio.CancelledError:
        conn.drop_held(thread_id)
        raise
    except Exception:
        log.exception("event replay of thread %s failed", thread_id)
        conn.drop_held(thread_id)
        await conn.abort("event replay failed; resume without afterSeq")
