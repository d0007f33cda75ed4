"""ProcessRun with real child processes: output handed over in order, deadlines, waiting
without ending the command, and killing what still runs."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from agent_app_server.core.process_runner import TIMEOUT_EXIT_CODE, UNSANDBOXED, ProcessRun, spawn

ENV = dict(os.environ)


class Collected:
    def __init__(self) -> None:
        self.chunks: list[tuple[str, bytes]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, stream: str, data: bytes) -> None:
        async with self._changed:
            self.chunks.append((stream, data))
            self._changed.notify_all()

    async def until(self, stream: str, expected: bytes) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.joined(stream) == expected), 20)

    def joined(self, stream: str) -> bytes:
        return b"".join(data for name, data in self.chunks if name == stream)


async def _run(tmp_path: Path, script: str, *, stdin: bool = False) -> ProcessRun:
    return await spawn(["sh", "-c", script], policy=UNSANDBOXED, cwd=str(tmp_path), env=ENV, stdin=stdin)


async def test_output_arrives_per_stream_and_the_exit_code_is_reported(tmp_path: Path) -> None:
    run = await _run(tmp_path, "echo out; echo err >&2; printf more; exit 5")
    collected = Collected()
    run.start(collected)
    assert await run.finish(None) == (5, False)
    assert collected.joined("stdout") == b"out\nmore"
    assert collected.joined("stderr") == b"err\n"
    assert run.done.is_set() and run.exit_code == 5
    await run.close()


async def test_a_command_past_its_deadline_is_terminated_and_reports_124(tmp_path: Path) -> None:
    run = await _run(tmp_path, "echo begun; exec sleep 30")
    collected = Collected()
    run.start(collected)
    assert await run.finish(0.3) == (TIMEOUT_EXIT_CODE, True)
    assert run.process.returncode == 128 + signal.SIGTERM
    assert collected.joined("stdout") == b"begun\n"
    await run.close()


async def test_wait_leaves_a_running_command_running_and_kill_ends_it(tmp_path: Path) -> None:
    run = await _run(tmp_path, "read line; echo got:$line; exec sleep 30", stdin=True)
    collected = Collected()
    run.start(collected)
    assert await run.wait(0.05) is False
    await run.process.write(b"x\n")
    await collected.until("stdout", b"got:x\n")
    assert not run.done.is_set()
    await run.kill(grace_s=0.5)
    assert run.done.is_set()
    assert run.process.returncode == 128 + signal.SIGTERM
    assert await run.wait(0) is True


async def test_a_missing_program_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        await spawn([str(tmp_path / "missing")], policy=UNSANDBOXED, cwd=str(tmp_path), env=ENV)


async def test_reading_starts_only_once(tmp_path: Path) -> None:
    run = await _run(tmp_path, "true")
    run.start(Collected())
    with pytest.raises(RuntimeError, match="already being read"):
        run.start(Collected())
    assert await run.finish(None) == (0, False)
    await run.close()
