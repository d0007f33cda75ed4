"""The store's SQLite schema and its versioning.

Owns: the DDL, the schema version recorded in ``meta``, and the migration steps between versions.
Imports only the standard library.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from ._attachments import V3_DDL
from ._history import V2_DDL, backfill
from ._search import V4_DDL
from ._search import backfill as backfill_search
from ._sections import SECTIONS_DDL
from .records import SchemaVersionError

#: The version this code writes. Bump it and add a step to ``_MIGRATIONS`` when the schema changes.
SCHEMA_VERSION = 4

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"

# ``title_cf`` is the casefolded title (name if set, else preview), kept by the writer so that
# search stays a plain substring test and matches Python's Unicode casefolding, which SQLite's
# ASCII-only lower() would not. The (archived, sort key, id) indexes serve a page straight from the
# index in either direction; the single-column ones serve selective filters.
_V1_DDL = """
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    cwd TEXT NOT NULL,
    model_provider TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source TEXT NOT NULL,
    originator TEXT,
    name TEXT,
    preview TEXT NOT NULL,
    title_cf TEXT NOT NULL,
    archived INTEGER NOT NULL,
    archived_at INTEGER,
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
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;
"""

#: ``_MIGRATIONS[n]`` takes a database from version n to n + 1; version 0 is an empty file.
#: Version 2 adds the history index (turns and items by position), filled from existing events;
#: version 3 adds thread attachments and sections; version 4 the full-text index of messages,
#: filled from existing events.
_MIGRATIONS: dict[int, str] = {0: _V1_DDL, 1: V2_DDL, 2: V3_DDL + SECTIONS_DDL, 3: V4_DDL}
#: Data steps run after the DDL of the same migration, in the same transaction.
_BACKFILLS: dict[int, Callable[[sqlite3.Connection], None]] = {1: backfill, 3: backfill_search}


def ensure_schema(conn: sqlite3.Connection, path: str) -> None:
    """Create or migrate the schema in one transaction; refuse a file from a newer store.

    Runs with the connection in autocommit mode (``isolation_level=None``).
    """
    # IMMEDIATE so two processes opening a fresh file cannot both decide to create the schema.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_META_DDL)
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = 0 if row is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the store at {path} has schema version {version}, but this agent-app-server only "
                f"understands versions up to {SCHEMA_VERSION}; upgrade agent-app-server or use another "
                "database file"
            )
        while version < SCHEMA_VERSION:
            # executescript() would COMMIT first, breaking the all-or-nothing migration.
            for statement in _split_statements(_MIGRATIONS[version]):
                conn.execute(statement)
            step = _BACKFILLS.get(version)
            if step is not None:
                step(conn)
            version += 1
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _split_statements(script: str) -> list[str]:
    # Good enough for our own DDL, which has no semicolons inside literals or triggers.
    return [part.strip() for part in script.split(";") if part.strip()]
