"""CommandProcesses (the ``command/exec`` registry) with real processes: caps, streaming, the
environment, process ids per owner, and an owner's processes dying with it."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.command_exec import CommandProcesses, CommandRequest, CommandResult
from agent_app_server.core.config import load_config
from agent_app_server.rpc import InvalidRequest

UNSANDBOXED = {"type": "dangerFullAccess"}


@pytest.fixture
def processes(tmp_path: Path) -> CommandProcesses:
    return CommandProcesses(load_config(tmp_path))


class Deltas:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, bool]] = []
        self.first = asyncio.Event()

    async def __call__(self, stream: str, data: bytes, cap_reached: bool) -> None:
        self.seen.append((stream, data, cap_reached))
        self.first.set()


async def _start_sleeper(processes: CommandProcesses, owner: int) -> asyncio.Future[CommandResult]:
    """A command registered as ``p`` that runs until it is ended."""
    deltas = Deltas()
    request = _request("echo ready; exec sleep 30", process_id="p", stream_output=True)
    running = asyncio.ensure_future(processes.run(owner, request, deltas))
    await asyncio.wait_for(deltas.first.wait(), 20)
    return running


def _request(script: str, **fields: Any) -> CommandRequest:
    return CommandRequest(argv=["sh", "-c", script], sandbox_policy=UNSANDBOXED, **fields)


async def test_buffered_output_is_capped_per_stream(processes: CommandProcesses) -> None:
    deltas = Deltas()
    result = await processes.run(1, _request("printf 0123456789; printf abc >&2; exit 3", output_cap=4), deltas)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "0123", "abc")
    assert deltas.seen == []


async def test_streamed_output_goes_to_the_callback_and_says_when_the_cap_is_reached(
    processes: CommandProcesses,
) -> None:
    deltas = Deltas()
    request = _request("printf 0123456789", process_id="p", stream_output=True, output_cap=4)
    result = await processes.run(1, request, deltas)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert b"".join(data for _, data, _ in deltas.seen) == b"0123"
    assert deltas.seen[-1][2] is True


async def test_environment_changes_apply_on_top_of_the_servers(
    processes: CommandProcesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHCORE_KEEP", "kept")
    monkeypatch.setenv("ARCHCORE_DROP", "dropped")
    request = _request(
        'echo "$ARCHCORE_KEEP ${ARCHCORE_DROP-unset} $ARCHCORE_ADD"',
        env={"ARCHCORE_DROP": None, "ARCHCORE_ADD": "added"},
    )
    result = await processes.run(1, request, Deltas())
    assert result.stdout == "kept unset added\n"


async def test_process_ids_belong_to_their_owner(processes: CommandProcesses) -> None:
    running = await _start_sleeper(processes, 1)
    try:
        with pytest.raises(InvalidRequest, match='duplicate active command/exec process id: "p"'):
            await processes.run(1, _request("true", process_id="p"), Deltas())
        with pytest.raises(InvalidRequest, match='no active command/exec for process id "p"'):
            processes.terminate(2, "p")
        with pytest.raises(InvalidRequest, match="stdin streaming is not enabled"):
            await processes.write(1, "p", b"x", close_stdin=False)
        with pytest.raises(InvalidRequest, match="failed to resize PTY"):
            processes.resize(1, "p", 10, 10)
        processes.terminate(1, "p")
        result = await asyncio.wait_for(running, 20)
        assert result.exit_code == 128 + signal.SIGTERM
    finally:
        running.cancel()
    with pytest.raises(InvalidRequest, match="no active command/exec"):
        processes.terminate(1, "p")


async def test_an_owners_processes_die_with_it(processes: CommandProcesses) -> None:
    running = await _start_sleeper(processes, 7)
    await processes.owner_closed(7)
    assert (await asyncio.wait_for(running, 20)).exit_code == 128 + signal.SIGTERM
    # Started after the owner went (a request still in flight): killed at once.
    late = await asyncio.wait_for(processes.run(7, _request("exec sleep 30"), Deltas()), 20)
    assert late.exit_code == 128 + signal.SIGTERM
