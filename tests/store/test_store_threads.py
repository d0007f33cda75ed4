"""Thread records: round trips, updates, deletes, reopening, schema versions, layering."""

from __future__ import annotations

import ast
import dataclasses
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import agent_app_server.store as store_pkg
from agent_app_server.store import (
    SCHEMA_VERSION,
    SchemaVersionError,
    StoreClosed,
    ThreadQuery,
    ThreadRecord,
    ThreadStore,
)

# The conftest fixture's type; not imported from conftest, whose module name is not unique in the repo.
RecordFactory = Callable[..., ThreadRecord]


def _full_record(make_record: RecordFactory) -> ThreadRecord:
    return make_record(
        source={"subAgent": {"thread_spawn": {"parent_thread_id": "p", "depth": 1}}},
        source_kind="subAgentThreadSpawn",
        originator=None,
        name="Ünïcode näme",
        preview="first user message",
        archived=True,
        archived_at=1_780_000_500,
        model="gpt-5.5",
        reasoning_effort="high",
        cli_version="0.169.0",
        forked_from_id="0197a000-0000-7000-8000-000000000000",
        extra={"git": {"sha": "abc", "branch": None}, "settings": [1, 2.5, True, None, "x"], "big": 2**62},
    )


async def test_put_get_round_trip_preserves_every_field(store: ThreadStore, make_record: RecordFactory) -> None:
    record = _full_record(make_record)
    await store.put_thread(record)
    assert await store.get_thread(record.id) == record


async def test_defaults_round_trip(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record()
    await store.put_thread(record)
    got = await store.get_thread(record.id)
    assert got == record
    assert got is not None and got.extra == {} and got.archived is False and got.name is None


async def test_get_missing_thread(store: ThreadStore) -> None:
    assert await store.get_thread("nope") is None


async def test_get_threads_returns_only_existing(store: ThreadStore, make_record: RecordFactory) -> None:
    records = [make_record() for _ in range(5)]
    for record in records:
        await store.put_thread(record)
    wanted = [records[0].id, records[3].id, "missing", records[3].id]
    assert await store.get_threads(wanted) == {records[0].id: records[0], records[3].id: records[3]}
    assert await store.get_threads([]) == {}


async def test_put_replaces_all_fields_and_keeps_events(store: ThreadStore, make_record: RecordFactory) -> None:
    original = _full_record(make_record)
    await store.put_thread(original)
    await store.append_events(original.id, [("item", {"n": 1})])
    replacement = make_record(id=original.id, preview="other")
    await store.put_thread(replacement)
    assert await store.get_thread(original.id) == replacement
    # An upsert, not a delete + insert: the cascade must not have eaten the log.
    assert [e.payload for e in await store.read_events(original.id)] == [{"n": 1}]


async def test_update_thread_fields(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record()
    await store.put_thread(record)
    changed = await store.update_thread(
        record.id,
        name="renamed",
        archived=True,
        archived_at=1_780_009_999,
        updated_at=1_780_010_000,
        preview="p",
        model="m",
        extra={"k": [1]},
        source={"custom": "x"},
    )
    assert changed is True
    expected = dataclasses.replace(
        record,
        name="renamed",
        archived=True,
        archived_at=1_780_009_999,
        updated_at=1_780_010_000,
        preview="p",
        model="m",
        extra={"k": [1]},
        source={"custom": "x"},
    )
    assert await store.get_thread(record.id) == expected
    assert await store.update_thread(record.id, name=None, archived=False, archived_at=None)
    assert await store.get_thread(record.id) == dataclasses.replace(
        expected, name=None, archived=False, archived_at=None
    )


async def test_update_missing_thread_returns_false(store: ThreadStore) -> None:
    assert await store.update_thread("missing", name="x") is False
    assert await store.update_thread("missing") is False


async def test_update_with_no_fields_reports_existence(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record()
    await store.put_thread(record)
    assert await store.update_thread(record.id) is True


@pytest.mark.parametrize("field", ["id", "title_cf", "bogus"])
async def test_update_unknown_field_is_type_error(store: ThreadStore, make_record: RecordFactory, field: str) -> None:
    record = make_record()
    await store.put_thread(record)
    with pytest.raises(TypeError, match=field):
        await store.update_thread(record.id, name="n", **{field: "x"})
    assert await store.get_thread(record.id) == record


async def test_failed_update_rolls_back_and_store_stays_usable(
    store: ThreadStore, make_record: RecordFactory, db_error: type[Exception]
) -> None:
    record = make_record()
    await store.put_thread(record)
    # The name is written before the unbindable value fails: the whole UPDATE must roll back.
    with pytest.raises(db_error):
        await store.update_thread(record.id, name="half", model=object())
    assert await store.get_thread(record.id) == record
    assert await store.update_thread(record.id, name="ok")
    assert (await store.get_thread(record.id)) == dataclasses.replace(record, name="ok")


async def test_name_and_preview_updates_drive_search(store: ThreadStore, make_record: RecordFactory) -> None:
    record = make_record(preview="Alpha preview")
    await store.put_thread(record)

    async def found(term: str) -> bool:
        page = await store.list_threads(ThreadQuery(search_term=term))
        return [r.id for r in page.records] == [record.id]

    assert await found("ALPHA")
    await store.update_thread(record.id, name="Beta Name")
    assert await found("beta") and not await found("alpha")
    await store.update_thread(record.id, preview="Gamma")
    assert await found("beta") and not await found("gamma")
    await store.update_thread(record.id, name=None)
    assert await found("GAMMA") and not await found("beta")


async def test_delete_thread_removes_thread_and_events(store: ThreadStore, make_record: RecordFactory) -> None:
    doomed, kept = make_record(), make_record()
    for record in (doomed, kept):
        await store.put_thread(record)
        await store.append_events(record.id, [("a", 1), ("b", 2)])
    assert await store.delete_thread(doomed.id) is True
    assert await store.get_thread(doomed.id) is None
    assert await store.read_events(doomed.id) == []
    assert await store.last_seq(doomed.id) == 0
    assert await store.delete_thread(doomed.id) is False
    assert await store.get_thread(kept.id) == kept
    assert await store.last_seq(kept.id) == 2


async def test_reopen_sees_previous_data(store_location: Path | str, make_record: RecordFactory) -> None:
    record = _full_record(make_record)
    first = await ThreadStore.open(store_location)
    await first.put_thread(record)
    await first.append_events(record.id, [("item", {"text": "hi"})])
    await first.close()

    async with await ThreadStore.open(store_location) as second:
        assert await second.get_thread(record.id) == record
        assert [(e.seq, e.payload) for e in await second.read_events(record.id)] == [(1, {"text": "hi"})]
        assert await second.append_events(record.id, [("item", 2)]) == [2]


async def test_open_creates_parent_dirs_wal_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "store.db"
    store = await ThreadStore.open(path)
    await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert int(version) == SCHEMA_VERSION
    conn.close()


async def test_open_refuses_newer_schema_version(db_path: Path) -> None:
    store = await ThreadStore.open(db_path)
    await store.close()
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(SchemaVersionError) as excinfo:
        await ThreadStore.open(db_path)
    message = str(excinfo.value)
    assert str(db_path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"up to {SCHEMA_VERSION}" in message
    assert "upgrade agent-app-server" in message


async def test_closed_store_refuses_work_and_close_is_idempotent(store_location: Path | str) -> None:
    store = await ThreadStore.open(store_location)
    await store.close()
    await store.close()
    with pytest.raises(StoreClosed):
        await store.get_thread("x")


#: The PostgreSQL backend's modules (``pg_*.py``) may import its driver and nothing else.
POSTGRES_DRIVER = {"psycopg", "psycopg_pool"}


def test_store_imports_only_the_standard_library_and_the_postgres_driver() -> None:
    package_dir = Path(store_pkg.__file__).parent
    for source in sorted(package_dir.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 0:
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if source.name.startswith("pg_") and top in POSTGRES_DRIVER:
                    continue
                assert top in sys.stdlib_module_names or top == "__future__", f"{source.name} imports {name}"
