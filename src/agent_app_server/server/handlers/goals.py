"""``thread/goal/set|get|clear``: a thread's goal (``core.goals``), announced to the thread's
clients after the reply. Layer: server.
"""

from __future__ import annotations

from ...protocol.goals import (
    ThreadGoal,
    ThreadGoalClearParams,
    ThreadGoalClearResponse,
    ThreadGoalGetParams,
    ThreadGoalGetResponse,
    ThreadGoalSetParams,
    ThreadGoalSetResponse,
)
from ...rpc import Reply
from ..connection import Connection
from . import handler


def _recipients(conn: Connection, thread_id: str) -> list[Connection]:
    recipients = conn.app.subscribers(thread_id)
    return recipients if conn in recipients else [*recipients, conn]


@handler("thread/goal/set")
async def goal_set(conn: Connection, params: ThreadGoalSetParams) -> Reply:
    app = conn.app
    goals = app.turns.goals
    thread_id, goal = await goals.set(
        params.thread_id,
        objective=params.objective,
        status=params.status,
        token_budget=params.token_budget,
        budget_given="token_budget" in params.model_fields_set,
    )
    recipients = _recipients(conn, thread_id)

    def announce() -> None:
        app.deliver(recipients, "thread/goal/updated", {"threadId": thread_id, "turnId": None, "goal": goal})
        goals.after_change(thread_id)

    return Reply(ThreadGoalSetResponse(goal=ThreadGoal.model_validate(goal)), announce)


@handler("thread/goal/get")
async def goal_get(conn: Connection, params: ThreadGoalGetParams) -> ThreadGoalGetResponse:
    goal = await conn.app.turns.goals.get(params.thread_id)
    return ThreadGoalGetResponse(goal=None if goal is None else ThreadGoal.model_validate(goal))


@handler("thread/goal/clear")
async def goal_clear(conn: Connection, params: ThreadGoalClearParams) -> Reply:
    app = conn.app
    thread_id, cleared = await app.turns.goals.clear(params.thread_id)
    recipients = _recipients(conn, thread_id)
    if not cleared:
        return Reply(ThreadGoalClearResponse(cleared=False))
    return Reply(
        ThreadGoalClearResponse(cleared=True),
        lambda: app.deliver(recipients, "thread/goal/cleared", {"threadId": thread_id}),
    )
