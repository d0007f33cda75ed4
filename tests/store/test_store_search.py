"""The store's full-text index of messages: kept in step with every event write (append, replace,
delete), filled by the migration for a store written before it existed, and queried for threads
(with filters, snippets and pages) and for the matches within one thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.store import SCHEMA_VERSION, SearchUnavailable, ThreadQuery, ThreadRecord, ThreadStore

RecordFactory = Callable[..., ThreadRecord]


def message(turn_id: str, item_id: str, kind: str, text: str) -> tuple[str, Any]:
    if kind == "userMessage":
        item: dict[str, Any] = {"type": kind, "id": item_id, "content": [{"type": "text", "text": text}]}
    else:
        item = {"type": kind, "id": item_id, "text": text}
    return "item/completed", {"threadId": "x", "turnId": turn_id, "item": item}


def turn(turn_id: str, question: str, answer: str) -> list[tuple[str, Any]]:
    return [
        ("turn/started", {"id": turn_id}),
        message(turn_id, f"{turn_id}-q", "userMessage", question),
        # Tool output is not a message anyone reads as the conversation: not searchable.
        ("item/completed", {"turnId": turn_id, "item": {"type": "commandExecution", "id": "c", "command": "ls x"}}),
        message(turn_id, f"{turn_id}-a", "agentMessage", answer),
        ("turn/completed", {"id": turn_id}),
    ]


def query(term: str, **fields: Any) -> ThreadQuery:
    return ThreadQuery(content_term=term, **fields)


@pytest.fixture
def store_location(db_path: Path) -> Path:
    """The full-text index is SQLite's (FTS5): these tests run on SQLite only (a PostgreSQL store
    says search is unavailable, below)."""
    return db_path


async def test_a_postgresql_store_says_search_is_unavailable(pg_url: str) -> None:
    store = await ThreadStore.open(pg_url)
    try:
        with pytest.raises(SearchUnavailable, match="full-text search is not available"):
            await store.search_threads(query("x"))
        with pytest.raises(SearchUnavailable):
            await store.thread_matches("t", "x", from_seq=0, limit=5)
    finally:
        await store.close()


async def found(store: ThreadStore, term: str, **fields: Any) -> list[tuple[str, str]]:
    page, snippets = await store.search_threads(query(term, **fields))
    return [(record.id, snippets[record.id]) for record in page.records]


async def test_messages_are_indexed_as_they_are_written(store: ThreadStore, make_record: RecordFactory) -> None:
    first, second = make_record(), make_record()
    for record in (first, second):
        await store.put_thread(record)
    await store.append_events(first.id, turn("t1", "Where is the Parser?", "In parser.py"))
    await store.append_events(second.id, turn("t2", "Größe of the PARSER", "Straße"))

    assert await found(store, "parser") == [(second.id, "Größe of the PARSER"), (first.id, "Where is the Parser?")]
    assert await found(store, "parser", descending=False, limit=1) == [(first.id, "Where is the Parser?")]
    assert await found(store, "py") == [(first.id, "In parser.py")]
    assert await found(store, "ls x") == []
    assert await found(store, "größe") == [(second.id, "Größe of the PARSER")]

    matches = await store.thread_matches(first.id, "PARSER", from_seq=0, limit=10)
    assert [(m.seq, m.turn_id, m.turn_seq, m.item_id) for m in matches] == [(2, "t1", 1, "t1-q"), (4, "t1", 1, "t1-a")]
    assert [m.item_id for m in await store.thread_matches(first.id, "parser", from_seq=3, limit=10)] == ["t1-a"]

    # A rewritten log (revert) is reindexed; a deleted thread leaves nothing behind.
    await store.replace_events(first.id, turn("t3", "nothing here", "nor here"))
    assert await found(store, "parser") == [(second.id, "Größe of the PARSER")]
    assert await found(store, "nor here") == [(first.id, "nor here")]
    await store.delete_thread(second.id)
    assert await found(store, "parser") == []
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM search_items").fetchone() == (2,)


async def test_a_version_3_store_is_indexed_by_the_migration(db_path: Path, make_record: RecordFactory) -> None:
    store = await ThreadStore.open(db_path)
    record = make_record()
    try:
        await store.put_thread(record)
        await store.append_events(record.id, turn("t1", "an old question", "an old answer"))
    finally:
        await store.close()
    # As a file written before the index existed.
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE search_fts")
        conn.execute("DROP TABLE search_items")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    store = await ThreadStore.open(db_path)
    try:
        assert await found(store, "old answer") == [(record.id, "an old answer")]
    finally:
        await store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


async def test_a_common_term_is_found_thread_by_thread(store: ThreadStore, make_record: RecordFactory) -> None:
    # Past 3,000 matching messages the page is filled thread by thread instead of from the index:
    # the same answers either way.
    busy, quiet, other = make_record(), make_record(), make_record()
    for record in (busy, quiet, other):
        await store.put_thread(record)
    await store.append_events(
        busy.id,
        [("turn/started", {"id": "t1"})]
        + [message("t1", f"m{n}", "agentMessage", f"Common answer {n}") for n in range(3_100)],
    )
    await store.append_events(quiet.id, turn("t2", "one common question", "ok"))
    await store.append_events(other.id, turn("t3", "nothing", "here"))
    assert await found(store, "common") == [(quiet.id, "one common question"), (busy.id, "Common answer 0")]
    assert await found(store, "common", limit=1) == [(quiet.id, "one common question")]
    assert await found(
        store, "common", limit=1, cursor=(await store.search_threads(query("common", limit=1)))[0].next_cursor
    ) == [(busy.id, "Common answer 0")]
    assert await found(store, "answer 3099") == [(busy.id, "Common answer 3099")]
