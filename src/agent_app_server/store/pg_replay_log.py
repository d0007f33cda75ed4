"""``PgNotificationLog``: the notification replay log in the PostgreSQL database the thread store
uses, so a server of a fleet can replay (and follow) what another server sent.

Owns: the ``notification_batches`` / ``thread_seq`` statements and the batch form (a run of a
thread's consecutive notifications as one row of text, so a burst of deltas is a few rows written
and read without a driver cost per notification), with the bounds of the SQLite log (per thread,
exactly, and by age, per batch), and the per-thread crash marker: each open log is a writer with its own id,
``thread_seq`` names the last writer of each thread and whether it closed cleanly, so numbering
after a writer died continues past a gap (``ThreadLogInfo.crashed``) while a cleanly closed thread
numbers on densely. Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from .base import (
    DEFAULT_KEEP_PER_THREAD,
    DEFAULT_MAX_AGE_S,
    LoggedNotification,
    LogRow,
    NotificationLog,
    ThreadLogInfo,
    checked_keep_per_thread,
    last_seqs,
    needs_pruning,
)
from .pg_fleet import EVENTS_CHANNEL
from .pg_schema import ensure_notification_log_schema, open_pool, redact
from .records import StoreClosed


class PgNotificationLog(NotificationLog):
    """Open with ``await PgNotificationLog.open(url)`` (or ``NotificationLog.open(url)``)."""

    def __init__(self, url: str, pool: AsyncConnectionPool, *, keep_per_thread: int, max_age_s: float) -> None:
        self.location = redact(url)
        self.keep_per_thread = keep_per_thread
        self.max_age_s = max_age_s
        #: This log's writer id in ``thread_seq.writer``.
        self.writer = uuid.uuid4().hex
        self._pool: AsyncConnectionPool | None = pool

    @classmethod
    async def open(
        cls,
        location: Path | str,
        *,
        keep_per_thread: int = DEFAULT_KEEP_PER_THREAD,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> PgNotificationLog:
        checked_keep_per_thread(keep_per_thread)
        url = str(location)
        pool = await open_pool(url, max_size=4)
        try:
            async with pool.connection() as conn:
                await ensure_notification_log_schema(conn, redact(url))
        except BaseException:
            await pool.close()
            raise
        log = cls(url, pool, keep_per_thread=keep_per_thread, max_age_s=max_age_s)
        await log.prune_expired()
        return log

    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreClosed("the notification log is closed")
        return self._pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with pool.connection() as conn:
                await conn.execute("UPDATE thread_seq SET clean = TRUE WHERE writer = %s", (self.writer,))
        finally:
            await pool.close()

    async def info(self, thread_id: str) -> ThreadLogInfo:
        async with self.pool().connection() as conn:
            cursor = await conn.execute(
                "SELECT last_seq, pruned_upto, writer, clean FROM thread_seq WHERE thread_id = %s", (thread_id,)
            )
            row = await cursor.fetchone()
        if row is None:
            return ThreadLogInfo()
        last_seq, pruned_upto, writer, clean = row
        return ThreadLogInfo(int(last_seq), int(pruned_upto), crashed=not clean and writer != self.writer)

    async def _append(self, rows: list[LogRow]) -> dict[str, int]:
        keep = self.keep_per_thread
        pruned: dict[str, int] = {}
        lasts = last_seqs(rows)
        batches = batch_rows(rows)
        firsts: dict[str, int] = {}
        for thread_id, seq, *_ in rows:
            firsts[thread_id] = min(seq, firsts.get(thread_id, seq))
        # The signal a fleet's servers follow the thread by (delivered at commit); they read the
        # rows themselves, so a signal lost or merged costs a catch-up, never an event.
        signals = [f"{thread_id} {firsts[thread_id]} {last_seq} {self.writer}" for thread_id, last_seq in lasts.items()]
        head, last = batches[:-_BATCHES_PER_STATEMENT], batches[-_BATCHES_PER_STATEMENT:]
        async with self.pool().connection() as conn:
            # Usually one statement (its own transaction): the server running a turn writes while
            # it streams, and each round trip waits for its event loop to come round.
            async with conn.transaction() if head else contextlib.nullcontext():
                for start in range(0, len(head), _BATCHES_PER_STATEMENT):
                    chunk = head[start : start + _BATCHES_PER_STATEMENT]
                    await conn.execute(_INSERT_BATCHES % _values(len(chunk)), _flat(chunk))
                cursor = await conn.execute(
                    f"WITH written AS ({_INSERT_BATCHES % _values(len(last))}), "
                    "counters AS (INSERT INTO thread_seq (thread_id, last_seq, pruned_upto, writer, clean) "
                    "SELECT thread_id, last_seq, 0, %s, FALSE "
                    "FROM unnest(%s::text[], %s::bigint[]) AS t(thread_id, last_seq) "
                    "ON CONFLICT (thread_id) DO UPDATE SET "
                    "last_seq = greatest(thread_seq.last_seq, excluded.last_seq), writer = excluded.writer, "
                    "clean = FALSE RETURNING thread_id, last_seq, pruned_upto) "
                    "SELECT c.thread_id, c.last_seq, c.pruned_upto, pg_notify(%s, s.payload) "
                    "FROM counters c JOIN unnest(%s::text[], %s::text[]) AS s(thread_id, payload) USING (thread_id)",
                    [
                        *_flat(last),
                        self.writer,
                        list(lasts),
                        list(lasts.values()),
                        EVENTS_CHANNEL,
                        list(lasts),
                        signals,
                    ],
                )
                counters: list[tuple[str, int, int, Any]] = list(await cursor.fetchall())
            for thread_id, last_seq, floor, _ in counters:
                if needs_pruning(last_seq, floor, keep):
                    async with conn.transaction():
                        cutoff = await _prune_to_newest(conn, thread_id, keep, floor)
                    if cutoff is not None:
                        pruned[thread_id] = cutoff
        return pruned

    async def read(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[LoggedNotification]:
        entries = await self.read_entries(thread_id, after_seq, before_seq, limit)
        return [LoggedNotification(seq, method, message) for seq, method, message in entries]

    async def read_entries(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[LogEntry]:
        async with self.pool().connection() as conn:
            cursor = await conn.execute(
                # The batches holding numbers after after_seq, oldest first, as many as hold
                # ``limit`` notifications (each holds at least one, so ``limit`` batches are
                # enough to count over). A batch holds at most MAX_BATCH consecutive numbers,
                # which bounds the index range from below.
                "SELECT entries FROM ("
                " SELECT first_seq, entries, sum(inside) OVER (ORDER BY first_seq) - inside AS before_it"
                " FROM (SELECT first_seq, entries,"
                "  least(last_seq, %(before)s - 1) - greatest(first_seq, %(after)s + 1) + 1 AS inside"
                "  FROM notification_batches"
                "  WHERE thread_id = %(thread)s AND first_seq > %(low)s AND first_seq < %(before)s"
                "  AND last_seq > %(after)s ORDER BY first_seq LIMIT %(limit)s) candidates"
                ") counted WHERE before_it < %(limit)s ORDER BY first_seq",
                {
                    "thread": thread_id,
                    "low": after_seq - MAX_BATCH,
                    "after": after_seq,
                    "before": before_seq,
                    "limit": limit,
                },
            )
            batches = await cursor.fetchall()
        return split_batches([entries for (entries,) in batches], after_seq, before_seq, limit)

    async def delete_thread(self, thread_id: str) -> None:
        async with self.pool().connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM notification_batches WHERE thread_id = %s", (thread_id,))
            await conn.execute("DELETE FROM thread_seq WHERE thread_id = %s", (thread_id,))

    async def _prune_older_than(self, cutoff_ms: int) -> dict[str, int]:
        async with self.pool().connection() as conn, conn.transaction():
            # A batch's time is its newest notification's: it goes once all of them are too old.
            cursor = await conn.execute(
                "DELETE FROM notification_batches WHERE created_at_ms < %s RETURNING thread_id, last_seq", (cutoff_ms,)
            )
            expired: dict[str, int] = {}
            for thread_id, seq in await cursor.fetchall():
                expired[thread_id] = max(expired.get(thread_id, 0), int(seq))
            await conn.execute(
                "UPDATE thread_seq s SET pruned_upto = greatest(s.pruned_upto, u.seq) "
                "FROM unnest(%s::text[], %s::bigint[]) AS u(thread_id, seq) WHERE s.thread_id = u.thread_id",
                (list(expired), list(expired.values())),
            )
        return expired


#: Most notifications in one stored batch: a read decodes whole batches, so this bounds what a
#: read decodes beyond what it returns.
MAX_BATCH = 500
#: A batch spans at most this much time, so the age bound prunes at most this late.
BATCH_SPAN_MS = 1000
#: Batches per INSERT statement (five parameters each).
_BATCHES_PER_STATEMENT = 1000
#: A batch rewritten (a write retried after its commit was not confirmed) is replaced: the newest
#: message for a number wins, as in the SQLite log (INSERT OR REPLACE).
_INSERT_BATCHES = (
    "INSERT INTO notification_batches (thread_id, first_seq, last_seq, entries, created_at_ms) VALUES %s "
    "ON CONFLICT (thread_id, first_seq) DO UPDATE SET last_seq = excluded.last_seq, entries = excluded.entries, "
    "created_at_ms = excluded.created_at_ms"
)


def _values(count: int) -> str:
    return ", ".join(["(%s, %s, %s, %s, %s)"] * count)


def _flat(batches: list[tuple[str, int, int, str, int]]) -> list[Any]:
    return [value for batch in batches for value in batch]


#: Separators inside a batch's text: control characters, which valid JSON never holds unescaped
#: (in a string they must be escaped, and between tokens only space, tab and newlines may be).
_ENTRY_END = "\x1e"
_FIELD_END = "\x1f"
_UNSAFE = str.maketrans({_ENTRY_END: "\\u001e", _FIELD_END: "\\u001f"})

#: (seq, method, encoded message)
LogEntry = tuple[int, str, str]


def batch_rows(rows: list[LogRow]) -> list[tuple[str, int, int, str, int]]:
    """The rows as stored batches ``(thread, first seq, last seq, entries, newest ms)``: per thread,
    runs of consecutive numbers, at most :data:`MAX_BATCH` long and :data:`BATCH_SPAN_MS` wide.

    A whole burst of deltas is then a few rows, each one text (``seq␟method␟message`` joined by
    ␞) that the driver sends as it is: what costs per notification is one f-string here, and a
    split on the reading side."""
    runs: dict[str, list[LogRow]] = {}
    batches: list[tuple[str, int, int, str, int]] = []

    def close(run: list[LogRow]) -> None:
        entries = _ENTRY_END.join(
            [f"{seq}{_FIELD_END}{method}{_FIELD_END}{message}" for _, seq, method, message, _ in run]
        )
        if entries.count(_ENTRY_END) != len(run) - 1 or entries.count(_FIELD_END) != 2 * len(run):
            # A message that is not JSON text (a raw separator inside): stored with it escaped.
            entries = _ENTRY_END.join(
                [
                    f"{seq}{_FIELD_END}{method.translate(_UNSAFE)}{_FIELD_END}{message.translate(_UNSAFE)}"
                    for _, seq, method, message, _ in run
                ]
            )
        batches.append((run[0][0], run[0][1], run[-1][1], entries, max(row[4] for row in run)))

    for row in rows:
        run = runs.get(row[0])
        if run is not None and (
            row[1] != run[-1][1] + 1 or len(run) >= MAX_BATCH or abs(row[4] - run[0][4]) > BATCH_SPAN_MS
        ):
            close(run)
            run = None
        if run is None:
            runs[row[0]] = [row]
        else:
            run.append(row)
    for run in runs.values():
        close(run)
    return batches


def split_batches(batches: list[str], after_seq: int, before_seq: int, limit: int) -> list[LogEntry]:
    """The entries of stored batches (oldest first) numbered in ``(after_seq, before_seq)``, at
    most ``limit``, each number once."""
    out: list[LogEntry] = []
    last = after_seq
    for entries in batches:
        for entry in entries.split(_ENTRY_END):
            seq_text, method, message = entry.split(_FIELD_END, 2)
            seq = int(seq_text)
            if seq <= last:
                continue
            if seq >= before_seq or len(out) >= limit:
                return out
            out.append((seq, method, message))
            last = seq
    return out


async def _prune_to_newest(conn: AsyncConnection[Any], thread_id: str, keep: int, floor: int) -> int | None:
    """Delete all but the thread's ``keep`` newest notifications; the number pruned up to (None
    when nothing was). The batch holding the boundary is cut there."""
    cursor = await conn.execute(
        "SELECT first_seq, last_seq, total FROM ("
        " SELECT first_seq, last_seq, sum(last_seq - first_seq + 1) OVER (ORDER BY first_seq DESC) AS total"
        " FROM notification_batches WHERE thread_id = %s) t "
        "WHERE total >= %s ORDER BY first_seq DESC LIMIT 1",
        (thread_id, keep),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    first_seq, last_seq, total = (int(value) for value in row)
    # This batch holds the keep-th newest notification; the ones above it hold total - size.
    cutoff = last_seq - keep + total - (last_seq - first_seq + 1)
    if cutoff <= floor:
        return None
    if first_seq <= cutoff < last_seq:
        cursor = await conn.execute(
            "DELETE FROM notification_batches WHERE thread_id = %s AND first_seq = %s RETURNING entries, created_at_ms",
            (thread_id, first_seq),
        )
        cut = await cursor.fetchone()
        if cut is not None:
            entries, created_at_ms = cut
            kept = entries.split(_ENTRY_END)[cutoff - first_seq + 1 :]
            await conn.execute(
                "INSERT INTO notification_batches (thread_id, first_seq, last_seq, entries, created_at_ms) "
                "VALUES (%s, %s, %s, %s, %s)",
                (thread_id, cutoff + 1, last_seq, _ENTRY_END.join(kept), created_at_ms),
            )
    await conn.execute("DELETE FROM notification_batches WHERE thread_id = %s AND last_seq <= %s", (thread_id, cutoff))
    await conn.execute("UPDATE thread_seq SET pruned_upto = %s WHERE thread_id = %s", (cutoff, thread_id))
    return cutoff
