"""Running one command: spawn it under a sandbox policy, hand its output to a callback as it
arrives, wait for it (with or without a deadline), and give output its children still hold open
a bounded time to arrive.

Owns: the one spawn → read → wait → drain sequence behind ``command/exec``,
``thread/shellCommand`` and the ``exec_command`` / ``write_stdin`` tools, and the exit code a
command that ran out of time reports. Callers decide what output means (wire deltas, a buffer,
a model-visible record); this module never looks at it.
Layer: core (uses ``core.sandbox`` and ``core.processes``; imports nothing above core).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from . import sandbox
from .processes import ManagedProcess

__all__ = [
    "IO_DRAIN_TIMEOUT_S",
    "TIMEOUT_EXIT_CODE",
    "UNSANDBOXED",
    "OutputCallback",
    "ProcessRun",
    "output_text",
    "spawn",
]

#: What a command stopped at its deadline reports, as ``timeout(1)`` does.
TIMEOUT_EXIT_CODE = 124
#: After the process exits, how long output still held open by its children may keep coming.
IO_DRAIN_TIMEOUT_S = 2.0

#: The policy of a command that runs with the server's own rights.
UNSANDBOXED: dict[str, Any] = {"type": "dangerFullAccess"}

#: Receives each chunk of output: the stream (``stdout``, ``stderr`` or ``pty``) and its bytes.
OutputCallback = Callable[[str, bytes], Awaitable[None]]


async def spawn(
    argv: list[str],
    *,
    policy: dict[str, Any],
    cwd: str,
    env: dict[str, str],
    tty: bool = False,
    size: tuple[int, int] | None = None,
    stdin: bool = True,
    sandbox_cwd: str | None = None,
    read_only_paths: Sequence[str] = (),
) -> ProcessRun:
    """Start ``argv`` in ``cwd`` under the wire ``SandboxPolicy`` ``policy`` (see
    :func:`core.sandbox.wrap` for ``sandbox_cwd`` and ``read_only_paths``).

    Nothing is read until :meth:`ProcessRun.start`. Raises :class:`core.sandbox.SandboxUnavailable`
    when the policy needs a sandbox this machine cannot provide (nothing was started), or
    ``OSError`` when the program cannot start.
    """
    if sandbox.needs_sandbox(policy):
        await asyncio.to_thread(sandbox.probe)
    wrapped = sandbox.wrap(
        argv, policy=policy, cwd=cwd, env=env, tty=tty, sandbox_cwd=sandbox_cwd, read_only_paths=read_only_paths
    )
    process = await ManagedProcess.spawn(
        wrapped.argv, cwd=cwd, env=wrapped.env, tty=tty, size=size, stdin=stdin, cleanup=wrapped.cleanup
    )
    return ProcessRun(process)


def output_text(data: bytes | bytearray) -> str:
    """Collected output as text (undecodable bytes become U+FFFD)."""
    return bytes(data).decode("utf-8", errors="replace")


class ProcessRun:
    """A started process and the task that hands its output to a callback.

    ``done`` is set once every output stream reached end of file and the process was reaped
    (``exit_code`` is set then), or once reading was abandoned (``exit_code`` may stay None).
    """

    def __init__(self, process: ManagedProcess) -> None:
        self.process = process
        self.exit_code: int | None = None
        self.done = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self, on_output: OutputCallback) -> None:
        """Start reading; ``on_output`` gets every chunk, in order (it may wait: backpressure)."""
        if self._reader is not None:
            raise RuntimeError("the process is already being read")
        self._reader = asyncio.get_running_loop().create_task(self._pump(on_output), name=f"process-{self.pid}")

    async def _pump(self, on_output: OutputCallback) -> None:
        process = self.process
        try:
            while (chunk := await process.read()) is not None:
                await on_output(*chunk)
            self.exit_code = await process.wait()
        finally:
            self.done.set()

    async def wait(self, timeout_s: float) -> bool:
        """Until the process exited and its output is read, or ``timeout_s`` passed (it then runs
        on); whether it is done."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), timeout_s)
        return self.done.is_set()

    async def finish(self, timeout_s: float | None) -> tuple[int, bool]:
        """Wait for the process to exit, at most ``timeout_s`` (None: no limit; past it the
        process group is terminated), then for the rest of its output at most
        :data:`IO_DRAIN_TIMEOUT_S`. The exit code (:data:`TIMEOUT_EXIT_CODE` if it ran out of
        time) and whether it ran out of time."""
        try:
            exit_code = await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            await self.process.terminate()
            await self.drain()
            return TIMEOUT_EXIT_CODE, True
        await self.drain()
        return exit_code, False

    @property
    def output_abandoned(self) -> bool:
        """Whether :meth:`drain` gave up on output still held open after the exit."""
        return self._reader is not None and self._reader.cancelled()

    async def drain(self) -> None:
        """Let the reader finish for at most :data:`IO_DRAIN_TIMEOUT_S`, then abandon it (a
        child that inherited the pipes may keep them open indefinitely)."""
        reader = self._reader
        if reader is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(reader), IO_DRAIN_TIMEOUT_S)
        except TimeoutError:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def kill(self, grace_s: float = 2.0) -> None:
        """End the whole process tree (SIGTERM, SIGKILL after ``grace_s``) and release it;
        never raises."""
        with contextlib.suppress(Exception):
            await self.process.terminate(grace_s=grace_s)
        with contextlib.suppress(Exception):
            await self.drain()
        await self.close()

    async def close(self) -> None:
        """Release the terminal and reader tasks, killing the process group first if it still
        runs; never raises."""
        with contextlib.suppress(Exception):
            await self.process.close()
