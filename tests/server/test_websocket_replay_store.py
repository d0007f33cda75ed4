"""The notification replay log on disk (``store.NotificationLog``): what it keeps, what it prunes,
and how it tells a crash from a clean shutdown. Real SQLite files in the test's directory."""

from __future__ import annotations

import time
from pathlib import Path

from agent_app_server.store import NotificationLog, ThreadLogInfo

THREAD = "01a20e84-8691-788b-a91a-9d393eae88b5"


def rows(thread_id: str, first: int, last: int, at_ms: int | None = None) -> list[tuple[str, int, str, str, int]]:
    now = at_ms if at_ms is not None else time.time_ns() // 1_000_000
    return [(thread_id, seq, "m", f'{{"n":{seq}}}', now) for seq in range(first, last + 1)]


async def test_keeps_the_newest_per_thread_and_reports_what_it_pruned(tmp_path: Path) -> None:
    log = await NotificationLog.open(tmp_path / "n.sqlite3", keep_per_thread=100)
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


async def test_crash_is_detected_and_clean_close_is_not(tmp_path: Path) -> None:
    path = tmp_path / "n.sqlite3"
    first = await NotificationLog.open(path)
    assert not first.crashed
    await first.append(rows(THREAD, 1, 3))
    await first.close()
    second = await NotificationLog.open(path)
    assert not second.crashed
    assert (await second.info(THREAD)).last_seq == 3
    # Not closed: as if the process was killed.
    third = await NotificationLog.open(path)
    assert third.crashed
    await second.close()
    await third.close()


async def test_old_notifications_expire(tmp_path: Path) -> None:
    log = await NotificationLog.open(tmp_path / "n.sqlite3", max_age_s=3600)
    try:
        old_ms = (time.time_ns() // 1_000_000) - 7200 * 1000
        await log.append(rows(THREAD, 1, 5, at_ms=old_ms) + rows(THREAD, 6, 8))
        assert await log.prune_expired() == {THREAD: 5}
        assert await log.info(THREAD) == ThreadLogInfo(last_seq=8, pruned_upto=5)
        assert [n.seq for n in await log.read(THREAD, 0, 100, 100)] == [6, 7, 8]
    finally:
        await log.close()
