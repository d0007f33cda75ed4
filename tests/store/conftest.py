"""Fixtures for the store tests: a fresh store file per test and a thread record factory."""

from __future__ import annotations

import itertools
import os
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


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[ThreadStore]:
    opened = await ThreadStore.open(db_path)
    try:
        yield opened
    finally:
        await opened.close()
