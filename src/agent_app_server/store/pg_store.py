"""``PgThreadStore``: the thread store in a PostgreSQL database that many servers share.

Owns: the PostgreSQL statements behind ``base.ThreadStore``'s primitives, run on an async psycopg
connection pool (the event loop never waits on the database), with the same results as the SQLite
store: the store tests run against both. A thread's row is locked (``FOR UPDATE``) by every write
of its log, so two servers appending to one thread get consecutive seqs, never the same one.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from . import _sections, pg_search
from ._attachments import ATTACHMENT_COLUMNS, Attachment, AttachmentOwner, attachment_from_row
from ._history import (
    ItemRow,
    ItemsView,
    TurnRow,
    assemble_turns,
    bounds,
    index_rows,
    item_of,
    payload_seqs,
)
from ._search import MatchedItem
from ._sections import SectionRecord
from .base import FIELDS, Dialect, EventRow, ThreadStore, clamp_limit, list_sql, record_from_row, title_cf
from .pg_schema import ensure_schema, open_pool, redact
from .records import (
    AnchorNotFound,
    EventRecord,
    HistoryAnchor,
    HistoryItem,
    HistoryPage,
    HistoryTurn,
    InvalidCursor,
    StoreClosed,
    ThreadNotFound,
    ThreadPage,
    ThreadQuery,
    ThreadRecord,
)

SECTION_ID_SQL = "(extra::jsonb #>> '{section,id}')"
SECTION_POSITION_SQL = "((extra::jsonb #>> '{section,position}')::float8)"
_DIALECT = Dialect(
    param="%s",
    in_list=lambda column: f"{column} = ANY(%s)",
    in_value=lambda values: values,
    contains=lambda column, param: f"strpos({column}, {param}) > 0",
    section_id_sql=SECTION_ID_SQL,
    section_position_sql=SECTION_POSITION_SQL,
)
_SELECT_THREAD = f"SELECT {', '.join(FIELDS)} FROM threads"
_INSERT_THREAD = (
    f"INSERT INTO threads ({', '.join(FIELDS)}, title_cf) VALUES ({', '.join(['%s'] * (len(FIELDS) + 1))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in (*FIELDS[1:], 'title_cf'))}"
)


class PgThreadStore(ThreadStore):
    """Open with ``await PgThreadStore.open(url)`` (or ``ThreadStore.open(url)``)."""

    def __init__(self, url: str, pool: AsyncConnectionPool) -> None:
        self.url = url
        self.location = redact(url)
        self._pool: AsyncConnectionPool | None = pool
        self.sections: dict[str, SectionRecord] = {}

    @classmethod
    async def open(cls, location: Any) -> PgThreadStore:
        url = str(location)
        pool = await open_pool(url)
        try:
            async with pool.connection() as conn:
                await ensure_schema(conn, redact(url))
                await pg_search.ensure_search_index(conn, redact(url))
                cursor = await conn.execute(_sections.SELECT_SECTIONS)
                sections = [_sections.section_from_row(row) for row in await cursor.fetchall()]
        except BaseException:
            await pool.close()
            raise
        store = cls(url, pool)
        store.sections.update((section.id, section) for section in sections)
        return store

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreClosed("the thread store is closed")
        return self._pool

    async def _fetchall(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        async with self.pool().connection() as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    async def _fetchone(self, sql: str, params: Any = ()) -> tuple[Any, ...] | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    # -- threads -------------------------------------------------------------------------------

    async def get_thread(self, thread_id: str) -> ThreadRecord | None:
        row = await self._fetchone(f"{_SELECT_THREAD} WHERE id = %s", (thread_id,))
        return None if row is None else record_from_row(row)

    async def _get_threads(self, thread_ids: list[str]) -> dict[str, ThreadRecord]:
        rows = await self._fetchall(f"{_SELECT_THREAD} WHERE id = ANY(%s)", (thread_ids,))
        return {record.id: record for record in map(record_from_row, rows)}

    async def _put_thread(self, params: tuple[Any, ...]) -> None:
        async with self.pool().connection() as conn:
            await conn.execute(_INSERT_THREAD, params)

    async def _update_thread(self, thread_id: str, columns: dict[str, Any]) -> bool:
        async with self.pool().connection() as conn, conn.transaction():
            return await _apply_updates(conn, thread_id, columns)

    async def delete_thread(self, thread_id: str) -> bool:
        async with self.pool().connection() as conn, conn.transaction():
            await _clear_log(conn, thread_id)
            cursor = await conn.execute("DELETE FROM threads WHERE id = %s", (thread_id,))
            return cursor.rowcount > 0

    async def _fetch_threads(self, query: ThreadQuery) -> list[ThreadRecord]:
        sql, params = list_sql(query, _DIALECT)
        return [record_from_row(row) for row in await self._fetchall(sql, params)]

    async def search_threads(self, query: ThreadQuery) -> tuple[ThreadPage, dict[str, str]]:
        if not query.content_term:
            raise ValueError("search_threads needs a content_term")
        term = query.content_term
        list_sql(query, _DIALECT)  # a bad cursor raises here, before a connection is taken

        def build(clause: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
            return list_sql(query, _DIALECT, clause)

        async with self.pool().connection() as conn:
            rows, snippets = await pg_search.search_threads(conn, build, term)
        return self.page(query, [record_from_row(row) for row in rows]), snippets

    async def thread_matches(self, thread_id: str, term: str, *, from_seq: int, limit: int) -> list[MatchedItem]:
        async with self.pool().connection() as conn:
            return await pg_search.thread_matches(conn, thread_id, term, from_seq, clamp_limit(limit))

    # -- events --------------------------------------------------------------------------------

    async def _append_events(
        self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]
    ) -> list[int]:
        async with self.pool().connection() as conn, conn.transaction():
            if not await _apply_updates(conn, thread_id, columns):
                raise ThreadNotFound(thread_id)
            return await _insert_events(conn, thread_id, await _last_seq(conn, thread_id) + 1, rows, now_ms)

    async def _replace_events(self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]) -> None:
        async with self.pool().connection() as conn, conn.transaction():
            if not await _apply_updates(conn, thread_id, columns):
                raise ThreadNotFound(thread_id)
            await _clear_log(conn, thread_id)
            await _insert_events(conn, thread_id, 1, rows, now_ms)

    async def _read_events(
        self, thread_id: str, after_seq: int, limit: int | None, kinds: list[str] | None
    ) -> list[EventRecord]:
        sql = "SELECT seq, kind, payload, created_at_ms FROM events WHERE thread_id = %s AND seq > %s"
        params: list[Any] = [thread_id, after_seq]
        if kinds:
            sql += " AND kind = ANY(%s)"
            params.append(kinds)
        sql += " ORDER BY seq LIMIT %s"
        params.append(limit)  # None: LIMIT NULL, no limit
        return [
            EventRecord(thread_id=thread_id, seq=seq, kind=kind, payload=json.loads(payload), created_at_ms=ms)
            for seq, kind, payload, ms in await self._fetchall(sql, params)
        ]

    async def last_seq(self, thread_id: str) -> int:
        async with self.pool().connection() as conn:
            return await _last_seq(conn, thread_id)

    # -- history pages -------------------------------------------------------------------------

    async def _list_turns(
        self,
        thread_id: str,
        anchor: HistoryAnchor | None,
        descending: bool,
        limit: int,
        items: ItemsView,
        summary: tuple[str, str],
    ) -> HistoryPage[HistoryTurn]:
        async with self.pool().connection() as conn, conn.transaction():
            if anchor is not None:
                found = await _one(
                    conn,
                    "SELECT 1 FROM history_turns WHERE thread_id = %s AND started_seq = %s AND turn_id = %s",
                    (thread_id, anchor.seq, anchor.key),
                )
                if found is None:
                    raise AnchorNotFound(anchor)
            bound, params = bounds(anchor, descending, "started_seq", "%s")
            order = "DESC" if descending else "ASC"
            cursor = await conn.execute(
                f"SELECT started_seq, turn_id, completed_seq FROM history_turns WHERE thread_id = %s{bound} "
                f"ORDER BY started_seq {order} LIMIT %s",
                (thread_id, *params, limit + 1),
            )
            rows: list[TurnRow] = [(int(a), str(b), c) for a, b, c in await cursor.fetchall()]
            more = len(rows) > limit
            rows = rows[:limit]
            turn_ids = [turn_id for _, turn_id, _ in rows]
            item_rows: list[ItemRow] = []
            if items == "all" and turn_ids:
                cursor = await conn.execute(
                    "SELECT seq, turn_id, item_id FROM history_items WHERE thread_id = %s AND turn_id = ANY(%s) "
                    "ORDER BY seq",
                    (thread_id, turn_ids),
                )
                item_rows = list(await cursor.fetchall())
            elif items == "summary" and turn_ids:
                first_type, last_type = summary
                for order_by, item_type in (("seq ASC", first_type), ("seq DESC", last_type)):
                    cursor = await conn.execute(
                        "SELECT DISTINCT ON (turn_id) seq, turn_id, item_id FROM history_items "
                        "WHERE thread_id = %s AND turn_id = ANY(%s) AND item_type = %s "
                        f"ORDER BY turn_id, {order_by}",
                        (thread_id, turn_ids, item_type),
                    )
                    item_rows += await cursor.fetchall()
                item_rows.sort()
            wanted = payload_seqs(rows, item_rows)
            payloads: dict[int, tuple[Any, int]] = {}
            if wanted:
                cursor = await conn.execute(
                    "SELECT seq, payload, created_at_ms FROM events WHERE thread_id = %s AND seq = ANY(%s)",
                    (thread_id, wanted),
                )
                payloads = {seq: (json.loads(payload), ms) for seq, payload, ms in await cursor.fetchall()}
        return HistoryPage(assemble_turns(rows, item_rows, payloads), more)

    async def _list_items(
        self, thread_id: str, turn_id: str | None, anchor: HistoryAnchor | None, descending: bool, limit: int
    ) -> HistoryPage[HistoryItem]:
        async with self.pool().connection() as conn, conn.transaction():
            if anchor is not None:
                found = await _one(
                    conn,
                    "SELECT 1 FROM history_items WHERE thread_id = %s AND seq = %s AND item_id = %s",
                    (thread_id, anchor.seq, anchor.key),
                )
                if found is None:
                    raise AnchorNotFound(anchor)
            bound, params = bounds(anchor, descending, "h.seq", "%s")
            where = "h.thread_id = %s"
            args: list[Any] = [thread_id]
            if turn_id is not None:
                where += " AND h.turn_id = %s"
                args.append(turn_id)
            order = "DESC" if descending else "ASC"
            cursor = await conn.execute(
                "SELECT h.seq, h.turn_id, h.item_id, e.payload, e.created_at_ms FROM history_items h "
                f"JOIN events e ON e.thread_id = h.thread_id AND e.seq = h.seq WHERE {where}{bound} "
                f"ORDER BY h.seq {order} LIMIT %s",
                (*args, *params, limit + 1),
            )
            rows = await cursor.fetchall()
        return HistoryPage(
            [item_of(seq, turn, item_id, json.loads(payload), ms) for seq, turn, item_id, payload, ms in rows[:limit]],
            len(rows) > limit,
        )

    async def find_turn(self, thread_id: str, turn_id: str) -> int | None:
        row = await self._fetchone(
            "SELECT started_seq FROM history_turns WHERE thread_id = %s AND turn_id = %s", (thread_id, turn_id)
        )
        return None if row is None else int(row[0])

    async def find_item(self, thread_id: str, turn_id: str, item_id: str) -> int | None:
        row = await self._fetchone(
            "SELECT min(seq) FROM history_items WHERE thread_id = %s AND turn_id = %s AND item_id = %s",
            (thread_id, turn_id, item_id),
        )
        return None if row is None or row[0] is None else int(row[0])

    async def history_heads(self, thread_id: str) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        async with self.pool().connection() as conn, conn.transaction():
            turn = await _one(
                conn,
                "SELECT started_seq, turn_id FROM history_turns WHERE thread_id = %s ORDER BY started_seq DESC LIMIT 1",
                (thread_id,),
            )
            item = await _one(
                conn,
                "SELECT seq, item_id FROM history_items WHERE thread_id = %s ORDER BY seq DESC LIMIT 1",
                (thread_id,),
            )
        return (
            None if turn is None else HistoryAnchor(turn[0], turn[1], inclusive=True),
            None if item is None else HistoryAnchor(item[0], item[1], inclusive=True),
        )

    # -- sections ------------------------------------------------------------------------------

    async def _put_section(self, section: SectionRecord) -> None:
        appearance = json.dumps(section.appearance) if section.appearance is not None else None
        async with self.pool().connection() as conn:
            await conn.execute(
                "INSERT INTO thread_sections (id, name, appearance, created_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, appearance = excluded.appearance",
                (section.id, section.name, appearance, section.created_at),
            )

    async def _delete_section(self, section_id: str) -> list[str]:
        async with self.pool().connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"UPDATE threads SET extra = (extra::jsonb - '{_sections.MEMBERSHIP_KEY}')::text "
                f"WHERE {SECTION_ID_SQL} = %s RETURNING id",
                (section_id,),
            )
            members = [str(row[0]) for row in await cursor.fetchall()]
            await conn.execute("DELETE FROM thread_sections WHERE id = %s", (section_id,))
        return members

    async def set_section_positions(self, positions: dict[str, float]) -> None:
        async with self.pool().connection() as conn:
            await conn.execute(
                "UPDATE threads t "
                "SET extra = jsonb_set(t.extra::jsonb, '{section,position}', to_jsonb(u.position))::text "
                "FROM unnest(%s::text[], %s::float8[]) AS u(id, position) WHERE t.id = u.id",
                (list(positions), list(positions.values())),
            )

    async def section_positions(self, section_id: str) -> dict[str, float]:
        rows = await self._fetchall(
            f"SELECT id, {SECTION_POSITION_SQL} FROM threads WHERE {SECTION_ID_SQL} = %s", (section_id,)
        )
        return {str(row[0]): float(row[1]) for row in rows}

    # -- attachments ---------------------------------------------------------------------------

    async def add_attachment(self, thread_id: str, candidate: Attachment) -> tuple[Attachment, bool]:
        async with self.pool().connection() as conn, conn.transaction():
            # DO NOTHING, then read: of two servers adding the same identity, both get the one stored.
            cursor = await conn.execute(
                "INSERT INTO thread_attachments (thread_id, attachment_type, identity_key, id, payload, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                (
                    thread_id,
                    candidate.attachment_type,
                    candidate.identity_key,
                    candidate.id,
                    json.dumps(candidate.payload, ensure_ascii=False),
                    candidate.created_at,
                ),
            )
            if await cursor.fetchone() is not None:
                return candidate, True
            row = await _one(
                conn,
                f"SELECT {ATTACHMENT_COLUMNS} FROM thread_attachments "
                "WHERE thread_id = %s AND attachment_type = %s AND identity_key = %s",
                (thread_id, candidate.attachment_type, candidate.identity_key),
            )
        assert row is not None  # the conflicting row: attachments are only deleted one by one
        return attachment_from_row(row), False

    async def remove_attachment(self, thread_id: str, attachment_type: str, identity_key: str) -> str | None:
        row = await self._fetchone(
            "DELETE FROM thread_attachments WHERE thread_id = %s AND attachment_type = %s AND identity_key = %s "
            "RETURNING id",
            (thread_id, attachment_type, identity_key),
        )
        return None if row is None else str(row[0])

    async def _list_attachments(self, thread_id: str, cursor: str | None, limit: int) -> tuple[list[Attachment], bool]:
        async with self.pool().connection() as conn, conn.transaction():
            if cursor is not None and (
                await _one(
                    conn, "SELECT 1 FROM thread_attachments WHERE thread_id = %s AND id = %s", (thread_id, cursor)
                )
                is None
            ):
                raise InvalidCursor(cursor)
            result = await conn.execute(
                f"SELECT {ATTACHMENT_COLUMNS} FROM thread_attachments WHERE thread_id = %s AND id > %s "
                "ORDER BY id LIMIT %s",
                (thread_id, cursor or "", limit + 1),
            )
            rows = await result.fetchall()
        return [attachment_from_row(row) for row in rows[:limit]], len(rows) > limit

    async def _attachment_owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int
    ) -> tuple[list[AttachmentOwner], bool]:
        sql = (
            "SELECT a.thread_id, coalesce(t.archived, 0) FROM thread_attachments a "
            "LEFT JOIN threads t ON t.id = a.thread_id "
            "WHERE a.attachment_type = %s AND a.identity_key = %s AND a.thread_id > %s"
        )
        params: list[Any] = [attachment_type, identity_key, cursor or ""]
        if archived is not None:
            sql += " AND coalesce(t.archived, 0) = %s"
            params.append(int(archived))
        rows = await self._fetchall(f"{sql} ORDER BY a.thread_id LIMIT %s", (*params, limit + 1))
        return [AttachmentOwner(str(row[0]), bool(row[1])) for row in rows[:limit]], len(rows) > limit


# -- statements inside a caller's transaction ----------------------------------------------------


async def _one(conn: AsyncConnection, sql: str, params: Any) -> tuple[Any, ...] | None:
    cursor = await conn.execute(sql, params)
    return await cursor.fetchone()


async def _apply_updates(conn: AsyncConnection, thread_id: str, columns: dict[str, Any]) -> bool:
    """Lock the thread's row and set ``columns`` on it; False if it does not exist."""
    current = await _one(conn, "SELECT name, preview FROM threads WHERE id = %s FOR UPDATE", (thread_id,))
    if current is None:
        return False
    if not columns:
        return True
    columns = dict(columns)
    if "name" in columns or "preview" in columns:
        columns["title_cf"] = title_cf(columns.get("name", current[0]), columns.get("preview", current[1]))
    assignments = ", ".join(f"{column} = %s" for column in columns)
    await conn.execute(f"UPDATE threads SET {assignments} WHERE id = %s", (*columns.values(), thread_id))
    return True


async def _last_seq(conn: AsyncConnection, thread_id: str) -> int:
    row = await _one(conn, "SELECT max(seq) FROM events WHERE thread_id = %s", (thread_id,))
    return 0 if row is None or row[0] is None else int(row[0])


async def _clear_log(conn: AsyncConnection, thread_id: str) -> None:
    for table in ("events", "history_turns", "history_items", "thread_attachments", "search_items"):
        await conn.execute(f"DELETE FROM {table} WHERE thread_id = %s", (thread_id,))


async def _insert_events(
    conn: AsyncConnection, thread_id: str, first_seq: int, rows: list[EventRow], now_ms: int
) -> list[int]:
    seqs = list(range(first_seq, first_seq + len(rows)))
    started, completed, items = index_rows(
        thread_id, [(seq, entry) for seq, (_, _, entry, _) in zip(seqs, rows, strict=True) if entry is not None]
    )
    # Each write is one statement over arrays (one round trip whatever the batch size); with
    # executemany, a 2,000-row batch of the notification log went missing without an error here.
    await conn.execute(
        "INSERT INTO events (thread_id, seq, kind, payload, created_at_ms) "
        "SELECT %s, seq, kind, payload, %s FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(seq, kind, payload)",
        (thread_id, now_ms, seqs, [kind for kind, _, _, _ in rows], [payload for _, payload, _, _ in rows]),
    )
    await pg_search.add_to_index(
        conn, thread_id, ((seq, entry) for seq, (_, _, _, entry) in zip(seqs, rows, strict=True) if entry is not None)
    )
    # Starts before completions, as in the SQLite index (``_history.add_to_index``).
    if started:
        await conn.execute(
            "INSERT INTO history_turns (thread_id, started_seq, turn_id) "
            "SELECT %s, * FROM unnest(%s::bigint[], %s::text[]) ON CONFLICT DO NOTHING",
            (thread_id, [seq for _, seq, _ in started], [turn for _, _, turn in started]),
        )
    if items:
        await conn.execute(
            "INSERT INTO history_items (thread_id, seq, turn_id, item_id, item_type) "
            "SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])",
            (thread_id, *(list(column) for column in list(zip(*items, strict=True))[1:])),
        )
    if completed:
        # The last completion of a turn wins, as applying them one by one does.
        last = {turn: seq for seq, _, turn in completed}
        await conn.execute(
            "UPDATE history_turns h SET completed_seq = u.seq "
            "FROM unnest(%s::bigint[], %s::text[]) AS u(seq, turn_id) WHERE h.thread_id = %s AND h.turn_id = u.turn_id",
            (list(last.values()), list(last), thread_id),
        )
    return seqs
