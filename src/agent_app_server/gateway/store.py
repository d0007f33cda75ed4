"""The gateway's SQLite database: the audit log and the escalations in flight.

Owns: the schema (documented in docs/approval-gateway.md, which readers such as a dashboard
rely on), every read and write of it, and keeping them off the event loop: one worker thread owns
the connection, and every call is a coroutine that waits for it.
Layer: gateway (the standard library only).

An escalation is *live* while its request may still be answered: ``open`` (waiting for the
change-management decision), or decided (``approved``, ``rejected``, ``timeout``) but not yet
delivered; it ends ``answered`` (the decision reached the server), ``withdrawn`` (another client
answered first) or ``failed`` (the webhook could not be reached). At most one live escalation per
request fingerprint: a request asked again maps to it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LIVE_STATES = ("open", "approved", "rejected", "timeout")
DECIDED_STATES = ("approved", "rejected", "timeout")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    server TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    turn_id TEXT,
    item_id TEXT,
    method TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    rule TEXT NOT NULL,
    action TEXT NOT NULL,
    decision TEXT,
    answered_by TEXT,
    escalation_id TEXT,
    ticket TEXT,
    latency_ms REAL,
    note TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS escalations (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    server TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    turn_id TEXT,
    item_id TEXT,
    method TEXT NOT NULL,
    params TEXT NOT NULL,
    summary TEXT NOT NULL,
    rule TEXT NOT NULL,
    approve_as TEXT NOT NULL,
    on_timeout TEXT NOT NULL,
    ticket TEXT,
    status_url TEXT,
    state TEXT NOT NULL,
    decided_by TEXT,
    created_at REAL NOT NULL,
    deadline REAL NOT NULL,
    decided_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS escalations_live ON escalations (fingerprint)
    WHERE state IN ('open', 'approved', 'rejected', 'timeout');
"""

AUDIT_COLUMNS = (
    "id",
    "at",
    "server",
    "thread_id",
    "turn_id",
    "item_id",
    "method",
    "kind",
    "summary",
    "rule",
    "action",
    "decision",
    "answered_by",
    "escalation_id",
    "ticket",
    "latency_ms",
    "note",
    "dry_run",
)


class GatewayStore:
    """The database at ``path`` (created with its tables if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str | Path) -> GatewayStore:
        store = cls(Path(path))
        try:
            await store._run(store._connect)
        except BaseException:
            store._executor.shutdown(wait=False)
            raise
        return store

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL: every committed row survives a crash of the gateway; only a power
        # loss may take the last commits (an fsync per decision would cap the decision rate).
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(close)
        self._executor.shutdown(wait=True)

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "the gateway store is closed"
        return self._db

    # ------------------------------------------------------------------ audit

    async def audit(self, **row: Any) -> int:
        """Record a request and what became of it so far; returns the row's id."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)

        def insert() -> int:
            cursor = self.db.execute(f"INSERT INTO audit ({columns}) VALUES ({marks})", tuple(row.values()))
            return int(cursor.lastrowid or 0)

        return await self._run(insert)

    async def audit_update(self, row_id: int, **fields: Any) -> None:
        """Complete an audit row (the outcome of an escalation, or of a request left to people)."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        await self._run(
            lambda: self.db.execute(f"UPDATE audit SET {assignments} WHERE id = ?", (*fields.values(), row_id))
        )

    async def audit_rows(self, since: float | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Audit rows in the order the requests arrived, from ``since`` (Unix seconds) on."""

        def query() -> list[dict[str, Any]]:
            sql = "SELECT * FROM audit WHERE at >= ? ORDER BY at, id"
            args: tuple[Any, ...] = (since or 0.0,)
            if limit is not None:
                sql += " LIMIT ?"
                args += (limit,)
            return [dict(row) for row in self.db.execute(sql, args)]

        return await self._run(query)

    # ------------------------------------------------------------------ escalations

    async def live_escalation(self, fingerprint: str) -> dict[str, Any] | None:
        marks = ", ".join("?" for _ in LIVE_STATES)

        def query() -> dict[str, Any] | None:
            row = self.db.execute(
                f"SELECT * FROM escalations WHERE fingerprint = ? AND state IN ({marks})", (fingerprint, *LIVE_STATES)
            ).fetchone()
            return _escalation(row)

        return await self._run(query)

    async def live_escalations(self) -> list[dict[str, Any]]:
        marks = ", ".join("?" for _ in LIVE_STATES)

        def query() -> list[dict[str, Any]]:
            rows = self.db.execute(
                f"SELECT * FROM escalations WHERE state IN ({marks}) ORDER BY created_at", LIVE_STATES
            )
            return [e for e in (_escalation(row) for row in rows) if e is not None]

        return await self._run(query)

    async def escalation(self, escalation_id: str) -> dict[str, Any] | None:
        return await self._run(
            lambda: _escalation(self.db.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone())
        )

    async def create_escalation(self, **row: Any) -> None:
        row = {**row, "params": json.dumps(row["params"], sort_keys=True)}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        await self._run(
            lambda: self.db.execute(f"INSERT INTO escalations ({columns}) VALUES ({marks})", tuple(row.values()))
        )

    async def update_escalation(self, escalation_id: str, *, only_from: tuple[str, ...] = (), **fields: Any) -> bool:
        """Change an escalation; with ``only_from``, only while its state is one of those (the
        first of two racing decisions wins). Returns whether it changed."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        sql = f"UPDATE escalations SET {assignments} WHERE id = ?"
        args: tuple[Any, ...] = (*fields.values(), escalation_id)
        if only_from:
            sql += f" AND state IN ({', '.join('?' for _ in only_from)})"
            args += only_from

        def update() -> bool:
            return self.db.execute(sql, args).rowcount > 0

        return await self._run(update)


def _escalation(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    found = dict(row)
    found["params"] = json.loads(found["params"])
    return found


def now() -> float:
    return time.time()
