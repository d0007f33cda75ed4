"""Thread attachments: small JSON records a client associates with a thread under a
(type, identity key) pair — a pull request, a ticket — found again from either side.

Owns: the ``thread_attachments`` table's reads and writes (run on the store's worker thread) and
its page cursors (the attachment's id, which is time-ordered). Layer: store (imports only the standard library).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .records import InvalidCursor

V3_DDL = """
CREATE TABLE thread_attachments (
    thread_id TEXT NOT NULL,
    attachment_type TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (thread_id, attachment_type, identity_key)
) WITHOUT ROWID;
CREATE INDEX thread_attachments_by_thread ON thread_attachments (thread_id, id);
CREATE INDEX thread_attachments_by_identity ON thread_attachments (attachment_type, identity_key, thread_id);
"""


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    attachment_type: str
    identity_key: str
    payload: Any
    #: Unix seconds.
    created_at: int


@dataclass(frozen=True, slots=True)
class AttachmentOwner:
    thread_id: str
    archived: bool


ATTACHMENT_COLUMNS = "id, attachment_type, identity_key, payload, created_at"


def attachment_from_row(row: tuple[Any, ...]) -> Attachment:
    return Attachment(row[0], row[1], row[2], json.loads(row[3]), int(row[4]))


def add(conn: sqlite3.Connection, thread_id: str, candidate: Attachment) -> tuple[Attachment, bool]:
    """The thread's attachment with that identity: the existing one, or ``candidate`` stored now."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            f"SELECT {ATTACHMENT_COLUMNS} FROM thread_attachments "
            "WHERE thread_id = ? AND attachment_type = ? AND identity_key = ?",
            (thread_id, candidate.attachment_type, candidate.identity_key),
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO thread_attachments (thread_id, attachment_type, identity_key, id, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    candidate.attachment_type,
                    candidate.identity_key,
                    candidate.id,
                    json.dumps(candidate.payload, ensure_ascii=False),
                    candidate.created_at,
                ),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return (candidate, True) if row is None else (attachment_from_row(row), False)


def remove(conn: sqlite3.Connection, thread_id: str, attachment_type: str, identity_key: str) -> str | None:
    """Delete the attachment; its id, or None when there was none."""
    row = conn.execute(
        "DELETE FROM thread_attachments WHERE thread_id = ? AND attachment_type = ? AND identity_key = ? RETURNING id",
        (thread_id, attachment_type, identity_key),
    ).fetchone()
    return None if row is None else str(row[0])


def page(conn: sqlite3.Connection, thread_id: str, cursor: str | None, limit: int) -> tuple[list[Attachment], bool]:
    """Oldest first, after the attachment id ``cursor``; the flag says more follow."""
    if (
        cursor is not None
        and not conn.execute(
            "SELECT 1 FROM thread_attachments WHERE thread_id = ? AND id = ?", (thread_id, cursor)
        ).fetchone()
    ):
        raise InvalidCursor(cursor)
    rows = conn.execute(
        f"SELECT {ATTACHMENT_COLUMNS} FROM thread_attachments WHERE thread_id = ? AND id > ? ORDER BY id LIMIT ?",
        (thread_id, cursor or "", limit + 1),
    ).fetchall()
    return [attachment_from_row(row) for row in rows[:limit]], len(rows) > limit


def owners(
    conn: sqlite3.Connection,
    attachment_type: str,
    identity_key: str,
    archived: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AttachmentOwner], bool]:
    """Threads holding an attachment with this identity, by thread id, after the thread id ``cursor``.

    A thread not stored yet (no turn so far) counts as not archived.
    """
    sql = (
        "SELECT a.thread_id, coalesce(t.archived, 0) FROM thread_attachments a "
        "LEFT JOIN threads t ON t.id = a.thread_id "
        "WHERE a.attachment_type = ? AND a.identity_key = ? AND a.thread_id > ?"
    )
    params: list[Any] = [attachment_type, identity_key, cursor or ""]
    if archived is not None:
        sql += " AND coalesce(t.archived, 0) = ?"
        params.append(int(archived))
    rows = conn.execute(f"{sql} ORDER BY a.thread_id LIMIT ?", (*params, limit + 1)).fetchall()
    return [AttachmentOwner(str(row[0]), bool(row[1])) for row in rows[:limit]], len(rows) > limit


def delete_thread(conn: sqlite3.Connection, thread_id: str) -> None:
    """Inside the caller's transaction: a deleted thread's attachments go with it."""
    conn.execute("DELETE FROM thread_attachments WHERE thread_id = ?", (thread_id,))
