"""The audit log: every approval decision the dashboard saw, in SQLite.

Owns: the database file and its one table. Writes and reads run on one worker thread (sqlite3
connections belong to the thread that made them), so the event loop never waits on the disk;
:meth:`AuditLog.record` only queues the row.

Layer: dashboard (the standard library only).
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from pathlib import Path
from typing import Any

from .fleet import AuditEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approval_decisions (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    server TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    decision TEXT NOT NULL,
    decided_by TEXT NOT NULL
)
"""
_COLUMNS = ("at", "server", "thread_id", "turn_id", "item_id", "kind", "subject", "decision", "decided_by")


class AuditLog:
    """Open with :meth:`open`; :meth:`close` waits for queued rows to be written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-audit")
        self._db: sqlite3.Connection | None = None
        self._writes: set[asyncio.Future[None]] = set()

    async def open(self) -> AuditLog:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._open)
        return self

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the audit log {self.path}: {exc} (choose another --audit-db)") from exc

    def record(self, entry: AuditEntry) -> None:
        """Queue one decision (written in order, off the event loop)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._insert, astuple(entry))
        self._writes.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[None]) -> None:
        self._writes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            # A full disk must not stop the dashboard; the decision itself went to the server.
            import logging

            logging.getLogger(__name__).error("writing the audit log failed: %s", future.exception())

    def _insert(self, row: tuple[Any, ...]) -> None:
        assert self._db is not None
        self._db.execute(
            f"INSERT INTO approval_decisions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            row,
        )
        self._db.commit()

    async def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest decisions first."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._recent, limit)

    def _recent(self, limit: int) -> list[dict[str, Any]]:
        assert self._db is not None
        rows = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM approval_decisions ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]

    async def close(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class AuditError(Exception):
    """The audit log cannot be opened (the message says which file and why)."""
