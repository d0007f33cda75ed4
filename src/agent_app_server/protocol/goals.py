"""Thread goals: ``thread/goal/set|get|clear`` and the ``thread/goal/updated`` /
``thread/goal/cleared`` notifications.

Owns: their params, results, ``ThreadGoal`` and the notifications.
Layer: protocol (imports ``_base``, ``common`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import CheckedInt64, Int64

__all__ = [
    "ThreadGoal",
    "ThreadGoalClearParams",
    "ThreadGoalClearResponse",
    "ThreadGoalClearedNotification",
    "ThreadGoalGetParams",
    "ThreadGoalGetResponse",
    "ThreadGoalMutationOrigin",
    "ThreadGoalSetParams",
    "ThreadGoalSetResponse",
    "ThreadGoalStatus",
    "ThreadGoalUpdatedNotification",
]

ThreadGoalStatus = TypeAliasType(
    "ThreadGoalStatus", Literal["active", "paused", "blocked", "usageLimited", "budgetLimited", "complete"]
)
#: Who changed the goal: the user, or the goal's own lifecycle (recorded, not acted on).
ThreadGoalMutationOrigin = TypeAliasType("ThreadGoalMutationOrigin", Literal["user", "automatic"])


class ThreadGoal(WireModel):
    thread_id: str
    objective: str
    status: ThreadGoalStatus
    token_budget: Int64 | None = None
    tokens_used: Int64
    time_used_seconds: Int64
    created_at: Int64
    updated_at: Int64


class ThreadGoalSetParams(WireModel):
    thread_id: str
    #: A new objective replaces the goal (unless it is the same unfinished one); None keeps it.
    objective: str | None = None
    status: ThreadGoalStatus | None = None
    #: Absent keeps the budget; null removes it.
    token_budget: CheckedInt64 | None = None
    origin: ThreadGoalMutationOrigin | None = None


class ThreadGoalSetResponse(WireModel):
    goal: ThreadGoal


class ThreadGoalGetParams(WireModel):
    thread_id: str


class ThreadGoalGetResponse(WireModel):
    goal: ThreadGoal | None = None


class ThreadGoalClearParams(WireModel):
    thread_id: str
    origin: ThreadGoalMutationOrigin | None = None


class ThreadGoalClearResponse(WireModel):
    cleared: bool


class ThreadGoalUpdatedNotification(WireModel):
    thread_id: str
    turn_id: str | None = None
    goal: ThreadGoal


class ThreadGoalClearedNotification(WireModel):
    thread_id: str


registry.notification("thread/goal/updated", ThreadGoalUpdatedNotification)
registry.notification("thread/goal/cleared", ThreadGoalClearedNotification)
