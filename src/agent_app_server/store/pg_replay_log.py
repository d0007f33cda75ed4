"""``PgNotificationLog``: the notification replay log in the PostgreSQL database the thread store
uses, so a server of a fleet can replay (and follow) what another server sent.

Owns: the ``notifications`` / ``thread_seq`` statements, with the bounds of the SQLite log (per
thread and by age), and the per-thread crash marker: each open log is a writer with its own id,
``thread_seq`` names the last writer of each thread and whether it closed cleanly, so numbering
after a writer died continues past a gap (``ThreadLogInfo.crashed``) while a cleanly closed thread
numbers on densely. Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from .base import (
    DEFAULT_KEEP_PER_THREAD,
    DEFAULT_MAX_AGE_S,
    LoggedNotification,
    LogRow,
    NotificationLog,
    ThreadLogInfo,
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
        if keep_per_thread < 1:
            raise ValueError("keep_per_thread must be at least 1")
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
        columns = list(zip(*rows, strict=True))
        async with self.pool().connection() as conn, conn.transaction():
            # One statement over arrays, not executemany: a batch is thousands of rows, and one
            # round trip (and one plan) for all of them is what keeps a delta stream cheap. The
            # newest message for a number wins, as in the SQLite log (INSERT OR REPLACE).
            await conn.execute(
                "INSERT INTO notifications (thread_id, seq, method, message, created_at_ms) "
                "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::bigint[]) "
                "ON CONFLICT (thread_id, seq) DO UPDATE SET "
                "method = excluded.method, message = excluded.message, created_at_ms = excluded.created_at_ms",
                [list(column) for column in columns],
            )
            cursor = await conn.execute(
                "INSERT INTO thread_seq (thread_id, last_seq, pruned_upto, writer, clean) "
                "SELECT thread_id, last_seq, 0, %s, FALSE "
                "FROM unnest(%s::text[], %s::bigint[]) AS t(thread_id, last_seq) "
                "ON CONFLICT (thread_id) DO UPDATE SET "
                "last_seq = greatest(thread_seq.last_seq, excluded.last_seq), writer = excluded.writer, "
                "clean = FALSE RETURNING thread_id, last_seq, pruned_upto",
                (self.writer, list(lasts), list(lasts.values())),
            )
            counters: list[tuple[str, int, int]] = list(await cursor.fetchall())
            # The signal a fleet's servers follow the thread by (delivered at commit); they read
            # the rows themselves, so a signal lost or merged costs a catch-up, never an event.
            firsts: dict[str, int] = {}
            for thread_id, seq, *_ in rows:
                firsts[thread_id] = min(seq, firsts.get(thread_id, seq))
            for thread_id, last_seq in lasts.items():
                await conn.execute(
                    "SELECT pg_notify(%s, %s)",
                    (EVENTS_CHANNEL, f"{thread_id} {firsts[thread_id]} {last_seq} {self.writer}"),
                )
            for thread_id, last_seq, floor in counters:
                if not needs_pruning(last_seq, floor, keep):
                    continue
                cursor = await conn.execute(
                    "SELECT seq FROM notifications WHERE thread_id = %s ORDER BY seq DESC LIMIT 1 OFFSET %s",
                    (thread_id, keep),
                )
                row = await cursor.fetchone()
                cutoff = int(row[0]) if row is not None else last_seq - keep
                if cutoff <= floor:
                    continue
                await conn.execute("DELETE FROM notifications WHERE thread_id = %s AND seq <= %s", (thread_id, cutoff))
                await conn.execute("UPDATE thread_seq SET pruned_upto = %s WHERE thread_id = %s", (cutoff, thread_id))
                pruned[thread_id] = cutoff
        return pruned

    async def read(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[LoggedNotification]:
        async with self.pool().connection() as conn:
            cursor = await conn.execute(
                "SELECT seq, method, message FROM notifications WHERE thread_id = %s AND seq > %s AND seq < %s "
                "ORDER BY seq LIMIT %s",
                (thread_id, after_seq, before_seq, limit),
            )
            return [LoggedNotification(int(seq), method, message) for seq, method, message in await cursor.fetchall()]

    async def delete_thread(self, thread_id: str) -> None:
        async with self.pool().connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM notifications WHERE thread_id = %s", (thread_id,))
            await conn.execute("DELETE FROM thread_seq WHERE thread_id = %s", (thread_id,))

    async def _prune_older_than(self, cutoff_ms: int) -> dict[str, int]:
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM notifications WHERE created_at_ms < %s RETURNING thread_id, seq", (cutoff_ms,)
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
