"""The notification replay log (``store.NotificationLog``): what it keeps, what it prunes, and how
it tells a crash from a clean shutdown. Real SQLite files in the test's directory, and a database
of the session's PostgreSQL cluster (the same tests, where the behaviour is the same)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agent_app_server.store import NotificationLog, SqliteNotificationLog, ThreadLogInfo

THREAD = "01a20e84-8691-788b-a91a-9d393eae88b5"


@pytest.fixture(params=["sqlite", "postgresql"])
def log_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        return tmp_path / "n.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def rows(thread_id: str, first: int, last: int, at_ms: int | None = None) -> list[tuple[str, int, str, str, int]]:
    now = at_ms if at_ms is not None else time.time_ns() // 1_000_000
    return [(thread_id, seq, "m", f'{{"n":{seq}}}', now) for seq in range(first, last + 1)]


async def test_keeps_the_newest_per_thread_and_reports_what_it_pruned(log_location: Path | str) -> None:
    log = await NotificationLog.open(log_location, keep_per_thread=100)
    try:
        assert await log.append(rows(THREAD, 1, 120)) == {}  # within the batch slack: not pruned yet
        pruned = await log.append(rows(THREAD, 121, 130))
        assert pruned == {THREAD: 30}
        assert await log.info(THREAD) == ThreadLogInfo(last_seq=130, pruned_upto=30)
        kept = await log.read(THREAD, 0, 1_000, 1_000)
        assert [n.seq for n in kept] == list(range(31, 131))
        page = await log.read(THREAD, 40, 45, 10)
        assert [(n.seq, n.method, n.message) for n in page] == [(s, "m", f'{{"n":{s}}}') for s in range(41, 45)]
        assert await log.info("other") == ThreadLogInfo()
    finally:
        await log.close()


async def test_a_bound_below_one_is_refused(log_location: Path | str) -> None:
    with pytest.raises(ValueError, match="keep_per_thread must be at least 1, got 0"):
        await NotificationLog.open(log_location, keep_per_thread=0)


async def test_crash_is_detected_and_clean_close_is_not(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    first = await SqliteNotificationLog.open(path)
    assert not first.crashed
    await first.append(rows(THREAD, 1, 3))
    await first.close()
    second = await SqliteNotificationLog.open(path)
    assert not second.crashed
    assert (await second.info(THREAD)).last_seq == 3
    # Not closed: as if the process was killed.
    third = await SqliteNotificationLog.open(path)
    assert third.crashed
    assert (await third.info(THREAD)).crashed
    await second.close()
    await third.close()


async def test_a_shared_log_marks_the_threads_of_a_writer_that_went_away(pg_url: str) -> None:
    """In a database many servers share, a crash is a property of each thread's last writer."""
    first = await NotificationLog.open(pg_url)
    await first.append(rows(THREAD, 1, 3))
    await first.close()
    second = await NotificationLog.open(pg_url)
    assert not (await second.info(THREAD)).crashed
    await second.append(rows(THREAD, 4, 5))
    await second.append(rows("other", 1, 1))
    # ``second`` never closes: as if its server was killed. A live writer's own threads are not
    # crashed to itself; to everyone else they are, until a writer closes cleanly.
    third = await NotificationLog.open(pg_url)
    try:
        assert await third.info(THREAD) == ThreadLogInfo(last_seq=5, pruned_upto=0, crashed=True)
        assert not (await second.info(THREAD)).crashed
        await third.append(rows(THREAD, 6, 6))
        await third.close()
        fourth = await NotificationLog.open(pg_url)
        assert not (await fourth.info(THREAD)).crashed
        assert (await fourth.info("other")).crashed
        await fourth.close()
    finally:
        await second.close()


async def test_old_notifications_expire(log_location: Path | str) -> None:
    log = await NotificationLog.open(log_location, max_age_s=3600)
    try:
        old_ms = (time.time_ns() // 1_000_000) - 7200 * 1000
        await log.append(rows(THREAD, 1, 5, at_ms=old_ms) + rows(THREAD, 6, 8))
        assert await log.prune_expired() == {THREAD: 5}
        assert await log.info(THREAD) == ThreadLogInfo(last_seq=8, pruned_upto=5)
        assert [n.seq for n in await log.read(THREAD, 0, 100, 100)] == [6, 7, 8]
    finally:
        await log.close()


async def test_a_shared_log_pages_through_its_batches_exactly(pg_url: str) -> None:
    """The PostgreSQL log stores runs of numbers as batches; any range reads back as the rows."""
    log = await NotificationLog.open(pg_url, keep_per_thread=10_000)
    try:
        await log.append(rows(THREAD, 1, 700))  # more than a batch holds
        await log.append(rows(THREAD, 701, 705) + rows("other", 1, 3))
        await log.append(rows(THREAD, 706, 1200))
        seen: list[int] = []
        cursor = 0
        while page := await log.read(THREAD, cursor, 10_000, 37):
            assert len(page) <= 37
            seen += [n.seq for n in page]
            cursor = page[-1].seq
        assert seen == list(range(1, 1201))
        assert [n.seq for n in await log.read(THREAD, 499, 503, 10)] == [500, 501, 502]
        assert [(n.seq, n.message) for n in await log.read("other", 0, 10, 10)] == [
            (s, f'{{"n":{s}}}') for s in (1, 2, 3)
        ]
        # A message that is not JSON text (raw separators of the stored form) reads back escaped.
        await log.append([(THREAD, 1201, "m", '{"s":"a\x1eb\x1fc"}', 0)])
        (odd,) = await log.read(THREAD, 1200, 1202, 10)
        assert (odd.method, odd.message) == ("m", '{"s":"a\\u001eb\\u001fc"}')
    finally:
        await log.close()


async def test_a_shared_log_of_one_row_per_notification_is_migrated(pg_url: str) -> None:
    import psycopg

    from agent_app_server.store.pg_schema import _NOTIFICATION_LOG_MIGRATIONS, migrate

    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await migrate(conn, "test", "notification_log_version", 1, _NOTIFICATION_LOG_MIGRATIONS, "notification log")
        for seq in (1, 2, 3):
            await conn.execute(
                "INSERT INTO notifications (thread_id, seq, method, message, created_at_ms) VALUES (%s, %s, %s, %s, %s)",
                (THREAD, seq, "m", f'{{"n":{seq}}}', time.time_ns() // 1_000_000),
            )
        await conn.execute("INSERT INTO thread_seq (thread_id, last_seq, pruned_upto) VALUES (%s, 3, 0)", (THREAD,))
    log = await NotificationLog.open(pg_url)
    try:
        assert [(n.seq, n.message) for n in await log.read(THREAD, 0, 100, 100)] == [
            (s, f'{{"n":{s}}}') for s in (1, 2, 3)
        ]
        await log.append(rows(THREAD, 4, 5))
        assert [n.seq for n in await log.read(THREAD, 2, 100, 100)] == [3, 4, 5]
    finally:
        await log.close()
