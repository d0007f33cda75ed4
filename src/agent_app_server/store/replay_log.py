"""``SqliteNotificationLog``: the notification replay log (every thread-scoped notification, by
thread and sequence number) in its own SQLite file.

Owns: its own SQLite file (``notifications.sqlite3`` beside the thread store), so that streaming
writes never queue behind, or lock, the thread store, and its schema evolves on its own.
Imports only the standard library.

What is kept (bounded):

* per thread, the newest ``keep_per_thread`` notifications (default 10,000), pruned in batches;
* nothing older than ``max_age_s`` (default 7 days), pruned when the log is opened and hourly;
* per thread, one counter row (last sequence number written, highest pruned) so numbering never
  goes backwards, even after everything was pruned.

A marker records whether the previous process closed the log cleanly; after a crash, the
notifications it sent in its last moments may never have reached the file, so callers continue
numbering past a gap (:attr:`NotificationLog.crashed`) instead of reusing numbers a client saw.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

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
from .records import StoreClosed

_P = ParamSpec("_P")
_T = TypeVar("_T")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000

_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS notifications ("
    " thread_id TEXT NOT NULL, seq INTEGER NOT NULL, method TEXT NOT NULL, message TEXT NOT NULL,"
    " created_at_ms INTEGER NOT NULL, PRIMARY KEY (thread_id, seq)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at_ms)",
    "CREATE TABLE IF NOT EXISTS thread_seq ("
    " thread_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL, pruned_upto INTEGER NOT NULL) WITHOUT ROWID",
)


class SqliteNotificationLog(NotificationLog):
    """The embedded log; one file per server, so :attr:`crashed` is a property of the file."""

    def __init__(
        self,
        path: Path,
        executor: ThreadPoolExecutor,
        conn: sqlite3.Connection,
        *,
        crashed: bool,
        keep_per_thread: int,
        max_age_s: float,
    ) -> None:
        self.path = path
        self.crashed = crashed
        self.keep_per_thread = keep_per_thread
        self.max_age_s = max_age_s
        self._executor = executor
        self._conn: sqlite3.Connection | None = conn

    @classmethod
    async def open(
        cls,
        location: Path | str,
        *,
        keep_per_thread: int = DEFAULT_KEEP_PER_THREAD,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> SqliteNotificationLog:
        checked_keep_per_thread(keep_per_thread)
        path = Path(location)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-app-server-replay")
        loop = asyncio.get_running_loop()
        try:
            conn, crashed = await loop.run_in_executor(executor, _connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        log = cls(path, executor, conn, crashed=crashed, keep_per_thread=keep_per_thread, max_age_s=max_age_s)
        await log.prune_expired()
        return log

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, conn)
        finally:
            self._executor.shutdown(wait=False)

    async def info(self, thread_id: str) -> ThreadLogInfo:
        info = await self._run(_info, thread_id)
        return ThreadLogInfo(info.last_seq, info.pruned_upto, crashed=self.crashed)

    async def read(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[LoggedNotification]:
        return await self._run(_read, thread_id, after_seq, before_seq, limit)

    async def delete_thread(self, thread_id: str) -> None:
        await self._run(_delete_thread, thread_id)

    async def _append(self, rows: list[LogRow]) -> dict[str, int]:
        return await self._run(_append, rows, self.keep_per_thread)

    async def _prune_older_than(self, cutoff_ms: int) -> dict[str, int]:
        return await self._run(_prune_older_than, cutoff_ms)

    async def _run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        conn = self._conn
        if conn is None:
            raise StoreClosed("the notification log is closed")
        call = functools.partial(fn, conn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


# -- worker-thread side --------------------------------------------------------------------------


def _connect(path: Path) -> tuple[sqlite3.Connection, bool]:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _DDL:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the notification log at {path} has schema version {row[0]}, newer than this "
                    f"agent-app-server understands ({SCHEMA_VERSION}); upgrade agent-app-server or delete the file"
                )
            clean = conn.execute("SELECT value FROM meta WHERE key = 'clean_shutdown'").fetchone()
            crashed = clean is not None and clean[0] != "1"
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("schema_version", str(SCHEMA_VERSION)), ("clean_shutdown", "0")],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn, crashed


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'clean_shutdown'")
    finally:
        conn.close()


def _info(conn: sqlite3.Connection, thread_id: str) -> ThreadLogInfo:
    row = conn.execute("SELECT last_seq, pruned_upto FROM thread_seq WHERE thread_id = ?", (thread_id,)).fetchone()
    return ThreadLogInfo() if row is None else ThreadLogInfo(int(row[0]), int(row[1]))


def _append(conn: sqlite3.Connection, rows: list[LogRow], keep: int) -> dict[str, int]:
    last = last_seqs(rows)
    pruned: dict[str, int] = {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        # OR REPLACE: a number is written twice only if a caller lost track of the counter; the
        # newest message for a number is the one clients may have seen.
        conn.executemany(
            "INSERT OR REPLACE INTO notifications (thread_id, seq, method, message, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO thread_seq (thread_id, last_seq, pruned_upto) VALUES (?, ?, 0) "
            "ON CONFLICT (thread_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
            list(last.items()),
        )
        for thread_id, last_seq in last.items():
            floor = conn.execute("SELECT pruned_upto FROM thread_seq WHERE thread_id = ?", (thread_id,)).fetchone()[0]
            if not needs_pruning(last_seq, floor, keep):
                continue
            row = conn.execute(
                "SELECT seq FROM notifications WHERE thread_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
                (thread_id, keep),
            ).fetchone()
            cutoff = int(row[0]) if row is not None else last_seq - keep
            if cutoff <= floor:
                continue
            conn.execute("DELETE FROM notifications WHERE thread_id = ? AND seq <= ?", (thread_id, cutoff))
            conn.execute("UPDATE thread_seq SET pruned_upto = ? WHERE thread_id = ?", (cutoff, thread_id))
            pruned[thread_id] = cutoff
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return pruned


def _read(
    conn: sqlite3.Connection, thread_id: str, after_seq: int, before_seq: int, limit: int
) -> list[LoggedNotification]:
    return [
        LoggedNotification(int(seq), method, message)
        for seq, method, message in conn.execute(
            "SELECT seq, method, message FROM notifications WHERE thread_id = ? AND seq > ? AND seq < ? "
            "ORDER BY seq LIMIT ?",
            (thread_id, after_seq, before_seq, limit),
        )
    ]


def _delete_thread(conn: sqlite3.Connection, thread_id: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM notifications WHERE thread_id = ?", (thread_id,))
        conn.execute("DELETE FROM thread_seq WHERE thread_id = ?", (thread_id,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _prune_older_than(conn: sqlite3.Connection, cutoff_ms: int) -> dict[str, int]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        expired = conn.execute(
            "SELECT thread_id, max(seq) FROM notifications WHERE created_at_ms < ? GROUP BY thread_id", (cutoff_ms,)
        ).fetchall()
        if expired:
            conn.execute("DELETE FROM notifications WHERE created_at_ms < ?", (cutoff_ms,))
            conn.executemany(
                "UPDATE thread_seq SET pruned_upto = max(pruned_upto, ?) WHERE thread_id = ?",
                [(int(seq), thread_id) for thread_id, seq in expired],
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return {thread_id: int(seq) for thread_id, seq in expired}
