"""``-32001``: a server forced into overload (one request in flight at most) refuses the next
request; the client retries with exponential backoff and jitter, then gives up with a typed error."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from agent_app_server.client import AsyncClient, Backoff, ClientOptions, RpcServerOverloaded
from agent_app_server.embedded import connect_embedded
from agent_app_server.rpc import PeerLimits

UNSANDBOXED = {"type": "dangerFullAccess"}


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "gate"
    os.mkfifo(path)
    return path


def release(fifo: Path) -> asyncio.Task[None]:
    """Open the gate: the blocked `cat` reads a line and exits (opening blocks until it reads)."""
    return asyncio.create_task(asyncio.to_thread(fifo.write_text, "released\n"))


async def overloaded_client(home: Path, options: ClientOptions) -> AsyncClient:
    return await connect_embedded(home, options=options, limits=PeerLimits(max_pending_requests=1))


@pytest.fixture
def retries() -> list[tuple[str, int, float]]:
    return []


async def test_overloaded_requests_are_retried_until_they_pass(
    home: Path, fifo: Path, retries: list[tuple[str, int, float]]
) -> None:
    opened: list[asyncio.Task[None]] = []

    def on_retry(method: str, attempt: int, delay: float) -> None:
        retries.append((method, attempt, delay))
        if not opened:
            opened.append(release(fifo))

    exec_sent = asyncio.Event()

    def tap(direction: str, text: str) -> None:
        if direction == "send" and '"command/exec"' in text:
            exec_sent.set()

    options = ClientOptions(
        overload_retry=Backoff(max_attempts=60, base_delay=0.005, max_delay=0.1),
        on_overload_retry=on_retry,
        wire_tap=tap,
    )
    async with await overloaded_client(home, options) as client:
        # Occupies the only slot until the gate opens: sent first, so the server reads it first.
        blocked = asyncio.create_task(client.command_exec(command=["cat", str(fifo)], sandbox_policy=UNSANDBOXED))
        await exec_sent.wait()
        listed = await client.thread_loaded_list()
        result = await blocked
        await opened[0]
    assert listed.data == []
    assert result.exit_code == 0 and result.stdout == "released\n"
    assert retries and all(method == "thread/loaded/list" for method, _, _ in retries)
    attempts = [attempt for _, attempt, _ in retries]
    assert attempts == list(range(1, len(attempts) + 1))
    for _, attempt, delay in retries:
        ceiling = min(0.1, 0.005 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling, "exponential, with jitter in the upper half"


async def test_retries_are_bounded_then_a_typed_error(
    home: Path, fifo: Path, retries: list[tuple[str, int, float]]
) -> None:
    exec_sent = asyncio.Event()
    options = ClientOptions(
        overload_retry=Backoff(max_attempts=3, base_delay=0.001, max_delay=0.002),
        on_overload_retry=lambda *retry: retries.append(retry),
        wire_tap=lambda direction, text: exec_sent.set() if '"command/exec"' in text else None,
    )
    async with await overloaded_client(home, options) as client:
        blocked = asyncio.create_task(client.command_exec(command=["cat", str(fifo)], sandbox_policy=UNSANDBOXED))
        await exec_sent.wait()
        with pytest.raises(RpcServerOverloaded) as refused:
            await client.thread_loaded_list()
        await release(fifo)
        assert (await blocked).exit_code == 0
    assert refused.value.attempts == 3 and refused.value.code == -32001
    assert "gave up after 3 attempts" in str(refused.value)
    assert [attempt for _, attempt, _ in retries] == [1, 2]
