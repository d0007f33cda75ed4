"""Run a coroutine at once, up to its first real suspension, and hand the rest to a task.

Owns: :func:`start_eagerly`, what Python 3.12 calls an eager task (``asyncio.eager_task_factory``),
for 3.11, and :class:`resume`, which lets a task take over a coroutine started by hand. Most
handlers never wait on anything: run eagerly, they answer in the same event-loop step that read
the request, instead of costing a task and one more loop iteration each.
Layer: rpc (asyncio only).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["resume", "start_eagerly"]

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run ``coro`` now; None if it finished, else the task that runs the rest.

    As with a task, the coroutine runs in a copy of the current context, and that same copy is
    the task's: context variables it sets stay its own. Cancelling the task reaches the coroutine
    even before the task's first step.
    """
    context = contextvars.copy_context()
    try:
        suspended_on = context.run(coro.send, None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(resume(coro, suspended_on), context=context)


class resume(Coroutine[Any, Any, T]):
    """A coroutine already started by hand (``coro.send(None)`` returned ``suspended_on``, what it
    waits for), as a coroutine again: to await, or to run as a task. Its first step reports what
    ``coro`` waits on; from then on every value or exception (a cancellation) goes to ``coro``."""

    __slots__ = ("_coro", "_suspended_on")

    def __init__(self, coro: Coroutine[Any, Any, T], suspended_on: Any) -> None:
        self._coro = coro
        self._suspended_on: Any = suspended_on

    def send(self, value: Any) -> Any:
        suspended_on, self._suspended_on = self._suspended_on, _STARTED
        if suspended_on is not _STARTED:
            return suspended_on
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._suspended_on = _STARTED
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, Any, T]:
        return self  # an iterator with send and throw: what a generator offers

    def __iter__(self) -> resume[T]:
        return self

    def __next__(self) -> Any:
        return self.send(None)


#: "The first step has been taken": nothing more to report before resuming the coroutine.
_STARTED: Any = object()
