"""Token usage: ``account/usage/read``.

Owns: its params, result and the summary, daily bucket and per-thread usage types.
Layer: protocol (imports ``_base`` and ``common``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from ._base import WireModel
from .common import Int64

__all__ = [
    "AccountTokenUsageDailyBucket",
    "AccountTokenUsageSummary",
    "GetAccountTokenUsageParams",
    "GetAccountTokenUsageResponse",
    "ThreadUsage",
    "ThreadUsageBreakdownGroup",
]


class GetAccountTokenUsageParams(WireModel):
    #: Present: the usage of this thread instead of the whole account's.
    thread_id: str | None = None


class AccountTokenUsageSummary(WireModel):
    current_streak_days: Int64 | None = None
    lifetime_tokens: Int64 | None = None
    longest_running_turn_sec: Int64 | None = None
    longest_streak_days: Int64 | None = None
    peak_daily_tokens: Int64 | None = None


class AccountTokenUsageDailyBucket(WireModel):
    #: ``YYYY-MM-DD`` (UTC).
    start_date: str
    tokens: Int64


class ThreadUsageBreakdownGroup(WireModel):
    model: str | None = None
    reasoning_effort: str | None = None
    speed: str | None = None
    input_tokens: Int64 | None = None
    cached_input_tokens: Int64 | None = None
    net_new_input_tokens: Int64 | None = None
    output_tokens: Int64 | None = None
    total_tokens: Int64 | None = None
    estimated_usage_credits_micros: Int64


class ThreadUsage(WireModel):
    thread_id: str
    groups: list[ThreadUsageBreakdownGroup]
    estimated_usage_credits_micros: Int64
    estimated_usage_usd_micros: Int64 | None = None
    #: None means unknown, not zero.
    native_usage_usd_micros: Int64 | None = None


class GetAccountTokenUsageResponse(WireModel):
    summary: AccountTokenUsageSummary
    daily_usage_buckets: list[AccountTokenUsageDailyBucket] | None = None
    thread_usage: ThreadUsage | None = None
