"""Thread queues: follow-up prompts a client queues while a turn runs, started in order, one turn
after another, visible to every client of the thread.

Owns: each thread's queue (kept in its record, so it survives a restart like the rest of the
thread), the rules of add / update / delete / reorder / start, and draining: whenever the thread
is idle and its queue is not empty, the first submission starts as a turn; when that turn ends,
the next one does. Every change is announced with ``thread/queue/changed``.
Layer: core.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..rpc.errors import InvalidParams, InvalidRequest
from .ids import uuid7

if TYPE_CHECKING:
    from .threads import LoadedThread, ThreadManager
    from .turns import TurnEngine, TurnRunner

#: Where a thread's queue lives in its record's ``extra``.
QUEUE_KEY = "queue"


class ThreadQueues:
    def __init__(self, threads: ThreadManager, turns: TurnEngine) -> None:
        self._threads = threads
        self._turns = turns
        #: Turns whose end already drains the queue (one callback per turn).
        self._watched: set[str] = set()

    # ------------------------------------------------------------------ reading

    @staticmethod
    def submissions(thread: LoadedThread) -> list[dict[str, Any]]:
        """The thread's queue, in order: wire ``QueuedSubmission`` dicts."""
        queue = thread.record.extra.get(QUEUE_KEY)
        return queue if isinstance(queue, list) else []

    # ------------------------------------------------------------------ changes

    async def add(
        self, thread: LoadedThread, user_input: list[dict[str, Any]], client_message_id: str, metadata: Any
    ) -> dict[str, Any]:
        if not user_input:
            raise InvalidParams("input must contain at least one item")
        submission = {
            "id": uuid7(),
            "input": user_input,
            "clientUserMessageId": client_message_id,
            "responsesapiClientMetadata": metadata or None,
        }
        await self._save(thread, [*self.submissions(thread), submission])
        self.drain_soon(thread)
        return submission

    async def update(
        self, thread: LoadedThread, submission_id: str, user_input: list[dict[str, Any]], metadata: Any
    ) -> dict[str, Any]:
        if not user_input:
            raise InvalidParams("input must contain at least one item")
        queue = self.submissions(thread)
        index = _index(queue, submission_id)
        updated = {**queue[index], "input": user_input}
        if metadata:
            updated["responsesapiClientMetadata"] = metadata
        await self._save(thread, [*queue[:index], updated, *queue[index + 1 :]])
        return updated

    async def delete(self, thread: LoadedThread, submission_id: str) -> bool:
        queue = self.submissions(thread)
        kept = [submission for submission in queue if submission["id"] != submission_id]
        await self._save(thread, kept)
        return len(kept) < len(queue)

    async def reorder(self, thread: LoadedThread, order: list[str]) -> None:
        queue = self.submissions(thread)
        by_id = {submission["id"]: submission for submission in queue}
        if sorted(order) != sorted(by_id) or len(set(order)) != len(order):
            raise InvalidParams(
                f"queue reorder must include every queued submission exactly once; the queue holds {sorted(by_id)}"
            )
        await self._save(thread, [by_id[submission_id] for submission_id in order])

    async def start(self, thread: LoadedThread, submission_id: str | None) -> TurnRunner:
        """Start a queued submission (the first one when ``submission_id`` is None) now."""
        if thread.active is not None:
            raise InvalidRequest(
                "thread already has an active or pending turn; the queue starts the next submission when it ends"
            )
        queue = self.submissions(thread)
        if not queue:
            raise InvalidParams(f"the queue of thread {thread.id} is empty")
        index = 0 if submission_id is None else _index(queue, submission_id)
        return await self._start(thread, queue, index)

    # ------------------------------------------------------------------ draining

    def drain_soon(self, thread: LoadedThread) -> None:
        """Start the next submission when the thread is (or becomes) idle."""
        active = thread.active
        if active is None:
            asyncio.get_running_loop().call_soon(self._drain_later, thread)
        elif active.turn_id not in self._watched and active.task is not None:
            self._watched.add(active.turn_id)
            turn_id = active.turn_id

            def ended(_task: asyncio.Task[None]) -> None:
                self._watched.discard(turn_id)
                self._drain_later(thread)

            active.task.add_done_callback(ended)

    def _drain_later(self, thread: LoadedThread) -> None:
        asyncio.get_running_loop().create_task(self._drain(thread), name=f"queue-{thread.id}")

    async def _drain(self, thread: LoadedThread) -> None:
        if thread.active is not None:
            self.drain_soon(thread)
            return
        if self._threads.loaded(thread.id) is not thread:
            return  # unloaded or deleted meanwhile: its queue waits for its next load
        queue = self.submissions(thread)
        if queue:
            await self._start(thread, queue, 0)

    async def _start(self, thread: LoadedThread, queue: list[dict[str, Any]], index: int) -> TurnRunner:
        submission = queue[index]
        await self._save(thread, [*queue[:index], *queue[index + 1 :]])
        runner = self._turns.start(thread, submission["input"])
        self._turns.launch(runner)
        self.drain_soon(thread)
        return runner

    async def _save(self, thread: LoadedThread, queue: list[dict[str, Any]]) -> None:
        thread.record.extra[QUEUE_KEY] = queue
        if thread.materialized:
            await self._threads.store.update_thread(thread.id, extra=thread.record.extra)
        self._turns.sink.emit(thread.id, "thread/queue/changed", {"threadId": thread.id})


def _index(queue: list[dict[str, Any]], submission_id: str) -> int:
    for index, submission in enumerate(queue):
        if submission["id"] == submission_id:
            return index
    raise InvalidParams(f"no queued submission {submission_id} in this thread's queue; see thread/queue/list")
