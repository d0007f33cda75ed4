"""``ThreadStore``: threads and their append-only event logs in one SQLite (WAL) file.

Owns: the connection, its single worker thread, transactions, thread listing with keyset
pagination, and pages of a thread's turns and items (served from the history index that every
event write keeps in step, see ``_history.py``). Imports only the standard library (and this
package): the store is protocol-agnostic and keeps plain fields and JSON blobs.

Every sqlite call runs on one dedicated worker thread that owns the only connection, so the event
loop never blocks on disk and the connection is never used from two threads at once. Arguments are
converted (JSON-encoded) on the caller's side before the hand-off, so the stored value is a snapshot
taken at call time and encoding errors surface in the caller. Every public write is a single SQLite
transaction; a cancelled caller does not cancel a write that already reached the worker.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from . import _attachments, _history, _search, _sections
from ._attachments import Attachment, AttachmentOwner
from ._cursor import decode_cursor, decode_position_cursor, encode_cursor, encode_position_cursor
from ._history import IndexEntry, ItemsView, index_entry
from ._schema import ensure_schema
from ._search import MatchedItem, SearchEntry, search_entry
from ._sections import SECTION_ID_SQL, SECTION_POSITION_SQL, SectionRecord
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
MAX_PAGE = 1000

_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ThreadRecord))
_UPDATABLE: frozenset[str] = frozenset(_FIELDS) - {"id"}
_SELECT_THREAD = f"SELECT {', '.join(_FIELDS)} FROM threads"
_INSERT_THREAD = (
    f"INSERT INTO threads ({', '.join(_FIELDS)}, title_cf) VALUES ({', '.join('?' * (len(_FIELDS) + 1))}) "
    # An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the ON DELETE
    # CASCADE would take the thread's event log with it.
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in (*_FIELDS[1:], 'title_cf'))}"
)
_SORT_KEYS = frozenset({"created_at", "updated_at", "section_position"})
# A JSON array bound as one parameter keeps IN lists of any length under SQLite's variable limit
# and keeps the statement text (and so the statement cache entry) the same for every list size.
_IN_JSON = "IN (SELECT value FROM json_each(?))"


class ThreadStore:
    """An open store. Create it with ``await ThreadStore.open(path)`` and ``await close()`` it."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self.path = path
        self._executor = executor
        self._conn: sqlite3.Connection | None = conn
        #: Every stored section by id, kept in step with every section write (a small table that
        #: each thread's wire view reads).
        self.sections: dict[str, SectionRecord] = {}

    @classmethod
    async def open(cls, path: Path) -> ThreadStore:
        """Open (creating the file, its parent directories and the schema if needed).

        Raises ``SchemaVersionError`` for a file written by a newer store.
        """
        path = Path(path)
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
        """Finish queued work, then close the connection. Idempotent."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, _close, conn)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- threads -------------------------------------------------------------------------------

    async def put_thread(self, record: ThreadRecord) -> None:
        """Insert the thread, or overwrite every field of an existing one (its events are kept)."""
        await self._run(_put_thread, _thread_params(record))

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        return await self._run(_get_thread, thread_id)

    async def get_threads(self, thread_ids: list[str]) -> dict[str, ThreadRecord]:
        """The threads that exist among ``thread_ids``, keyed by id (missing ids are left out)."""
        if not thread_ids:
            return {}
        return await self._run(_get_threads, _dumps(list(thread_ids)))

    async def update_thread(self, thread_id: str, **fields: Any) -> bool:
        """Set the given fields; False if there is no such thread. Unknown names raise TypeError."""
        columns = _update_columns(fields)
        return await self._run(_update_thread, thread_id, columns)

    async def delete_thread(self, thread_id: str) -> bool:
        """Remove the thread and its events; False if there was no such thread."""
        return await self._run(_delete_thread, thread_id)

    async def list_threads(self, query: ThreadQuery) -> ThreadPage:
        """One page in (sort value, id) order; raises ``InvalidCursor`` for a cursor that does not parse."""
        if query.content_term:
            raise ValueError("a query with a content_term is a search: use search_threads")
        sql, params = _list_sql(query)
        return self._page(query, await self._run(_fetch_threads, sql, params))

    async def search_threads(self, query: ThreadQuery) -> tuple[ThreadPage, dict[str, str]]:
        """The page of ``list_threads`` for a query with a ``content_term``, and for each of its
        threads the text of its first message containing the term (see ``_search.py``)."""
        if not query.content_term:
            raise ValueError("search_threads needs a content_term")
        build = functools.partial(_list_sql, query)
        build(("1", []))  # a bad cursor raises here, on the caller's side
        rows, snippets = await self._run(_search.search_threads, build, query.content_term)
        return self._page(query, [_record(row) for row in rows]), snippets

    async def thread_matches(self, thread_id: str, term: str, *, from_seq: int, limit: int) -> list[MatchedItem]:
        """The thread's stored messages containing ``term`` (case-insensitive) from position
        ``from_seq`` on, in order, at most ``limit``."""
        return await self._run(_search.thread_matches, thread_id, term, from_seq, _clamp_limit(limit))

    def _page(self, query: ThreadQuery, rows: list[ThreadRecord]) -> ThreadPage:
        limit = _clamp_limit(query.limit)
        records = rows[:limit]
        if not records:
            return ThreadPage(records=[], next_cursor=None, backwards_cursor=None)
        sort_key = query.sort_key

        def cursor_of(record: ThreadRecord) -> str:
            if sort_key == "section_position":
                return encode_position_cursor(float(record.extra[_sections.MEMBERSHIP_KEY]["position"]), record.id)
            return encode_cursor(getattr(record, sort_key), record.id)

        next_cursor = cursor_of(records[-1]) if len(rows) > limit else None
        return ThreadPage(records=records, next_cursor=next_cursor, backwards_cursor=cursor_of(records[0]))

    # -- events --------------------------------------------------------------------------------

    async def append_events(
        self,
        thread_id: str,
        events: list[tuple[str, Any]],
        *,
        thread_updates: dict[str, Any] | None = None,
    ) -> list[int]:
        """Append ``(kind, payload)`` events and apply ``thread_updates`` in one transaction.

        Returns the new events' seqs. Raises ``ThreadNotFound`` if the thread does not exist.
        """
        rows = _event_rows(events)
        columns = _update_columns(thread_updates or {})
        return await self._run(_append_events, thread_id, rows, _now_ms(), columns)

    async def read_events(
        self,
        thread_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        kinds: list[str] | None = None,
    ) -> list[EventRecord]:
        """Events with seq > ``after_seq`` in seq order, at most ``limit``, of ``kinds`` if non-empty."""
        kinds_json = _dumps(list(kinds)) if kinds else None
        sql_limit = -1 if limit is None else max(limit, 0)
        return await self._run(_read_events, thread_id, after_seq, sql_limit, kinds_json)

    async def last_seq(self, thread_id: str) -> int:
        """The thread's highest seq, 0 if it has no events (or does not exist)."""
        return await self._run(_last_seq, thread_id)

    async def replace_events(
        self,
        thread_id: str,
        events: list[tuple[str, Any]],
        *,
        thread_updates: dict[str, Any] | None = None,
    ) -> None:
        """Atomically rewrite the thread's log (seqs restart at 1), with optional thread updates.

        Raises ``ThreadNotFound`` if the thread does not exist.
        """
        rows = _event_rows(events)
        columns = _update_columns(thread_updates or {})
        await self._run(_replace_events, thread_id, rows, _now_ms(), columns)

    # -- history pages -------------------------------------------------------------------------

    async def list_turns(
        self,
        thread_id: str,
        *,
        anchor: HistoryAnchor | None = None,
        descending: bool = False,
        limit: int = 25,
        items: ItemsView = "none",
        summary: tuple[str, str] = ("", ""),
    ) -> HistoryPage[HistoryTurn]:
        """One page of turns from ``anchor`` in the given direction, in O(page) reads.

        ``items="summary"`` gives each turn the first item of type ``summary[0]`` and the last of
        type ``summary[1]``. Raises ``AnchorNotFound`` when the anchor's turn is not at its position.
        """
        return await self._run(_history.list_turns, thread_id, anchor, descending, _clamp_limit(limit), items, summary)

    async def list_items(
        self,
        thread_id: str,
        *,
        turn_id: str | None = None,
        anchor: HistoryAnchor | None = None,
        descending: bool = False,
        limit: int = 25,
    ) -> HistoryPage[HistoryItem]:
        """One page of completed items (of one turn, or of the whole thread) from ``anchor``.

        Raises ``AnchorNotFound`` when the anchor's item is not at its position.
        """
        return await self._run(_history.list_items, thread_id, turn_id, anchor, descending, _clamp_limit(limit))

    async def find_turn(self, thread_id: str, turn_id: str) -> int | None:
        """The position (``turn/started`` seq) of a turn, None if the thread has no such turn."""
        return await self._run(_history.find_turn, thread_id, turn_id)

    async def find_item(self, thread_id: str, turn_id: str, item_id: str) -> int | None:
        """The position of the first item ``item_id`` of turn ``turn_id``, None if there is none."""
        return await self._run(_history.find_item, thread_id, turn_id, item_id)

    async def history_heads(self, thread_id: str) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        """Inclusive anchors at the thread's newest turn and newest item."""
        return await self._run(_history.heads, thread_id)

    # -- sections ------------------------------------------------------------------------------

    async def put_section(self, section: SectionRecord) -> None:
        await self._run(_sections.put, section)
        self.sections[section.id] = section

    async def delete_section(self, section_id: str) -> list[str]:
        """Delete the section and take its stored threads out of it; their ids."""
        members = await self._run(_sections.delete, section_id)
        self.sections.pop(section_id, None)
        return members

    async def set_section_positions(self, positions: dict[str, float]) -> None:
        await self._run(_sections.set_positions, positions)

    async def section_positions(self, section_id: str) -> dict[str, float]:
        """Stored thread id → position within the section."""
        return await self._run(_sections.positions, section_id)

    # -- attachments ---------------------------------------------------------------------------

    async def add_attachment(self, thread_id: str, candidate: Attachment) -> tuple[Attachment, bool]:
        """The thread's attachment with ``candidate``'s identity, stored now if new (the flag)."""
        return await self._run(_attachments.add, thread_id, candidate)

    async def remove_attachment(self, thread_id: str, attachment_type: str, identity_key: str) -> str | None:
        return await self._run(_attachments.remove, thread_id, attachment_type, identity_key)

    async def list_attachments(self, thread_id: str, cursor: str | None, limit: int) -> tuple[list[Attachment], bool]:
        """Raises ``InvalidCursor`` for a cursor that is not an attachment of this thread."""
        return await self._run(_attachments.page, thread_id, cursor, _clamp_limit(limit))

    async def attachment_owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int
    ) -> tuple[list[AttachmentOwner], bool]:
        return await self._run(
            _attachments.owners, attachment_type, identity_key, archived, cursor, _clamp_limit(limit)
        )

    # -- plumbing ------------------------------------------------------------------------------

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


# -- caller-side conversions (run on the event loop) ---------------------------------------------


def _dumps(value: Any) -> str:
    # allow_nan=False: NaN/Infinity are not JSON, and a stored blob must be readable by any tool.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _title_cf(name: str | None, preview: str) -> str:
    return (name or preview).casefold()


def _column_value(name: str, value: Any) -> Any:
    if name in ("source", "extra"):
        return _dumps(value)
    if name == "archived":
        return int(bool(value))
    return value


def _thread_params(record: ThreadRecord) -> tuple[Any, ...]:
    values = [_column_value(name, getattr(record, name)) for name in _FIELDS]
    return (*values, _title_cf(record.name, record.preview))


def _update_columns(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - _UPDATABLE)
    if unknown:
        raise TypeError(f"unknown or read-only thread field(s): {', '.join(unknown)}")
    return {name: _column_value(name, value) for name, value in fields.items()}


#: An event ready for the worker: kind, JSON payload, and what it adds to the history index and
#: to the search index.
_EventRow = tuple[str, str, IndexEntry | None, SearchEntry | None]


def _event_rows(events: Sequence[tuple[str, Any]]) -> list[_EventRow]:
    return [
        (kind, _dumps(payload), index_entry(kind, payload), search_entry(kind, payload)) for kind, payload in events
    ]


def _clamp_limit(limit: int) -> int:
    return min(max(limit, 1), MAX_PAGE)


def _list_sql(query: ThreadQuery, content_clause: tuple[str, list[Any]] | None = None) -> tuple[str, list[Any]]:
    """The SELECT of one page; ``content_clause`` is the full-text condition (and parameters) of
    a search (``_search.py``), which needs the connection to choose."""
    sort_key = query.sort_key
    if sort_key not in _SORT_KEYS:
        raise ValueError(f"unsupported sort key: {sort_key!r}")
    order, after = ("DESC", "<") if query.descending else ("ASC", ">")
    where = ["archived = ?"]
    params: list[Any] = [int(query.archived)]
    if query.section_id is not None:
        where.append(f"{SECTION_ID_SQL} = ?")
        params.append(query.section_id)
    order_by = SECTION_POSITION_SQL if sort_key == "section_position" else sort_key
    if sort_key == "section_position" and query.section_id is None:
        raise ValueError("the section_position sort needs a section_id filter")
    if query.cursor is not None:
        where.append(f"({order_by}, id) {after} (?, ?)")
        decode = decode_position_cursor if sort_key == "section_position" else decode_cursor
        params.extend(decode(query.cursor))
    for column, values in (
        ("model_provider", query.model_providers),
        ("source_kind", query.source_kinds),
        ("cwd", query.cwds),
    ):
        if values:
            where.append(f"{column} {_IN_JSON}")
            params.append(_dumps(list(values)))
    if query.search_term:
        where.append("instr(title_cf, ?) > 0")
        params.append(query.search_term.casefold())
    if content_clause is not None:
        where.append(content_clause[0])
        params.extend(content_clause[1])
    if query.exclude_ids:
        where.append(f"id NOT {_IN_JSON}")
        params.append(_dumps(list(query.exclude_ids)))
    # One row beyond the page tells whether a next page exists without a COUNT.
    params.append(_clamp_limit(query.limit) + 1)
    sql = f"{_SELECT_THREAD} WHERE {' AND '.join(where)} ORDER BY {order_by} {order}, id {order} LIMIT ?"
    return sql, params


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


def _record(row: Sequence[Any]) -> ThreadRecord:
    (
        id_,
        created_at,
        updated_at,
        cwd,
        model_provider,
        source_kind,
        source,
        originator,
        name,
        preview,
        archived,
        archived_at,
        model,
        reasoning_effort,
        cli_version,
        forked_from_id,
        extra,
    ) = row
    return ThreadRecord(
        id=id_,
        created_at=created_at,
        updated_at=updated_at,
        cwd=cwd,
        model_provider=model_provider,
        source_kind=source_kind,
        source=json.loads(source),
        originator=originator,
        name=name,
        preview=preview,
        archived=bool(archived),
        archived_at=archived_at,
        model=model,
        reasoning_effort=reasoning_effort,
        cli_version=cli_version,
        forked_from_id=forked_from_id,
        extra=json.loads(extra),
    )


def _put_thread(conn: sqlite3.Connection, params: tuple[Any, ...]) -> None:
    conn.execute(_INSERT_THREAD, params)


def _get_thread(conn: sqlite3.Connection, thread_id: str) -> ThreadRecord | None:
    row = conn.execute(f"{_SELECT_THREAD} WHERE id = ?", (thread_id,)).fetchone()
    return None if row is None else _record(row)


def _get_threads(conn: sqlite3.Connection, ids_json: str) -> dict[str, ThreadRecord]:
    rows = conn.execute(f"{_SELECT_THREAD} WHERE id {_IN_JSON}", (ids_json,)).fetchall()
    return {record.id: record for record in map(_record, rows)}


def _fetch_threads(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[ThreadRecord]:
    return [_record(row) for row in conn.execute(sql, params)]


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
        columns["title_cf"] = _title_cf(name, preview)
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
    conn: sqlite3.Connection, thread_id: str, first_seq: int, rows: list[_EventRow], now_ms: int
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
    rows: list[_EventRow],
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
    rows: list[_EventRow],
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
