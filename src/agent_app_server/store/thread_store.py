"""``SqliteThreadStore``: threads and their append-only event logs in one SQLite (WAL) file.

Owns: the connection, its single worker thread, transactions, thread listing with keyset
pagination, and pages of a thread's turns and items (served from the history index that every
event write keeps in step, see ``_history.py``). The interface and the caller-side conversions are
``base.ThreadStore``'s. Imports only the standard library (and this package): the store is
protocol-agnostic and keeps plain fields and JSON blobs.

Every sqlite call runs on one dedicated worker thread that owns the only connection, so the event
loop never blocks on disk and the connection is never used from two threads at once. Arguments are
converted (JSON-encoded) on the caller's side before the hand-off, so the stored value is a snapshot
taken at call time and encoding errors surface in the caller. Every public write is a single SQLite
transaction; a cancelled caller does not cancel a write that already reached the worker.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from . import _attachments, _history, _search, _sections
from ._attachments import Attachment, AttachmentOwner
from ._history import ItemsView
from ._schema import ensure_schema
from ._search import MatchedItem
from ._sections import SECTION_ID_SQL, SECTION_POSITION_SQL, SectionRecord
from .base import FIELDS, Dialect, EventRow, ThreadStore, clamp_limit, dumps, list_sql, record_from_row, title_cf
from .records import (
    EventRecord,
    HistoryAnchor,
    HistoryItem,
    HistoryPage,
    HistoryTurn,
    StoreClosed,
    ThreadNotFound,
    ThreadPage,
    ThreadQuery,
    ThreadRecord,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: How long a write waits for another process holding the database lock before failing.
BUSY_TIMEOUT_MS = 5000

_SELECT_THREAD = f"SELECT {', '.join(FIELDS)} FROM threads"
_INSERT_THREAD = (
    f"INSERT INTO threads ({', '.join(FIELDS)}, title_cf) VALUES ({', '.join('?' * (len(FIELDS) + 1))}) "
    # An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the ON DELETE
    # CASCADE would take the thread's event log with it.
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in (*FIELDS[1:], 'title_cf'))}"
)
# A JSON array bound as one parameter keeps IN lists of any length under SQLite's variable limit
# and keeps the statement text (and so the statement cache entry) the same for every list size.
_IN_JSON = "IN (SELECT value FROM json_each(?))"
_DIALECT = Dialect(
    param="?",
    in_list=lambda column: f"{column} {_IN_JSON}",
    in_value=dumps,
    contains=lambda column, param: f"instr({column}, {param}) > 0",
    section_id_sql=SECTION_ID_SQL,
    section_position_sql=SECTION_POSITION_SQL,
)


class SqliteThreadStore(ThreadStore):
    """The embedded store: ``await SqliteThreadStore.open(path)`` (or ``ThreadStore.open(path)``)."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self.path = path
        self.location = str(path)
        self._executor = executor
        self._conn: sqlite3.Connection | None = conn
        self.sections: dict[str, SectionRecord] = {}

    @classmethod
    async def open(cls, location: Path | str) -> SqliteThreadStore:
        """Open (creating the file, its parent directories and the schema if needed).

        Raises ``SchemaVersionError`` for a file written by a newer store.
        """
        path = Path(location)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-app-server-store")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
            sections = await asyncio.get_running_loop().run_in_executor(executor, _sections.load, conn)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        store = cls(path, executor, conn)
        store.sections.update((section.id, section) for section in sections)
        return store

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, conn)
        finally:
            self._executor.shutdown(wait=False)

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return await self._run(_get_thread, thread_id)

    async def delete_thread(self, thread_id: str) -> bool:
        return await self._run(_delete_thread, thread_id)

    async def last_seq(self, thread_id: str) -> int:
        return await self._run(_last_seq, thread_id)

    async def find_turn(self, thread_id: str, turn_id: str) -> int | None:
        return await self._run(_history.find_turn, thread_id, turn_id)

    async def find_item(self, thread_id: str, turn_id: str, item_id: str) -> int | None:
        return await self._run(_history.find_item, thread_id, turn_id, item_id)

    async def history_heads(self, thread_id: str) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        return await self._run(_history.heads, thread_id)

    async def set_section_positions(self, positions: dict[str, float]) -> None:
        await self._run(_sections.set_positions, positions)

    async def section_positions(self, section_id: str) -> dict[str, float]:
        return await self._run(_sections.positions, section_id)

    async def add_attachment(self, thread_id: str, candidate: Attachment) -> tuple[Attachment, bool]:
        return await self._run(_attachments.add, thread_id, candidate)

    async def remove_attachment(self, thread_id: str, attachment_type: str, identity_key: str) -> str | None:
        return await self._run(_attachments.remove, thread_id, attachment_type, identity_key)

    # -- primitives ----------------------------------------------------------------------------

    async def _put_thread(self, params: tuple[Any, ...]) -> None:
        await self._run(_put_thread, params)

    async def _get_threads(self, thread_ids: list[str]) -> dict[str, ThreadRecord]:
        return await self._run(_get_threads, dumps(thread_ids))

    async def _update_thread(self, thread_id: str, columns: dict[str, Any]) -> bool:
        return await self._run(_update_thread, thread_id, columns)

    async def _fetch_threads(self, query: ThreadQuery) -> list[ThreadRecord]:
        sql, params = list_sql(query, _DIALECT)
        return await self._run(_fetch_threads, sql, params)

    async def search_threads(self, query: ThreadQuery) -> tuple[ThreadPage, dict[str, str]]:
        if not query.content_term:
            raise ValueError("search_threads needs a content_term")
        build = functools.partial(list_sql, query, _DIALECT)
        build(("1", []))  # a bad cursor raises here, on the caller's side
        rows, snippets = await self._run(_search.search_threads, build, query.content_term)
        return self.page(query, [record_from_row(row) for row in rows]), snippets

    async def thread_matches(self, thread_id: str, term: str, *, from_seq: int, limit: int) -> list[MatchedItem]:
        return await self._run(_search.thread_matches, thread_id, term, from_seq, clamp_limit(limit))

    async def _append_events(
        self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]
    ) -> list[int]:
        return await self._run(_append_events, thread_id, rows, now_ms, columns)

    async def _read_events(
        self, thread_id: str, after_seq: int, limit: int | None, kinds: list[str] | None
    ) -> list[EventRecord]:
        kinds_json = dumps(kinds) if kinds else None
        return await self._run(_read_events, thread_id, after_seq, -1 if limit is None else limit, kinds_json)

    async def _replace_events(self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]) -> None:
        await self._run(_replace_events, thread_id, rows, now_ms, columns)

    async def _list_turns(
        self,
        thread_id: str,
        anchor: HistoryAnchor | None,
        descending: bool,
        limit: int,
        items: ItemsView,
        summary: tuple[str, str],
    ) -> HistoryPage[HistoryTurn]:
        return await self._run(_history.list_turns, thread_id, anchor, descending, limit, items, summary)

    async def _list_items(
        self, thread_id: str, turn_id: str | None, anchor: HistoryAnchor | None, descending: bool, limit: int
    ) -> HistoryPage[HistoryItem]:
        return await self._run(_history.list_items, thread_id, turn_id, anchor, descending, limit)

    async def _put_section(self, section: SectionRecord) -> None:
        await self._run(_sections.put, section)

    async def _delete_section(self, section_id: str) -> list[str]:
        return await self._run(_sections.delete, section_id)

    async def _list_attachments(self, thread_id: str, cursor: str | None, limit: int) -> tuple[list[Attachment], bool]:
        return await self._run(_attachments.page, thread_id, cursor, limit)

    async def _attachment_owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int
    ) -> tuple[list[AttachmentOwner], bool]:
        return await self._run(_attachments.owners, attachment_type, identity_key, archived, cursor, limit)

    async def _run(
        self,
        fn: Callable[Concatenate[sqlite3.Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        conn = self._conn
        if conn is None:
            raise StoreClosed("the thread store is closed")
        call = functools.partial(fn, conn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


# -- worker-side functions (run on the store thread) ---------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the sqlite3 module must not open transactions behind our back; every
    # write below opens its own with BEGIN IMMEDIATE (or is a single autocommitted statement).
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            conn.execute("SELECT json_valid('[]')")
        except sqlite3.OperationalError as exc:
            raise RuntimeError(f"SQLite {sqlite3.sqlite_version} lacks the JSON functions the store needs") from exc
        ensure_schema(conn, str(path))
    except BaseException:
        conn.close()
        raise
    return conn


def _close(conn: sqlite3.Connection) -> None:
    try:
        # Lets SQLite refresh planner statistics it found missing during this session; cheap.
        conn.execute("PRAGMA optimize")
    finally:
        conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so a read-then-write (seq allocation) cannot race
    # another process's writer and fail with SQLITE_BUSY halfway through.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _put_thread(conn: sqlite3.Connection, params: tuple[Any, ...]) -> None:
    conn.execute(_INSERT_THREAD, params)


def _get_thread(conn: sqlite3.Connection, thread_id: str) -> ThreadRecord | None:
    row = conn.execute(f"{_SELECT_THREAD} WHERE id = ?", (thread_id,)).fetchone()
    return None if row is None else record_from_row(row)


def _get_threads(conn: sqlite3.Connection, ids_json: str) -> dict[str, ThreadRecord]:
    rows = conn.execute(f"{_SELECT_THREAD} WHERE id {_IN_JSON}", (ids_json,)).fetchall()
    return {record.id: record for record in map(record_from_row, rows)}


def _fetch_threads(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[ThreadRecord]:
    return [record_from_row(row) for row in conn.execute(sql, params)]


def _thread_exists(conn: sqlite3.Connection, thread_id: str) -> bool:
    return conn.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone() is not None


def _apply_updates(conn: sqlite3.Connection, thread_id: str, columns: dict[str, Any]) -> bool:
    """Within a transaction: set ``columns`` on the thread; False if it does not exist."""
    if not columns:
        return _thread_exists(conn, thread_id)
    columns = dict(columns)
    if "name" in columns or "preview" in columns:
        current = conn.execute("SELECT name, preview FROM threads WHERE id = ?", (thread_id,)).fetchone()
        if current is None:
            return False
        name = columns.get("name", current[0])
        preview = columns.get("preview", current[1])
        columns["title_cf"] = title_cf(name, preview)
    assignments = ", ".join(f"{column} = ?" for column in columns)
    cursor = conn.execute(f"UPDATE threads SET {assignments} WHERE id = ?", (*columns.values(), thread_id))
    return cursor.rowcount > 0


def _update_thread(conn: sqlite3.Connection, thread_id: str, columns: dict[str, Any]) -> bool:
    with _transaction(conn):
        return _apply_updates(conn, thread_id, columns)


def _delete_thread(conn: sqlite3.Connection, thread_id: str) -> bool:
    with _transaction(conn):
        # Explicit rather than relying on the cascade, which a connection without
        # PRAGMA foreign_keys (e.g. an sqlite3 shell) would skip.
        conn.execute("DELETE FROM events WHERE thread_id = ?", (thread_id,))
        _history.clear_index(conn, thread_id)
        _search.clear_index(conn, thread_id)
        _attachments.delete_thread(conn, thread_id)
        return conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,)).rowcount > 0


def _last_seq(conn: sqlite3.Connection, thread_id: str) -> int:
    row = conn.execute("SELECT max(seq) FROM events WHERE thread_id = ?", (thread_id,)).fetchone()
    return 0 if row[0] is None else int(row[0])


def _insert_events(
    conn: sqlite3.Connection, thread_id: str, first_seq: int, rows: list[EventRow], now_ms: int
) -> list[int]:
    seqs = list(range(first_seq, first_seq + len(rows)))
    conn.executemany(
        "INSERT INTO events (thread_id, seq, kind, payload, created_at_ms) VALUES (?, ?, ?, ?, ?)",
        [(thread_id, seq, kind, payload, now_ms) for seq, (kind, payload, _, _) in zip(seqs, rows, strict=True)],
    )
    _history.add_to_index(
        conn,
        thread_id,
        [(seq, entry) for seq, (_, _, entry, _) in zip(seqs, rows, strict=True) if entry is not None],
    )
    _search.add_to_index(
        conn,
        thread_id,
        [(seq, found) for seq, (_, _, _, found) in zip(seqs, rows, strict=True) if found is not None],
    )
    return seqs


def _append_events(
    conn: sqlite3.Connection,
    thread_id: str,
    rows: list[EventRow],
    now_ms: int,
    columns: dict[str, Any],
) -> list[int]:
    with _transaction(conn):
        if not _apply_updates(conn, thread_id, columns):
            raise ThreadNotFound(thread_id)
        return _insert_events(conn, thread_id, _last_seq(conn, thread_id) + 1, rows, now_ms)


def _replace_events(
    conn: sqlite3.Connection,
    thread_id: str,
    rows: list[EventRow],
    now_ms: int,
    columns: dict[str, Any],
) -> None:
    with _transaction(conn):
        if not _apply_updates(conn, thread_id, columns):
            raise ThreadNotFound(thread_id)
        conn.execute("DELETE FROM events WHERE thread_id = ?", (thread_id,))
        _history.clear_index(conn, thread_id)
        _search.clear_index(conn, thread_id)
        _attachments.delete_thread(conn, thread_id)
        _insert_events(conn, thread_id, 1, rows, now_ms)


def _read_events(
    conn: sqlite3.Connection, thread_id: str, after_seq: int, limit: int, kinds_json: str | None
) -> list[EventRecord]:
    sql = "SELECT seq, kind, payload, created_at_ms FROM events WHERE thread_id = ? AND seq > ?"
    params: list[Any] = [thread_id, after_seq]
    if kinds_json is not None:
        sql += f" AND kind {_IN_JSON}"
        params.append(kinds_json)
    sql += " ORDER BY seq LIMIT ?"
    params.append(limit)
    return [
        EventRecord(thread_id=thread_id, seq=seq, kind=kind, payload=json.loads(payload), created_at_ms=ms)
        for seq, kind, payload, ms in conn.execute(sql, params)
    ]
