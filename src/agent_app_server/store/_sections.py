"""Thread sections: named groups a user sorts threads into (a sidebar's folders), synchronized
across clients.

Owns: the ``thread_sections`` table, and where a thread's membership is kept: in its ``extra``
JSON as ``{"section": {"id", "enteredAt", "position"}}``, so that it travels with the thread
record (unsaved threads keep it in memory until their first turn) and ``list_threads`` can filter
and order by it. Functions here run on the store's worker thread. Layer: store (imports only the standard library).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SECTIONS_DDL = """
CREATE TABLE thread_sections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    appearance TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
"""

#: The key of a thread's membership in its ``extra`` JSON, and SQL expressions reading it.
MEMBERSHIP_KEY = "section"
SECTION_ID_SQL = "json_extract(extra, '$.section.id')"
SECTION_POSITION_SQL = "json_extract(extra, '$.section.position')"


@dataclass(frozen=True, slots=True)
class SectionRecord:
    id: str
    name: str
    #: The client's appearance object (``{"icon", "color"}``), or None.
    appearance: dict[str, Any] | None
    #: Unix seconds.
    created_at: int


def load(conn: sqlite3.Connection) -> list[SectionRecord]:
    """Every stored section, oldest first (ids are time-ordered)."""
    return [section_from_row(row) for row in conn.execute(SELECT_SECTIONS)]


#: Every section, oldest first, as :func:`section_from_row` reads them (either backend).
SELECT_SECTIONS = "SELECT id, name, appearance, created_at FROM thread_sections ORDER BY id"


def section_from_row(row: Sequence[Any]) -> SectionRecord:
    return SectionRecord(row[0], row[1], json.loads(row[2]) if row[2] is not None else None, int(row[3]))


def put(conn: sqlite3.Connection, section: SectionRecord) -> None:
    appearance = json.dumps(section.appearance) if section.appearance is not None else None
    conn.execute(
        "INSERT INTO thread_sections (id, name, appearance, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, appearance = excluded.appearance",
        (section.id, section.name, appearance, section.created_at),
    )


def delete(conn: sqlite3.Connection, section_id: str) -> list[str]:
    """Delete the section and take its threads out of it; the ids of those threads."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        members = [row[0] for row in conn.execute(f"SELECT id FROM threads WHERE {SECTION_ID_SQL} = ?", (section_id,))]
        conn.execute(
            f"UPDATE threads SET extra = json_remove(extra, '$.section') WHERE {SECTION_ID_SQL} = ?", (section_id,)
        )
        conn.execute("DELETE FROM thread_sections WHERE id = ?", (section_id,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return members


def positions(conn: sqlite3.Connection, section_id: str) -> dict[str, float]:
    """Stored thread id → position, for the threads in the section."""
    return {
        str(row[0]): float(row[1])
        for row in conn.execute(
            f"SELECT id, {SECTION_POSITION_SQL} FROM threads WHERE {SECTION_ID_SQL} = ?", (section_id,)
        )
    }


def set_positions(conn: sqlite3.Connection, positions: dict[str, float]) -> None:
    """Rewrite the positions of stored threads (a section renumbered)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "UPDATE threads SET extra = json_set(extra, '$.section.position', ?) WHERE id = ?",
            [(position, thread_id) for thread_id, position in positions.items()],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
