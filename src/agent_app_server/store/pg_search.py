"""PostgreSQL's full-text index of stored messages: which threads mention a term
(``thread/search``) and where within one thread (``thread/searchOccurrences``), with the SQLite
index's semantics (``_search``).

Owns: the ``search_items`` table (the searchable messages of ``_search.search_entry``, written in
the same transaction as their events, with a case-folded copy of each text), its migration and
backfill (versioned on their own, key ``search_index_version``, so a database created before the
index gets it on the next start), the trigram index that serves the lookups when the
``pg_trgm`` extension can be created (without it every lookup still works, by scanning), and
the queries.

Matching is a case-insensitive literal substring, as on SQLite: the term and each text are
case-folded by Python's ``str.casefold`` (``text_cf``), so both stores find the same messages
whatever the database's collation; ``LIKE '%term%'`` on ``text_cf`` is what a ``gin_trgm_ops``
index serves. The matching statements are never prepared: a generic plan does not know the
pattern, so it cannot choose between the index and a scan.
Layer: store (imports nothing of this project beyond its own package; ``psycopg``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from psycopg import AsyncConnection

from ._history import ITEM_COMPLETED
from ._search import MatchedItem, SearchEntry, stored_entry
from .pg_schema import MigrationStep, migrate

log = logging.getLogger(__name__)

SEARCH_INDEX_VERSION = 1

_V1_DDL = """
CREATE TABLE search_items (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    text TEXT NOT NULL,
    text_cf TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
)
"""

#: Rows the backfill reads and writes at a time (a large store's payloads are not all in memory).
_BACKFILL_BATCH = 1000


async def _create_and_backfill(conn: AsyncConnection) -> None:
    """Version 0 → 1: the table, the trigram index if it can be had, and the messages of every
    thread stored before the index existed."""
    await conn.execute(_V1_DDL)
    await _trigram_index(conn)
    after: tuple[str, int] = ("", 0)
    while True:
        cursor = await conn.execute(
            "SELECT thread_id, seq, payload FROM events WHERE kind = %s AND (thread_id, seq) > (%s, %s) "
            "ORDER BY thread_id, seq LIMIT %s",
            (ITEM_COMPLETED, *after, _BACKFILL_BATCH),
        )
        rows = await cursor.fetchall()
        if not rows:
            return
        by_thread: dict[str, list[tuple[int, SearchEntry]]] = {}
        for thread_id, seq, payload in rows:
            entry = stored_entry(payload)
            if entry is not None:
                by_thread.setdefault(thread_id, []).append((seq, entry))
        for thread_id, entries in by_thread.items():
            await add_to_index(conn, thread_id, entries)
        after = (rows[-1][0], rows[-1][1])


async def _trigram_index(conn: AsyncConnection) -> None:
    """Index ``text_cf`` by trigrams when the ``pg_trgm`` extension exists or may be created
    (it is a trusted extension: a database owner may). Without it, lookups scan."""
    try:
        async with conn.transaction():  # a savepoint: a refusal leaves the migration going
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            await conn.execute("CREATE INDEX search_items_trgm ON search_items USING gin (text_cf gin_trgm_ops)")
    except psycopg.Error as exc:
        log.warning("thread/search will scan messages: no trigram index (%s)", str(exc).strip())


_MIGRATIONS: dict[int, MigrationStep] = {0: _create_and_backfill}


async def ensure_search_index(conn: AsyncConnection, where: str) -> None:
    await migrate(conn, where, "search_index_version", SEARCH_INDEX_VERSION, _MIGRATIONS, "full-text index")


# -- writes (inside the caller's transaction) ------------------------------------------------------


async def add_to_index(conn: AsyncConnection, thread_id: str, entries: Iterable[tuple[int, SearchEntry]]) -> None:
    """Index newly inserted events' messages (``(seq, entry)``), in one statement."""
    rows = list(entries)
    if not rows:
        return
    await conn.execute(
        "INSERT INTO search_items (thread_id, seq, turn_id, item_id, text, text_cf) "
        "SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])",
        (
            thread_id,
            [seq for seq, _ in rows],
            [entry.turn_id for _, entry in rows],
            [entry.item_id for _, entry in rows],
            [entry.text for _, entry in rows],
            [entry.text.casefold() for _, entry in rows],
        ),
    )


# -- queries ---------------------------------------------------------------------------------------


def _pattern(term: str) -> str:
    """``term`` case-folded, as a ``LIKE`` pattern matching it anywhere (wildcards escaped)."""
    escaped = term.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_CONTAINS = "text_cf LIKE %s ESCAPE '\\'"


#: Matching messages past which a term counts as common (see :func:`_thread_clause`).
_COMMON = 3000


async def _thread_clause(conn: AsyncConnection, pattern: str) -> tuple[str, list[Any]]:
    """A WHERE clause on ``threads`` (and its parameters): the thread has a message matching
    ``pattern``. As on SQLite (``_search._thread_clause``): a term found in fewer than
    :data:`_COMMON` messages is looked up in the index and its threads listed; a common one is
    checked thread by thread in the page's order (a correlated probe that PostgreSQL cannot turn
    into a join, because of its LIMIT), which stops as soon as the page is full."""
    cursor = await conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM search_items WHERE {_CONTAINS} LIMIT %s) AS found",
        (pattern, _COMMON),
        prepare=False,
    )
    row = await cursor.fetchone()
    if row is not None and row[0] < _COMMON:
        return f"id IN (SELECT thread_id FROM search_items WHERE {_CONTAINS})", [pattern]
    probe = f"SELECT 1 FROM search_items s WHERE s.thread_id = threads.id AND s.{_CONTAINS} LIMIT 1"
    return f"EXISTS ({probe})", [pattern]


async def search_threads(
    conn: AsyncConnection, build: Callable[[tuple[str, list[Any]]], tuple[str, list[Any]]], term: str
) -> tuple[list[Any], dict[str, str]]:
    """The rows of a thread page whose SQL ``build`` makes from a WHERE clause (the thread has a
    message containing ``term``), and for each thread the text of its first such message."""
    pattern = _pattern(term)
    sql, params = build(await _thread_clause(conn, pattern))
    rows = await (await conn.execute(sql, params, prepare=False)).fetchall()
    if not rows:
        return rows, {}
    cursor = await conn.execute(
        f"SELECT DISTINCT ON (thread_id) thread_id, text FROM search_items WHERE thread_id = ANY(%s) AND {_CONTAINS} "
        "ORDER BY thread_id, seq",
        ([row[0] for row in rows], pattern),
        prepare=False,
    )
    return rows, {thread_id: text for thread_id, text in await cursor.fetchall()}


async def thread_matches(
    conn: AsyncConnection, thread_id: str, term: str, from_seq: int, limit: int
) -> list[MatchedItem]:
    """The thread's messages containing ``term`` at or after position ``from_seq``, in order, at
    most ``limit``."""
    cursor = await conn.execute(
        "SELECT s.seq, s.turn_id, coalesce(t.started_seq, 0), s.item_id, s.text FROM search_items s "
        "LEFT JOIN history_turns t ON t.thread_id = s.thread_id AND t.turn_id = s.turn_id "
        f"WHERE s.thread_id = %s AND s.seq >= %s AND s.{_CONTAINS} ORDER BY s.seq LIMIT %s",
        (thread_id, from_seq, _pattern(term), limit),
        prepare=False,
    )
    return [MatchedItem(*row) for row in await cursor.fetchall()]
