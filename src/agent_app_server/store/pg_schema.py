"""The store's PostgreSQL schema: the same tables, versions and migration steps as the SQLite
schema (``_schema.py``), in PostgreSQL's dialect, plus the notification log's tables.

Owns: the DDL, running the migrations under an advisory lock (many servers may start at once
against one database), and the connection pool every PostgreSQL-backed object opens.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from ._schema import SCHEMA_VERSION
from .records import SchemaVersionError

#: ``pg_advisory_xact_lock`` key held while a server creates or migrates the schema.
MIGRATION_LOCK = 0x61617373  # "aass"

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

# Ids compare bytewise (COLLATE "C"), as in SQLite, so keyset cursors page in the same order
# whatever the database's default collation.
_V1_DDL = """
CREATE TABLE threads (
    id TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    cwd TEXT NOT NULL,
    model_provider TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source TEXT NOT NULL,
    originator TEXT,
    name TEXT,
    preview TEXT NOT NULL,
    title_cf TEXT NOT NULL,
    archived INTEGER NOT NULL,
    archived_at BIGINT,
    model TEXT,
    reasoning_effort TEXT,
    cli_version TEXT NOT NULL,
    forked_from_id TEXT,
    extra TEXT NOT NULL
);
CREATE INDEX threads_archived_created ON threads (archived, created_at, id);
CREATE INDEX threads_archived_updated ON threads (archived, updated_at, id);
CREATE INDEX threads_model_provider ON threads (model_provider);
CREATE INDEX threads_source_kind ON threads (source_kind);
CREATE INDEX threads_cwd ON threads (cwd);
CREATE TABLE events (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
"""

_V2_DDL = """
CREATE TABLE history_turns (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    started_seq BIGINT NOT NULL,
    turn_id TEXT NOT NULL,
    completed_seq BIGINT,
    PRIMARY KEY (thread_id, started_seq)
);
CREATE UNIQUE INDEX history_turns_id ON history_turns (thread_id, turn_id);
CREATE TABLE history_items (
    thread_id TEXT COLLATE "C" NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_type TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE INDEX history_items_turn ON history_items (thread_id, turn_id, seq, item_type, item_id);
"""

_V3_DDL = """
CREATE TABLE thread_attachments (
    thread_id TEXT COLLATE "C" NOT NULL,
    attachment_type TEXT NOT NULL,
    identity_key TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thread_id, attachment_type, identity_key)
);
CREATE INDEX thread_attachments_by_thread ON thread_attachments (thread_id, id);
CREATE INDEX thread_attachments_by_identity ON thread_attachments (attachment_type, identity_key, thread_id);
CREATE TABLE thread_sections (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    appearance TEXT,
    created_at BIGINT NOT NULL
);
"""

#: A migration step: SQL statements (``;``-separated), or a coroutine run in the migration's
#: transaction (for a step that computes rows, such as a backfill).
MigrationStep = str | Callable[[AsyncConnection], Awaitable[None]]

#: ``_MIGRATIONS[n]`` takes a database from version n to n + 1, as in ``_schema.py``. The SQLite
#: 1 → 2 backfill has no counterpart: no PostgreSQL store was ever written at version 1.
#: SQLite's 3 → 4 step builds its full-text index of messages; PostgreSQL's index is versioned on
#: its own (``pg_search``, key ``search_index_version``), so the step changes nothing here.
_MIGRATIONS: dict[int, MigrationStep] = {0: _V1_DDL, 1: _V2_DDL, 2: _V3_DDL, 3: ""}

#: The notification log's tables, versioned on their own (key ``notification_log_version``), as
#: the SQLite log's file is. ``writer``/``clean`` say per thread whether the last server that wrote
#: its notifications closed the log (a fleet has no single file to mark). Version 2 keeps the
#: notifications in batches (``notification_batches``: one row per run of consecutive numbers of
#: a thread written together, see ``pg_replay_log``) instead of one row each; the step turns every
#: stored notification into a batch of one.
NOTIFICATION_LOG_VERSION = 2
_NOTIFICATION_LOG_MIGRATIONS: dict[int, MigrationStep] = {
    0: """
CREATE TABLE notifications (
    thread_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL,
    method TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE INDEX notifications_created ON notifications (created_at_ms);
CREATE TABLE thread_seq (
    thread_id TEXT COLLATE "C" PRIMARY KEY,
    last_seq BIGINT NOT NULL,
    pruned_upto BIGINT NOT NULL,
    writer TEXT NOT NULL DEFAULT '',
    clean BOOLEAN NOT NULL DEFAULT TRUE
);
""",
    1: """
CREATE TABLE notification_batches (
    thread_id TEXT COLLATE "C" NOT NULL,
    first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL,
    entries TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (thread_id, first_seq)
);
ALTER TABLE notification_batches ALTER COLUMN entries SET STORAGE EXTERNAL;
CREATE INDEX notification_batches_created ON notification_batches (created_at_ms);
INSERT INTO notification_batches (thread_id, first_seq, last_seq, entries, created_at_ms)
SELECT thread_id, seq, seq,
       seq::text || chr(31) || method || chr(31) || replace(replace(message, chr(30), '\\u001e'), chr(31), '\\u001f'),
       created_at_ms
FROM notifications;
DROP TABLE notifications
""",
}


async def open_pool(url: str, *, max_size: int = 8) -> AsyncConnectionPool:
    """A pool of autocommit connections (each write opens its own transaction); waits for the
    first connection so that a wrong URL fails here, with libpq's reason."""
    pool = AsyncConnectionPool(
        url, min_size=1, max_size=max_size, open=False, kwargs={"autocommit": True}, name="agent-app-server"
    )
    try:
        await pool.open(wait=True, timeout=30)
    except BaseException:
        await pool.close()
        raise
    return pool


async def ensure_schema(conn: AsyncConnection, where: str) -> None:
    """Create or migrate the thread store's tables; refuse a database from a newer store."""
    await migrate(conn, where, "schema_version", SCHEMA_VERSION, _MIGRATIONS, "store")


async def ensure_notification_log_schema(conn: AsyncConnection, where: str) -> None:
    await migrate(
        conn,
        where,
        "notification_log_version",
        NOTIFICATION_LOG_VERSION,
        _NOTIFICATION_LOG_MIGRATIONS,
        "notification log",
    )


async def migrate(
    conn: AsyncConnection, where: str, key: str, target: int, migrations: Mapping[int, MigrationStep], what: str
) -> None:
    async with conn.transaction():
        # One server migrates at a time; the others then find the version current.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(_META_DDL)
        cursor = await conn.execute("SELECT value FROM meta WHERE key = %s", (key,))
        row = await cursor.fetchone()
        version = 0 if row is None else int(row[0])
        if version > target:
            raise SchemaVersionError(
                f"the {what} in {where} has schema version {version}, but this agent-app-server only "
                f"understands versions up to {target}; upgrade agent-app-server or use another database"
            )
        while version < target:
            step = migrations[version]
            if isinstance(step, str):
                for statement in (part.strip() for part in step.split(";")):
                    if statement:
                        await conn.execute(statement)
            else:
                await step(conn)
            version += 1
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(version)),
        )


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
