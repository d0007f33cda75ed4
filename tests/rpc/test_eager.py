"""``rpc._eager``: coroutines run at once up to their first suspension, then as tasks."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from agent_app_server.rpc._eager import resume, start_eagerly

current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="outer")


async def test_a_coroutine_that_never_waits_finishes_at_once() -> None:
    ran: list[str] = []

    async def work() -> None:
        ran.append(current.get())
        current.set("inner")

    assert start_eagerly(work()) is None
    assert ran == ["outer"]
    assert current.get() == "outer", "context changes stay the coroutine's own"


async def test_a_coroutine_that_waits_continues_as_a_task_with_its_context() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def work() -> None:
        current.set("inner")
        seen.append(await gate)
        seen.append(current.get())
        await asyncio.sleep(0)
        seen.append("done")

    task = start_eagerly(work())
    assert task is not None and not task.done()
    gate.set_result("opened")
    await task
    assert seen == ["opened", "inner", "done"]
    assert current.get() == "outer"


async def test_cancelling_the_task_reaches_the_coroutine() -> None:
    cleaned: list[bool] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append(True)

    task = start_eagerly(work())
    assert task is not None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]


async def test_resume_returns_the_value_and_raises_the_error() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def value() -> int:
        return await gate + 1

    coro = value()
    waiting_on = coro.send(None)
    gate.set_result(41)
    assert await resume(coro, waiting_on) == 42

    failing: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def error() -> int:
        return await failing

    coro = error()
    waiting_on = coro.send(None)
    failing.set_exception(ValueError("no"))
    with pytest.raises(ValueError, match="no"):
        await resume(coro, waiting_on)
