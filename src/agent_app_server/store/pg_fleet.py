"""``FleetStore``: what servers sharing one PostgreSQL database tell each other through it.

Owns: the fleet's tables and statements — thread leases (which server runs a turn of which
thread, renewed by heartbeat, expiring with the database's clock so no two servers' clocks need
agree), commands sent to a lease holder (interrupt, steer) and their results, server requests
(approvals) shared by every server following a thread, with the first answer winning in one
``UPDATE``, and the ``LISTEN`` connection that carries the signals (``NOTIFY`` on commit; the
data itself is always read from the tables, so a lost or merged signal loses nothing).
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from .pg_schema import migrate, open_pool, redact

#: NOTIFY channels. Payloads: events ``"<thread id> <first seq> <last seq> <writer>"`` (sent by
#: ``PgNotificationLog``), commands/results/requests/leases: a row id or a thread id.
EVENTS_CHANNEL = "aas_events"
COMMANDS_CHANNEL = "aas_commands"
RESULTS_CHANNEL = "aas_results"
REQUESTS_CHANNEL = "aas_requests"
#: A lease released (payload: the thread id): a server waiting to take the thread over retries.
LEASES_CHANNEL = "aas_leases"
CHANNELS = (EVENTS_CHANNEL, COMMANDS_CHANNEL, RESULTS_CHANNEL, REQUESTS_CHANNEL, LEASES_CHANNEL)

FLEET_VERSION = 1
_FLEET_MIGRATIONS: dict[int, str] = {
    0: """
CREATE TABLE fleet_leases (
    thread_id TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE fleet_commands (
    id BIGSERIAL PRIMARY KEY,
    owner TEXT NOT NULL,
    sender TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    result TEXT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX fleet_commands_owner ON fleet_commands (owner) WHERE NOT done;
CREATE TABLE fleet_requests (
    id BIGSERIAL PRIMARY KEY,
    thread_id TEXT COLLATE "C" NOT NULL,
    owner TEXT NOT NULL,
    method TEXT NOT NULL,
    params TEXT NOT NULL,
    answered BOOLEAN NOT NULL DEFAULT FALSE,
    answer TEXT,
    error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX fleet_requests_open ON fleet_requests (thread_id) WHERE NOT answered;
"""
}


class LeaseHeld(Exception):
    """Another live server holds the thread's lease."""

    def __init__(self, thread_id: str, owner: str) -> None:
        super().__init__(f"thread {thread_id} is running a turn on another server ({owner})")
        self.thread_id = thread_id
        self.owner = owner


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    sender: str
    thread_id: str
    kind: str
    params: Any


@dataclass(frozen=True, slots=True)
class SharedRequest:
    id: int
    thread_id: str
    owner: str
    method: str
    params: Any
    answered: bool
    #: The JSON-RPC result, or the error object, once answered.
    answer: Any = None
    error: Any = None


@dataclass(frozen=True, slots=True)
class Signal:
    channel: str
    payload: str


class FleetStore:
    """Open with ``await FleetStore.open(url, lease_s=...)``; ``server_id`` names this server."""

    def __init__(self, url: str, pool: AsyncConnectionPool, lease_s: float, server_id: str) -> None:
        self.url = url
        self.lease_s = lease_s
        self.server_id = server_id
        self._pool: AsyncConnectionPool | None = pool

    @classmethod
    async def open(cls, url: str, *, lease_s: float, server_id: str | None = None) -> FleetStore:
        pool = await open_pool(url, max_size=4)
        try:
            async with pool.connection() as conn:
                await migrate(conn, redact(url), "fleet_version", FLEET_VERSION, _FLEET_MIGRATIONS, "fleet tables")
        except BaseException:
            await pool.close()
            raise
        return cls(url, pool, lease_s, server_id or uuid.uuid4().hex)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            async with pool.connection() as conn:
                await conn.execute("DELETE FROM fleet_leases WHERE owner = %s", (self.server_id,))
        finally:
            await pool.close()

    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise RuntimeError("the fleet store is closed")
        return self._pool

    async def _rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        async with self.pool().connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall() if cursor.description is not None else []

    # -- leases ---------------------------------------------------------------------------------

    async def acquire(self, thread_id: str) -> None:
        """Hold the thread's lease (renewing it if already ours); raises :class:`LeaseHeld` while
        another server's lease on it has not expired. Atomic: of two servers racing, one wins."""
        rows = await self._rows(
            "INSERT INTO fleet_leases (thread_id, owner, expires_at) "
            "VALUES (%s, %s, clock_timestamp() + make_interval(secs => %s)) "
            "ON CONFLICT (thread_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
            "WHERE fleet_leases.owner = excluded.owner OR fleet_leases.expires_at < clock_timestamp() "
            "RETURNING owner",
            (thread_id, self.server_id, self.lease_s),
        )
        if not rows:
            holder = await self.holder(thread_id)
            raise LeaseHeld(thread_id, holder or "unknown")

    async def release(self, thread_id: str) -> None:
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "DELETE FROM fleet_leases WHERE thread_id = %s AND owner = %s RETURNING thread_id",
                (thread_id, self.server_id),
            )
            if await cursor.fetchone() is not None:
                await conn.execute("SELECT pg_notify(%s, %s)", (LEASES_CHANNEL, thread_id))

    async def holder(self, thread_id: str) -> str | None:
        """The server whose unexpired lease covers the thread, if any (this one included)."""
        rows = await self._rows(
            "SELECT owner FROM fleet_leases WHERE thread_id = %s AND expires_at >= clock_timestamp()", (thread_id,)
        )
        return str(rows[0][0]) if rows else None

    async def renew(self) -> set[str]:
        """Extend every lease of this server; the threads still held."""
        rows = await self._rows(
            "UPDATE fleet_leases SET expires_at = clock_timestamp() + make_interval(secs => %s) "
            "WHERE owner = %s RETURNING thread_id",
            (self.lease_s, self.server_id),
        )
        return {str(row[0]) for row in rows}

    async def take_expired(self) -> list[tuple[str, str]]:
        """Remove expired leases of other servers, each taken by exactly one caller: (thread, owner)."""
        rows = await self._rows(
            "DELETE FROM fleet_leases WHERE expires_at < clock_timestamp() AND owner <> %s RETURNING thread_id, owner",
            (self.server_id,),
        )
        return [(str(thread_id), str(owner)) for thread_id, owner in rows]

    # -- commands to a lease holder ---------------------------------------------------------------

    async def send_command(self, owner: str, thread_id: str, kind: str, params: Any) -> int:
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO fleet_commands (owner, sender, thread_id, kind, params) VALUES (%s, %s, %s, %s, %s) "
                "RETURNING id",
                (owner, self.server_id, thread_id, kind, json.dumps(params)),
            )
            row = await cursor.fetchone()
            assert row is not None
            await conn.execute("SELECT pg_notify(%s, %s)", (COMMANDS_CHANNEL, owner))
        return int(row[0])

    async def take_commands(self) -> list[Command]:
        """Commands sent to this server and not yet answered, oldest first."""
        rows = await self._rows(
            "SELECT id, sender, thread_id, kind, params FROM fleet_commands WHERE owner = %s AND NOT done ORDER BY id",
            (self.server_id,),
        )
        return [Command(int(i), s, t, k, json.loads(p)) for i, s, t, k, p in rows]

    async def answer_command(self, command: Command, result: Any = None, error: str | None = None) -> None:
        async with self.pool().connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE fleet_commands SET done = TRUE, result = %s, error = %s WHERE id = %s",
                (json.dumps(result), error, command.id),
            )
            await conn.execute("SELECT pg_notify(%s, %s)", (RESULTS_CHANNEL, str(command.id)))

    async def command_result(self, command_id: int) -> tuple[bool, Any, str | None]:
        """(done, result, error) of a command this server sent; the row goes once read done."""
        rows = await self._rows("SELECT done, result, error FROM fleet_commands WHERE id = %s", (command_id,))
        if not rows or not rows[0][0]:
            return False, None, None
        await self._rows("DELETE FROM fleet_commands WHERE id = %s", (command_id,))
        _, result, error = rows[0]
        return True, json.loads(result) if result is not None else None, error

    async def drop_command(self, command_id: int) -> None:
        await self._rows("DELETE FROM fleet_commands WHERE id = %s", (command_id,))

    # -- shared server requests ---------------------------------------------------------------------

    async def share_request(self, thread_id: str, method: str, params: Any) -> int:
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO fleet_requests (thread_id, owner, method, params) VALUES (%s, %s, %s, %s) RETURNING id",
                (thread_id, self.server_id, method, json.dumps(params)),
            )
            row = await cursor.fetchone()
            assert row is not None
            await conn.execute("SELECT pg_notify(%s, %s)", (REQUESTS_CHANNEL, thread_id))
        return int(row[0])

    async def answer_request(self, request_id: int, answer: Any = None, error: Any = None) -> bool:
        """Record the answer unless one was recorded first; True when this one won."""
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "UPDATE fleet_requests SET answered = TRUE, answer = %s, error = %s WHERE id = %s AND NOT answered "
                "RETURNING thread_id",
                (json.dumps(answer), None if error is None else json.dumps(error), request_id),
            )
            row = await cursor.fetchone()
            if row is not None:
                await conn.execute("SELECT pg_notify(%s, %s)", (REQUESTS_CHANNEL, row[0]))
        return row is not None

    async def requests(self, thread_id: str) -> list[SharedRequest]:
        """The thread's shared requests: open ones, and answered ones not yet cleaned up."""
        rows = await self._rows(
            "SELECT id, thread_id, owner, method, params, answered, answer, error FROM fleet_requests "
            "WHERE thread_id = %s ORDER BY id",
            (thread_id,),
        )
        return [
            SharedRequest(
                int(i), t, o, m, json.loads(p), bool(done), json.loads(a) if a else None, json.loads(e) if e else None
            )
            for i, t, o, m, p, done, a, e in rows
        ]

    async def forget_request(self, request_id: int, thread_id: str) -> None:
        """The request is over (answered, or its turn ended): followers withdraw it."""
        async with self.pool().connection() as conn, conn.transaction():
            await conn.execute("DELETE FROM fleet_requests WHERE id = %s", (request_id,))
            await conn.execute("SELECT pg_notify(%s, %s)", (REQUESTS_CHANNEL, thread_id))

    async def open_request_threads(self) -> set[str]:
        rows = await self._rows("SELECT DISTINCT thread_id FROM fleet_requests WHERE NOT answered")
        return {str(row[0]) for row in rows}

    # -- signals ------------------------------------------------------------------------------------

    async def signals(self, ready: asyncio.Event | None = None) -> AsyncIterator[Signal]:
        """Every NOTIFY on the fleet's channels, on a connection of its own (reconnecting after a
        failure; a reconnect is reported as a ``"reconnected"`` signal so the reader catches up)."""
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    for channel in CHANNELS:
                        await conn.execute(f"LISTEN {channel}")
                    if ready is not None:
                        ready.set()
                    if not first:
                        yield Signal("reconnected", "")
                    first = False
                    async for notify in conn.notifies():
                        yield Signal(notify.channel, notify.payload)
            except psycopg.OperationalError:
                await asyncio.sleep(1.0)
