"""The store's full-text index of messages, on both backends: kept in step with every event write
(append, replace, delete), filled by the migration for a store written before it existed, and
queried for threads (with filters, snippets and pages) and for the matches within one thread."""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.store import SCHEMA_VERSION, ThreadQuery, ThreadRecord, ThreadStore
from agent_app_server.store.pg_search import SEARCH_INDEX_VERSION

RecordFactory = Callable[..., ThreadRecord]
_ROLES = itertools.count()


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


async def found(store: ThreadStore, term: str, **fields: Any) -> list[tuple[str, str]]:
    page, snippets = await store.search_threads(query(term, **fields))
    return [(record.id, snippets[record.id]) for record in page.records]


async def test_messages_are_indexed_as_they_are_written(
    store: ThreadStore, make_record: RecordFactory, count_rows: Callable[[str], int]
) -> None:
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
    assert count_rows("search_items") == 2


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


async def test_a_postgresql_database_from_before_the_index_is_indexed_on_open(
    pg_url: str, make_record: RecordFactory
) -> None:
    import psycopg

    store = await ThreadStore.open(pg_url)
    record = make_record()
    try:
        await store.put_thread(record)
        await store.append_events(record.id, turn("t1", "an old question", "50% of an old answer"))
    finally:
        await store.close()
    # As a database written before the index existed.
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE search_items")
        conn.execute("DELETE FROM meta WHERE key = 'search_index_version'")
    store = await ThreadStore.open(pg_url)
    try:
        assert await found(store, "AN_OLD") == []  # the underscore is literal, not any character
        assert await found(store, "% OF AN OLD") == [(record.id, "50% of an old answer")]
        assert await found(store, "old question") == [(record.id, "an old question")]
    finally:
        await store.close()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'search_index_version'").fetchone()
        assert row == (str(SEARCH_INDEX_VERSION),)


async def test_without_the_trigram_extension_search_scans(
    pg_url: str, make_record: RecordFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that may create tables but not extensions (no CREATE on the database).
    import psycopg

    role = f"no_extensions_{os.getpid()}_{next(_ROLES)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
    scheme, rest = pg_url.split("://", 1)
    store = await ThreadStore.open(f"{scheme}://{role}@{rest.split('@', 1)[1]}")
    record = make_record()
    try:
        await store.put_thread(record)
        await store.append_events(record.id, turn("t1", "where is the parser", "in parser.py"))
        assert await found(store, "PARSER.PY") == [(record.id, "in parser.py")]
        assert [m.item_id for m in await store.thread_matches(record.id, "parser", from_seq=0, limit=5)] == [
            "t1-q",
            "t1-a",
        ]
    finally:
        await store.close()
    assert "thread/search will scan messages: no trigram index" in caplog.text
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'search_items_trgm'").fetchone() == (0,)


async def test_wildcards_in_a_term_are_literal(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record()
    await store.put_thread(record)
    await store.append_events(record.id, turn("t1", "100% sure", "a_b and a\\b"))
    assert await found(store, "0% s") == [(record.id, "100% sure")]
    assert await found(store, "%") == [(record.id, "100% sure")]
    assert await found(store, "a_b") == [(record.id, "a_b and a\\b")]
    assert await found(store, "a%b") == []
    assert await found(store, "axb") == []
    assert await found(store, "a\\b") == [(record.id, "a_b and a\\b")]


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
