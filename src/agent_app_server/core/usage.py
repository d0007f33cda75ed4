"""Token usage as recorded here: what ``account/usage/read`` reports.

Owns: the per-thread ledger of the tokens its turns used (kept in the thread's record, so it
survives a restart: tokens per UTC day, totals per model and reasoning effort, the longest turn),
filled as each turn ends, and the summaries read from it — one thread's, or every stored
thread's (lifetime tokens, peak day, day streaks, daily buckets).
Layer: core.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..store import ThreadQuery

if TYPE_CHECKING:
    from ..store import ThreadRecord
    from .turns import TurnEngine, TurnRunner

#: Where a thread's ledger lives in its record's ``extra``.
USAGE_KEY = "tokenUsage"
#: The breakdown keys a group keeps (wire ``TokenUsageBreakdown`` names).
_GROUP_KEYS = ("inputTokens", "cachedInputTokens", "outputTokens", "totalTokens")


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


class UsageLedger:
    """Records each finished turn's usage in its thread; owned by the :class:`~.turns.TurnEngine`."""

    def __init__(self, engine: TurnEngine) -> None:
        self._threads = engine.threads
        self._tasks: set[asyncio.Task[None]] = set()
        engine.on_finished(self._turn_finished)

    def _turn_finished(self, runner: TurnRunner) -> None:
        thread = runner.thread
        if thread.ephemeral:
            return
        ledger = ledger_of(thread.record)
        tokens = runner.usage.get("totalTokens", 0)
        if tokens:
            day = _today().isoformat()
            ledger["days"][day] = ledger["days"].get(day, 0) + tokens
            key = f"{thread.settings.model}\n{thread.settings.reasoning_effort or ''}"
            group = ledger["groups"].setdefault(key, dict.fromkeys(_GROUP_KEYS, 0))
            for name in _GROUP_KEYS:
                group[name] += runner.usage.get(name, 0)
        seconds = max(0, round((time.time() * 1000 - runner.started_ms) / 1000))
        ledger["longestTurnSec"] = max(ledger["longestTurnSec"], seconds)
        thread.record.extra[USAGE_KEY] = ledger
        task = asyncio.get_running_loop().create_task(self._threads.save_extra(thread.record, thread))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def read(self, thread_id: str | None) -> dict[str, Any]:
        """The wire ``GetAccountTokenUsageResponse``: one thread's usage, or every thread's."""
        if thread_id is not None:
            record, _ = await self._threads.read(thread_id)
            ledger = ledger_of(record)
            response = summarize([ledger])
            response["threadUsage"] = {
                "threadId": record.id,
                "groups": [_group_wire(key, group) for key, group in sorted(ledger["groups"].items())],
                # Credits are a ChatGPT plan's; this server spends none. A dollar price is unknown.
                "estimatedUsageCreditsMicros": 0,
                "estimatedUsageUsdMicros": None,
                "nativeUsageUsdMicros": None,
            }
            return response
        return summarize(ledger_of(record) for record in await self._all_records())

    async def _all_records(self) -> list[ThreadRecord]:
        """Every stored thread (archived too), the loaded ones as they are in memory."""
        records: dict[str, ThreadRecord] = {}
        for archived in (False, True):
            cursor = None
            while True:
                page = await self._threads.store.list_threads(
                    ThreadQuery(cursor=cursor, limit=1000, archived=archived, source_kinds=None)
                )
                records.update((record.id, record) for record in page.records)
                cursor = page.next_cursor
                if cursor is None:
                    break
        for thread in self._threads.loaded_threads():
            records[thread.id] = thread.record
        return list(records.values())


def ledger_of(record: ThreadRecord) -> dict[str, Any]:
    ledger = record.extra.get(USAGE_KEY)
    if not isinstance(ledger, dict):
        return {"days": {}, "groups": {}, "longestTurnSec": 0}
    return ledger


def summarize(ledgers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    days: dict[str, int] = {}
    longest_turn = 0
    for ledger in ledgers:
        for day, tokens in ledger["days"].items():
            days[day] = days.get(day, 0) + tokens
        longest_turn = max(longest_turn, ledger["longestTurnSec"])
    used = sorted(datetime.date.fromisoformat(day) for day, tokens in days.items() if tokens > 0)
    longest_streak = streak = 0
    previous: datetime.date | None = None
    for day in used:
        streak = streak + 1 if previous is not None and (day - previous).days == 1 else 1
        longest_streak = max(longest_streak, streak)
        previous = day
    # A streak is current while its last day is today or yesterday (today may not have begun).
    current = streak if previous is not None and (_today() - previous).days <= 1 else 0
    return {
        "summary": {
            "lifetimeTokens": sum(days.values()),
            "peakDailyTokens": max(days.values(), default=0),
            "currentStreakDays": current,
            "longestStreakDays": longest_streak,
            "longestRunningTurnSec": longest_turn,
        },
        "dailyUsageBuckets": [{"startDate": day, "tokens": days[day]} for day in sorted(days)],
        "threadUsage": None,
    }


def _group_wire(key: str, group: dict[str, int]) -> dict[str, Any]:
    model, _, effort = key.partition("\n")
    return {
        "model": model or None,
        "reasoningEffort": effort or None,
        "speed": None,
        "inputTokens": group["inputTokens"],
        "cachedInputTokens": group["cachedInputTokens"],
        "netNewInputTokens": group["inputTokens"] - group["cachedInputTokens"],
        "outputTokens": group["outputTokens"],
        "totalTokens": group["totalTokens"],
        "estimatedUsageCreditsMicros": 0,
    }
