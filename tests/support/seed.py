"""Seed a CODEX_HOME's store with threads, through the store API on the real SQLite file.

Threads reach the store at their first turn; tests of listing and persistence that need many
stored threads write them here directly instead of running thousands of turns.
"""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

from agent_app_server.core.config import STATE_DIR_NAME
from agent_app_server.store import ThreadRecord, ThreadStore

DB_NAME = "state.sqlite3"

PROVIDERS = ["openai", "mock", "ollama"]
SOURCE_KINDS = ["vscode", "cli", "appServer", "exec"]
CWDS = ["/work/a", "/work/b", "/srv/c"]


def _uuid7_at(unix_ms: int, rng: random.Random) -> str:
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def make_records(count: int, *, seed: int = 7, base: int | None = None) -> list[ThreadRecord]:
    """``count`` varied threads; several share each second, as real bursts do."""
    rng = random.Random(seed)
    start = base if base is not None else int(time.time()) - count
    records = []
    for i in range(count):
        created = start + i // 4
        source_kind = SOURCE_KINDS[i % len(SOURCE_KINDS)]
        records.append(
            ThreadRecord(
                id=_uuid7_at(created * 1000 + i % 1000, rng),
                created_at=created,
                updated_at=created + rng.randint(0, 5000),
                cwd=CWDS[i % len(CWDS)],
                model_provider=PROVIDERS[i % len(PROVIDERS)],
                source_kind=source_kind,
                source=source_kind,
                originator="seed",
                name=f"named thread {i}" if i % 5 == 0 else None,
                preview=f"Fix bug number {i} in the parser" if i % 2 == 0 else f"Write docs {i}",
                archived=i % 10 == 3,
                archived_at=created if i % 10 == 3 else None,
                model="gpt-5.5",
                cli_version="0.169.0",
            )
        )
    return records


async def seed_threads(codex_home: Path, records: list[ThreadRecord]) -> None:
    store = await ThreadStore.open(codex_home / STATE_DIR_NAME / DB_NAME)
    try:
        for record in records:
            await store.put_thread(record)
    finally:
        await store.close()
