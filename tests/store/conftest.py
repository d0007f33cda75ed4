"""Fixtures for the store tests: a fresh store per test, on each backend (a SQLite file, and a
database of the session's PostgreSQL cluster), and a thread record factory."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.store import ThreadRecord, ThreadStore

_counter = itertools.count()


def new_id() -> str:
    """A UUIDv7-shaped id (unique per call); the store treats ids as opaque text."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


RecordFactory = Callable[..., ThreadRecord]


@pytest.fixture
def make_record() -> RecordFactory:
    def make(**overrides: Any) -> ThreadRecord:
        n = next(_counter)
        fields: dict[str, Any] = {
            "id": new_id(),
            "created_at": 1_780_000_000 + n,
            "updated_at": 1_780_000_000 + n,
            "cwd": "/work/project",
            "model_provider": "openai",
            "source_kind": "vscode",
            "source": "vscode",
            "originator": "test-client",
        }
        fields.update(overrides)
        return ThreadRecord(**fields)

    return make


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "threads.sqlite"


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, db_path: Path) -> Path | str:
    """Where a fresh store opens: the SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return db_path
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db_error(store_location: Path | str) -> type[Exception]:
    """The backend's own error class (what a statement the database refuses raises)."""
    if isinstance(store_location, Path):
        return sqlite3.Error
    import psycopg

    return psycopg.Error


@pytest.fixture
def count_rows(store_location: Path | str) -> Callable[[str], int]:
    """Rows of a table of the test's store, read with the backend's own driver (not the store)."""
    return functools.partial(_count_rows, store_location)


def _count_rows(location: Path | str, table: str) -> int:
    if isinstance(location, Path):
        with contextlib.closing(sqlite3.connect(location)) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    import psycopg

    with psycopg.connect(location) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture
async def store(store_location: Path | str) -> AsyncIterator[ThreadStore]:
    opened = await ThreadStore.open(store_location)
    try:
        yield opened
    finally:
        await opened.close()
