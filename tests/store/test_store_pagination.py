"""``list_threads``: keyset pagination over 1,000 threads, every filter against a Python reference."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.store import InvalidCursor, ThreadPage, ThreadQuery, ThreadRecord, ThreadStore
from agent_app_server.testing.pg_cluster import TempCluster

BACKENDS = ["sqlite", "postgresql"]

BASE = 1_780_000_000
PROVIDERS = ["openai", "mock", "azure"]
SOURCE_KINDS = [
    "cli",
    "vscode",
    "exec",
    "appServer",
    "subAgent",
    "subAgentReview",
    "subAgentCompact",
    "subAgentThreadSpawn",
    "subAgentOther",
    "unknown",
]
CWDS = ["/a", "/b", "/c/d", "/ünï"]
WORDS = ["Alpha", "beta", "GAMMA", "Straße", "ünïcode", "delta", "Epsilon", "zeta", "ETA", "theta"]


_ID_RNG = random.Random(7)


def new_id() -> str:
    """A deterministic UUIDv7-shaped id: ms timestamp, version 7, variant bits, random rest."""
    ms = 1_780_000_000_000 + _ID_RNG.randrange(60_000)
    value = (ms << 80) | (0x7 << 76) | (_ID_RNG.getrandbits(12) << 64) | (0b10 << 62) | _ID_RNG.getrandbits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _dataset(seed: int = 1234, count: int = 1000) -> list[ThreadRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        # A third of the threads share one second and the rest crowd into 40 seconds, so the id
        # tie-break carries most of the ordering.
        created = BASE + 17 if i % 3 == 0 else BASE + rng.randint(0, 40)
        roll = rng.random()
        name = None if roll < 0.5 else "" if roll < 0.6 else " ".join(rng.sample(WORDS, 2))
        kind = rng.choice(SOURCE_KINDS)
        records.append(
            ThreadRecord(
                id=new_id(),
                created_at=created,
                updated_at=created + rng.choice([0, 0, 0, 1, 5, 100]),
                cwd=rng.choice(CWDS),
                model_provider=rng.choice(PROVIDERS),
                source_kind=kind,
                source=kind if kind in ("cli", "vscode", "exec") else {"custom": kind},
                originator="client",
                name=name,
                preview=" ".join(rng.sample(WORDS, 3)),
                archived=rng.random() < 0.2,
            )
        )
    return records


DATASET = _dataset()


def _title(record: ThreadRecord) -> str:
    return (record.name or record.preview).casefold()


def reference(records: list[ThreadRecord], query: ThreadQuery) -> list[ThreadRecord]:
    """What ``list_threads`` must return over all pages, in order (ignores cursor and limit)."""
    kept = [
        r
        for r in records
        if r.archived == query.archived
        and (not query.model_providers or r.model_provider in query.model_providers)
        and (not query.source_kinds or r.source_kind in query.source_kinds)
        and (not query.cwds or r.cwd in query.cwds)
        and (not query.search_term or query.search_term.casefold() in _title(r))
        and (not query.exclude_ids or r.id not in query.exclude_ids)
    ]
    kept.sort(key=lambda r: (getattr(r, query.sort_key), r.id), reverse=query.descending)
    return kept


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def page_all(store: ThreadStore, query: ThreadQuery) -> list[ThreadPage]:
    pages = []
    cursor = query.cursor
    while True:
        query.cursor = cursor
        page = await store.list_threads(query)
        pages.append(page)
        assert len(pages) <= 2000, "pagination does not terminate"
        if page.next_cursor is None:
            return pages
        assert len(page.records) == min(query.limit, 1000), "a page before the last one is full"
        cursor = page.next_cursor


def _seed(location: Path | str) -> None:
    async def seed() -> None:
        async with await ThreadStore.open(location) as store:
            # Inserted in a shuffled order so that physical order says nothing about sort order.
            for record in random.Random(99).sample(DATASET, len(DATASET)):
                await store.put_thread(record)

    asyncio.run(seed())


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "threads.sqlite"
    _seed(path)
    return path


@pytest.fixture(scope="module")
def seeded_database(pg_cluster: TempCluster) -> str:
    """The name of a database seeded once per module; each test gets a copy (a template copy)."""
    url = pg_cluster.create_database("seeded")
    _seed(url)
    return TempCluster.database_name(url)


@pytest.fixture(params=BACKENDS)
def seeded_copy(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A private copy of the seeded store, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "copy.sqlite"
        shutil.copyfile(request.getfixturevalue("seeded_file"), path)
        return path
    cluster: TempCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(template=request.getfixturevalue("seeded_database"))


@pytest.fixture
async def seeded(seeded_copy: Path | str) -> AsyncIterator[ThreadStore]:
    async with await ThreadStore.open(seeded_copy) as store:
        yield store


SORTS = [("created_at", True), ("created_at", False), ("updated_at", True), ("updated_at", False)]


@pytest.mark.parametrize(("sort_key", "descending"), SORTS)
@pytest.mark.parametrize("archived", [False, True])
@pytest.mark.parametrize("limit", [1, 25, 999, 1000])
async def test_pages_concatenate_to_the_full_order(
    seeded: ThreadStore, sort_key: Any, descending: bool, archived: bool, limit: int
) -> None:
    query = ThreadQuery(sort_key=sort_key, descending=descending, archived=archived, limit=limit)
    expected = reference(DATASET, query)
    pages = await page_all(seeded, query)
    got = [r for page in pages for r in page.records]
    assert [r.id for r in got] == [r.id for r in expected]
    assert got == expected
    for page in pages:
        assert page.backwards_cursor == f"{_iso(getattr(page.records[0], sort_key))}|{page.records[0].id}"
    for page in pages[:-1]:
        assert page.next_cursor == f"{_iso(getattr(page.records[-1], sort_key))}|{page.records[-1].id}"


FILTERS: list[dict[str, Any]] = [
    {"model_providers": ["mock"]},
    {"model_providers": ["openai", "azure"]},
    {"model_providers": []},
    {"model_providers": ["nope"]},
    {"source_kinds": ["vscode"]},
    {"source_kinds": ["cli", "exec", "appServer"]},
    {"source_kinds": []},
    {"cwds": ["/a"]},
    {"cwds": ["/b", "/ünï"]},
    {"cwds": ["/nope"]},
    {"archived": True},
    {"search_term": "ALPHA"},
    {"search_term": "pha gam"},
    {"search_term": "STRASSE"},
    {"search_term": "ÜNÏ"},
    {"search_term": ""},
    {"search_term": "no such words"},
    {"exclude_ids": [r.id for r in random.Random(5).sample(DATASET, 100)]},
    {
        "model_providers": ["mock", "azure"],
        "source_kinds": ["vscode", "cli", "subAgent"],
        "cwds": ["/a", "/c/d"],
        "search_term": "e",
        "exclude_ids": [r.id for r in random.Random(6).sample(DATASET, 50)],
    },
    {"archived": True, "model_providers": ["openai"], "search_term": "beta"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v!r}"[:40] for k, v in f.items()))
@pytest.mark.parametrize(("sort_key", "descending"), SORTS)
async def test_filters_match_the_reference(
    seeded: ThreadStore, filters: dict[str, Any], sort_key: Any, descending: bool
) -> None:
    query = ThreadQuery(sort_key=sort_key, descending=descending, limit=7, **filters)
    expected = reference(DATASET, query)
    got = [r for page in await page_all(seeded, query) for r in page.records]
    assert [r.id for r in got] == [r.id for r in expected]


def test_filters_are_not_trivial() -> None:
    # Guards the filter test against a dataset where a filter keeps everything or nothing.
    sizes = {i: len(reference(DATASET, ThreadQuery(**f))) for i, f in enumerate(FILTERS)}
    unfiltered = len(reference(DATASET, ThreadQuery()))
    assert 0 < sizes[0] < unfiltered and 0 < sizes[11] < unfiltered and 0 < sizes[12] < sizes[11]
    assert sizes[13] > 0 and sizes[14] > 0 and sizes[18] > 0 and sizes[19] > 0
    assert sizes[3] == sizes[16] == 0


def test_dataset_exercises_name_over_preview() -> None:
    # The search cases above only prove "name wins over preview" if some named threads have preview
    # words that their name lacks.
    shadowed = [
        (r.id, w)
        for r in DATASET
        for w in WORDS
        if r.name and w.casefold() in r.preview.casefold() and w.casefold() not in r.name.casefold()
    ]
    assert len(shadowed) > 100


@pytest.mark.parametrize(("sort_key", "descending"), SORTS)
@pytest.mark.parametrize("filters", [{}, {"model_providers": ["mock"], "search_term": "a"}])
async def test_backwards_cursor_returns_exactly_the_earlier_records(
    seeded: ThreadStore, sort_key: Any, descending: bool, filters: dict[str, Any]
) -> None:
    query = ThreadQuery(sort_key=sort_key, descending=descending, limit=25, **filters)
    expected = reference(DATASET, query)
    pages = await page_all(seeded, query)
    start = 0
    for page in pages:
        back = ThreadQuery(
            sort_key=sort_key,
            descending=not descending,
            cursor=page.backwards_cursor,
            limit=1000,
            **filters,
        )
        earlier = await seeded.list_threads(back)
        assert [r.id for r in earlier.records] == [r.id for r in reversed(expected[:start])]
        assert earlier.next_cursor is None
        start += len(page.records)
    assert start == len(expected)


@pytest.mark.parametrize(("sort_key", "descending"), SORTS)
async def test_inserts_and_deletes_between_pages_never_duplicate_or_skip(
    seeded: ThreadStore, sort_key: Any, descending: bool
) -> None:
    rng = random.Random(f"{sort_key}{descending}")
    query = ThreadQuery(sort_key=sort_key, descending=descending, limit=25)
    old = reference(DATASET, query)
    old_ids = {r.id for r in old}
    seen: list[str] = []
    used = {r.id for r in DATASET}
    inserted = 0
    while True:
        page = await seeded.list_threads(query)
        seen.extend(r.id for r in page.records)
        if page.next_cursor is None:
            break
        last = page.records[-1]
        cursor_value = getattr(last, sort_key)
        # New threads land everywhere, including in the cursor's own second on both sides of its id.
        for _ in range(10):
            value = rng.choice([cursor_value, cursor_value, BASE + rng.randint(-5, 150)])
            # Ids right next to the cursor's; a reused id would be an update (which may move), not an insert.
            new = new_id() if rng.random() < 0.5 else f"{last.id[:-2]}{rng.randrange(256):02x}"
            if new in used:
                continue
            used.add(new)
            await seeded.put_thread(
                ThreadRecord(
                    id=new,
                    created_at=value,
                    updated_at=value,
                    cwd="/a",
                    model_provider="mock",
                    source_kind="vscode",
                    source="vscode",
                    originator=None,
                )
            )
            inserted += 1
        # The cursor does not need its row to exist.
        await seeded.delete_thread(last.id)
        query.cursor = page.next_cursor
    assert len(seen) == len(set(seen)), "a thread was returned twice"
    assert [i for i in seen if i in old_ids] == [r.id for r in old], "an old thread was skipped or reordered"
    assert inserted > 0


async def test_new_threads_after_the_cursor_show_up_in_later_pages(seeded: ThreadStore) -> None:
    query = ThreadQuery(descending=False, limit=25)
    first = await seeded.list_threads(query)
    late = ThreadRecord(
        id=new_id(),
        created_at=BASE + 1000,
        updated_at=BASE + 1000,
        cwd="/a",
        model_provider="mock",
        source_kind="vscode",
        source="vscode",
        originator=None,
    )
    await seeded.put_thread(late)
    query.cursor = first.next_cursor
    rest = [r.id for page in await page_all(seeded, query) for r in page.records]
    assert rest[-1] == late.id


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "|",
        "2026-11-24T13:25:43Z",
        "2026-11-24T13:25:43Z|",
        "2026-11-24T13:25:43|abc",
        "2026-11-24 13:25:43Z|abc",
        "2026-13-24T13:25:43Z|abc",
        "2026-02-30T13:25:43Z|abc",
        "2026-11-24T25:25:43Z|abc",
        "26-11-24T13:25:43Z|abc",
        "٢٠٢٦-11-24T13:25:43Z|abc",
        " 2026-11-24T13:25:43Z|abc",
        "1780000000|abc",
    ],
)
async def test_invalid_cursor(store: ThreadStore, cursor: str) -> None:
    with pytest.raises(InvalidCursor) as excinfo:
        await store.list_threads(ThreadQuery(cursor=cursor))
    assert str(excinfo.value) == f"invalid cursor: {cursor}"
    assert isinstance(excinfo.value, ValueError)


async def test_cursor_format_and_epoch(store: ThreadStore) -> None:
    for i, ts in enumerate([0, 1_780_000_000, 1_780_000_000]):
        await store.put_thread(
            ThreadRecord(
                id=f"id-{i}",
                created_at=ts,
                updated_at=ts,
                cwd="/",
                model_provider="p",
                source_kind="cli",
                source="cli",
                originator=None,
            )
        )
    page = await store.list_threads(ThreadQuery(descending=False, limit=1))
    assert page.next_cursor == page.backwards_cursor == "1970-01-01T00:00:00Z|id-0"
    second = await store.list_threads(ThreadQuery(descending=False, limit=1, cursor=page.next_cursor))
    assert second.next_cursor == "2026-05-28T20:26:40Z|id-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\|id-1", second.next_cursor)
    last = await store.list_threads(ThreadQuery(descending=False, limit=1, cursor=second.next_cursor))
    assert [r.id for r in last.records] == ["id-2"] and last.next_cursor is None
    # A cursor that sorts past everything is valid and yields an empty page.
    empty = await store.list_threads(ThreadQuery(descending=False, cursor="2099-01-01T00:00:00Z|z"))
    assert empty == ThreadPage(records=[], next_cursor=None, backwards_cursor=None)


async def test_limit_is_clamped(seeded: ThreadStore) -> None:
    assert len((await seeded.list_threads(ThreadQuery(limit=0))).records) == 1
    assert len((await seeded.list_threads(ThreadQuery(limit=-3))).records) == 1
    unarchived = len(reference(DATASET, ThreadQuery()))
    page = await seeded.list_threads(ThreadQuery(limit=5000))
    assert len(page.records) == min(unarchived, 1000)


async def test_empty_store(store: ThreadStore) -> None:
    assert await store.list_threads(ThreadQuery()) == ThreadPage(records=[], next_cursor=None, backwards_cursor=None)


async def test_unknown_sort_key(store: ThreadStore) -> None:
    with pytest.raises(ValueError, match="sort key"):
        await store.list_threads(ThreadQuery(sort_key="recency_at"))  # type: ignore[arg-type]


@pytest.mark.parametrize("descending", [True, False])
async def test_a_thousand_threads_in_one_second_page_exactly_once(store: ThreadStore, descending: bool) -> None:
    ids = [new_id() for _ in range(1000)]
    for thread_id in ids:
        await store.put_thread(
            ThreadRecord(
                id=thread_id,
                created_at=BASE,
                updated_at=BASE,
                cwd="/a",
                model_provider="mock",
                source_kind="vscode",
                source="vscode",
                originator=None,
            )
        )
    for sort_key in ("created_at", "updated_at"):
        query = ThreadQuery(sort_key=sort_key, descending=descending, limit=25)
        got = [r.id for page in await page_all(store, query) for r in page.records]
        assert got == sorted(ids, reverse=descending)
