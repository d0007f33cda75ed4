"""Thread goals: an objective the agent keeps working toward, turn after turn, until it is
complete, paused, blocked or out of budget.

Owns: each thread's goal (kept in its record, so it survives a restart like the rest of the
thread), the rules of ``thread/goal/set|clear`` (as the reference: the same unfinished objective
is updated, another one replaces it), the accounting of tokens and time of the turns run while
the goal is active (a budget reached makes it ``budgetLimited``), the automatic continuation
turns an active goal starts whenever its thread goes idle, what those turns tell the model (the
objective as a ``goal_objective`` context item and a ``<codex_internal_context source="goal">``
message with the budget — the reference's shapes, our wording), and the model's goal tools
(``get_goal``, ``create_goal``, ``update_goal``).
Layer: core.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..rpc.errors import InvalidParams
from .ids import uuid7
from .instructions import user_message

__all__ = ["GOAL_KEY", "GOAL_TOOLS", "GOAL_TOOL_NAMES", "ThreadGoals", "goal_of", "new_goal"]

if TYPE_CHECKING:
    from ..store import ThreadRecord
    from .threads import LoadedThread
    from .turns import TurnEngine, TurnRunner

#: Where a thread's goal lives in its record's ``extra`` (a wire ``ThreadGoal``).
GOAL_KEY = "goal"
#: Where the thread queue lives (``core.queue``): queued prompts run before a continuation.
_QUEUE_KEY = "queue"
#: The name of the context item that carries the objective to the model, as the reference's.
OBJECTIVE_ITEM_NAME = "goal_objective"
FINISHED = ("complete",)
#: As the reference: a longer objective is refused.
MAX_OBJECTIVE_CHARS = 4000
#: Statuses a client may set; ``budgetLimited`` and ``usageLimited`` are also set by the accounting.
STATUSES = ("active", "paused", "blocked", "usageLimited", "budgetLimited", "complete")
#: What the model may set with ``update_goal`` (the rest is the user's or the accounting's).
MODEL_STATUSES = ("complete", "blocked", "paused")

CONTINUATION_PROMPT = """\
Keep working on this thread's goal: the objective in the goal_objective context above (call
get_goal if it is missing or cut short).

Budget:
- Tokens used: {used}
- Token budget: {budget}
- Tokens remaining: {remaining}

How to continue:
- The goal spans turns. Make real progress toward the whole objective in this turn; do not
  shrink it to what fits now or redefine success as something easier.
- Check the current state of the workspace and of anything the objective depends on before
  relying on earlier turns: it is the evidence, the conversation is not.
- If the previous goal turn made no progress, say why and take the next safe step. Only when the
  same blocker has stopped you for three goal turns in a row, call update_goal with status
  "blocked".
- Call update_goal with status "complete" only once you have checked, requirement by
  requirement, that the objective is met; a nearly spent budget is not completion. When a
  budgeted goal is complete, report the tokens it used.
- Set status "paused" only when the user asks for a pause.
"""

GET_GOAL_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_goal",
    "description": "Read this thread's goal: its objective, status, token budget, tokens and time used so far, "
    "and the tokens left in its budget.",
    "strict": False,
    "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
}
CREATE_GOAL_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "create_goal",
    "description": "Start a goal for this thread, only when the user (or the system or developer instructions) "
    "asks for one; never turn an ordinary task into a goal. Give token_budget only when a budget was asked "
    "for. Fails while an unfinished goal exists.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "objective": {"type": "string", "description": "Required. The concrete objective to pursue."},
            "token_budget": {
                "type": "integer",
                "description": "A positive token budget for the goal. Leave out unless one was asked for.",
            },
        },
        "required": ["objective"],
        "additionalProperties": False,
    },
}
UPDATE_GOAL_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "update_goal",
    "description": "Change the status of this thread's goal. `complete`: the objective is achieved and verified. "
    "`blocked`: the same blocker stopped you for three goal turns in a row. `paused`: only at the user's "
    "request. Resuming and budget limits are not yours to set.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "status": {
                "type": "string",
                "description": "Required. `complete`, `blocked` or `paused` (see the tool description).",
                "enum": list(MODEL_STATUSES),
            }
        },
        "required": ["status"],
        "additionalProperties": False,
    },
}
GOAL_TOOLS = (GET_GOAL_TOOL, CREATE_GOAL_TOOL, UPDATE_GOAL_TOOL)
GOAL_TOOL_NAMES = frozenset(tool["name"] for tool in GOAL_TOOLS)


def goal_of(record: ThreadRecord) -> dict[str, Any] | None:
    goal = record.extra.get(GOAL_KEY)
    return goal if isinstance(goal, dict) else None


def _check_budget(budget: int | None) -> None:
    if budget is not None and budget <= 0:
        raise InvalidParams("goal budgets must be positive when provided (send null to remove the budget)")


class ThreadGoals:
    """The goals of one server's threads; owned by the :class:`~.turns.TurnEngine`."""

    def __init__(self, engine: TurnEngine) -> None:
        self._engine = engine
        #: Threads whose continuation is already scheduled (one at a time per thread).
        self._continuing: set[str] = set()
        #: Writes and continuations under way (held so they are not collected before they run).
        self._tasks: set[asyncio.Task[None]] = set()
        engine.on_finished(self._turn_finished)

    # ------------------------------------------------------------------ reading

    async def _thread(self, thread_id: str) -> tuple[ThreadRecord, LoadedThread | None]:
        record, loaded = await self._engine.threads.read(thread_id)
        if loaded is not None and loaded.ephemeral:
            raise InvalidParams(f"ephemeral thread does not support goals: {record.id}")
        return record, loaded

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        record, _ = await self._thread(thread_id)
        return goal_of(record)

    # ------------------------------------------------------------------ changes

    async def set(
        self,
        thread_id: str,
        *,
        objective: str | None,
        status: str | None,
        token_budget: int | None,
        budget_given: bool,
    ) -> tuple[str, dict[str, Any]]:
        """``thread/goal/set``: the thread's id and its goal as it now is. Call :meth:`announce`
        after the reply."""
        record, loaded = await self._thread(thread_id)
        current = goal_of(record)
        now = int(time.time())
        if objective is not None:
            objective = objective.strip()
            if not objective:
                raise InvalidParams("goal objective must not be empty")
            if len(objective) > MAX_OBJECTIVE_CHARS:
                raise InvalidParams(f"goal objective must be at most {MAX_OBJECTIVE_CHARS} characters")
            _check_budget(token_budget)
            if current is None or current["objective"] != objective or current["status"] in FINISHED:
                goal = new_goal(record.id, objective, status or "active", token_budget, now)
                await self._save(record, loaded, goal)
                return record.id, goal
        else:
            _check_budget(token_budget)
        if current is None:
            raise InvalidParams(
                f"cannot update goal for thread {record.id}: no goal exists; send an objective to create one"
            )
        goal = dict(current)
        if status is not None:
            goal["status"] = status
        if budget_given:
            goal["tokenBudget"] = token_budget
        goal["updatedAt"] = now
        await self._save(record, loaded, goal)
        return record.id, goal

    async def clear(self, thread_id: str) -> tuple[str, bool]:
        record, loaded = await self._thread(thread_id)
        if goal_of(record) is None:
            return record.id, False
        await self._save(record, loaded, None)
        return record.id, True

    def after_change(self, thread_id: str) -> None:
        """After a set (once its reply is out): an active goal on an idle loaded thread starts working."""
        thread = self._engine.threads.loaded(thread_id)
        if thread is not None:
            self._continue_when_idle(thread)

    async def _save(self, record: ThreadRecord, loaded: LoadedThread | None, goal: dict[str, Any] | None) -> None:
        if goal is None:
            record.extra.pop(GOAL_KEY, None)
        else:
            record.extra[GOAL_KEY] = goal
        await self._engine.threads.save_extra(record, loaded)

    # ------------------------------------------------------------------ accounting

    def _turn_finished(self, runner: TurnRunner) -> None:
        """Before ``turn/completed``, as the reference: a completed turn's tokens and time count
        against an active goal, which is announced (with the turn's id); a reached budget stops it."""
        thread = runner.thread
        goal = goal_of(thread.record)
        if goal is None or goal["status"] != "active" or runner.compact_only:
            return
        if runner.status != "completed":
            # As the reference: an interrupted (or failed) turn is not accounted, and the goal
            # waits, still active, for the user's next turn instead of continuing on its own.
            return
        goal = dict(goal)
        goal["tokensUsed"] += runner.usage.get("totalTokens", 0)
        goal["timeUsedSeconds"] += max(0, round((time.time() * 1000 - runner.started_ms) / 1000))
        goal["updatedAt"] = int(time.time())
        budget = goal.get("tokenBudget")
        if budget is not None and goal["tokensUsed"] >= budget:
            goal["status"] = "budgetLimited"
        thread.record.extra[GOAL_KEY] = goal
        self._spawn(self._engine.threads.save_extra(thread.record, thread), f"goal-save-{thread.id}")
        runner.emit("thread/goal/updated", {"threadId": thread.id, "turnId": runner.turn_id, "goal": goal})
        if goal["status"] == "active":
            self._continue_when_idle(thread)

    # ------------------------------------------------------------------ continuation

    def _continue_when_idle(self, thread: LoadedThread) -> None:
        goal = goal_of(thread.record)
        if goal is None or goal["status"] != "active" or thread.id in self._continuing:
            return
        self._continuing.add(thread.id)
        active = thread.active
        if active is not None and active.task is not None and not active.task.done():
            active.task.add_done_callback(lambda _task: self._schedule(thread))
        else:
            self._schedule(thread)

    def _schedule(self, thread: LoadedThread) -> None:
        # After the callbacks already queued (the thread queue drains first).
        asyncio.get_running_loop().call_soon(lambda: self._spawn(self._continue(thread), f"goal-{thread.id}"))

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _continue(self, thread: LoadedThread) -> None:
        self._continuing.discard(thread.id)
        engine = self._engine
        if engine.threads.loaded(thread.id) is not thread:
            return  # unloaded or deleted meanwhile
        if thread.active is not None:
            # A user turn (or a queued one) runs first; its end continues the goal.
            return
        if thread.record.extra.get(_QUEUE_KEY):
            return  # the queue starts its next submission; that turn's end continues the goal
        goal = goal_of(thread.record)
        if goal is None or goal["status"] != "active":
            return
        runner = engine.start(thread, [], context_input=self._continuation_context(thread, goal))
        engine.launch(runner)

    def _continuation_context(self, thread: LoadedThread, goal: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if _last_objective(thread.turn_state.context or []) != goal["objective"]:
            items.append(
                {
                    "type": "function_call_output",
                    "id": f"fco_{uuid7()}",
                    "name": OBJECTIVE_ITEM_NAME,
                    "namespace": "agent",
                    "output": goal["objective"],
                }
            )
        budget = goal.get("tokenBudget")
        used = goal["tokensUsed"]
        prompt = CONTINUATION_PROMPT.format(
            used=used,
            budget="none" if budget is None else budget,
            remaining="unbounded" if budget is None else max(0, budget - used),
        )
        items.append(user_message(f'<codex_internal_context source="goal">\n{prompt}\n</codex_internal_context>'))
        return items

    # ------------------------------------------------------------------ the model's tools

    async def tool_call(self, runner: TurnRunner, name: str, args: dict[str, Any]) -> str:
        """``get_goal`` / ``create_goal`` / ``update_goal`` from the model: the output it reads."""
        thread = runner.thread
        if thread.ephemeral:
            return "goals are not available on an ephemeral thread"
        goal = goal_of(thread.record)
        if name == "get_goal":
            return json.dumps({"goal": _with_remaining(goal)})
        if name == "create_goal":
            objective = args.get("objective")
            budget = args.get("token_budget")
            if not isinstance(objective, str) or not objective.strip():
                return "create_goal needs a non-empty `objective` string"
            if len(objective.strip()) > MAX_OBJECTIVE_CHARS:
                return f"the objective must be at most {MAX_OBJECTIVE_CHARS} characters"
            if budget is not None and (not isinstance(budget, int) or budget <= 0):
                return "`token_budget` must be a positive integer when given"
            if goal is not None and goal["status"] not in FINISHED:
                return "this thread already has an unfinished goal; use update_goal to change its status"
            goal = new_goal(thread.id, objective.strip(), "active", budget, int(time.time()))
        else:
            status = args.get("status")
            if status not in MODEL_STATUSES:
                return f"update_goal `status` must be one of {', '.join(MODEL_STATUSES)}"
            if goal is None:
                return "this thread has no goal to update"
            goal = {**goal, "status": status, "updatedAt": int(time.time())}
        await self._save(thread.record, thread, goal)
        runner.emit("thread/goal/updated", {"threadId": thread.id, "turnId": runner.turn_id, "goal": goal})
        return json.dumps({"goal": _with_remaining(goal)})


def new_goal(thread_id: str, objective: str, status: str, budget: int | None, now: int) -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "objective": objective,
        "status": status,
        "tokenBudget": budget,
        "tokensUsed": 0,
        "timeUsedSeconds": 0,
        "createdAt": now,
        "updatedAt": now,
    }


def _with_remaining(goal: dict[str, Any] | None) -> dict[str, Any] | None:
    if goal is None:
        return None
    budget = goal.get("tokenBudget")
    return {**goal, "remainingTokens": None if budget is None else max(0, budget - goal["tokensUsed"])}


def _last_objective(context: list[dict[str, Any]]) -> str | None:
    for item in reversed(context):
        if item.get("type") == "function_call_output" and item.get("name") == OBJECTIVE_ITEM_NAME:
            output = item.get("output")
            return output if isinstance(output, str) else None
    return None
