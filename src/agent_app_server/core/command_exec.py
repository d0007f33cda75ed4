"""Standalone processes a client runs outside any thread: ``command/exec`` (and its ``write`` /
``resize`` / ``terminate``), whose reply comes when the command ends, and ``process/spawn`` (and
``process/writeStdin`` / ``kill`` / ``resizePty``), whose reply comes once it started and whose
exit is reported later. One machinery, two families that differ only in naming (:class:`Family`).

Owns: where such a process runs (the cwd the client names, the server's environment plus the
client's changes, the request's sandbox policy or the configured ``sandbox_mode``), capping and
timing it out, its output buffered or streamed, and the processes each client may still write
to, resize, terminate or kill. Process ids are the client's and scoped to its connection (an
``owner``: any int the caller chooses); everything an owner started dies when it goes
(:meth:`CommandProcesses.owner_closed`). Errors are the reference's (``observed/NOTES.md`` (g)).
Layer: core (uses ``core.process_runner``, ``core.sandbox`` and ``rpc`` errors).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..rpc import InternalError, InvalidRequest
from . import process_runner, sandbox
from .paths import resolve_client_path
from .thread_basics import sandbox_policy_for_mode

if TYPE_CHECKING:
    from .config import Config

__all__ = [
    "COMMAND_EXEC",
    "DEFAULT_OUTPUT_BYTES_CAP",
    "DEFAULT_TIMEOUT_MS",
    "PROCESS",
    "CommandProcesses",
    "CommandRequest",
    "CommandResult",
    "Family",
    "OutputDelta",
]

#: The reference's defaults (core ``DEFAULT_EXEC_COMMAND_TIMEOUT_MS``, pty ``DEFAULT_OUTPUT_BYTES_CAP``).
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_OUTPUT_BYTES_CAP = 1024 * 1024

#: Receives streamed output: the stream (``stdout`` / ``stderr``), the bytes, and whether the
#: stream has now reached its cap (nothing more of it follows). Waiting in it slows the command.
OutputDelta = Callable[[str, bytes, bool], Awaitable[None]]


@dataclass(frozen=True)
class CommandRequest:
    """One command as the client asked for it (already validated)."""

    argv: list[str]
    #: Relative to the server's cwd; None: the server's cwd.
    cwd: str | None = None
    #: Changes to the server's environment: a None value removes the variable.
    env: dict[str, str | None] = field(default_factory=dict)
    #: The wire ``SandboxPolicy``; None: the configured ``sandbox_mode``.
    sandbox_policy: dict[str, Any] | None = None
    #: The client's id for the process; None: it cannot be addressed (nor streamed).
    process_id: str | None = None
    tty: bool = False
    #: (rows, cols) of the terminal.
    size: tuple[int, int] | None = None
    stream_stdin: bool = False
    stream_output: bool = False
    #: Bytes kept per stream; None: all of them.
    output_cap: int | None = DEFAULT_OUTPUT_BYTES_CAP
    #: None: no deadline.
    timeout_s: float | None = DEFAULT_TIMEOUT_MS / 1000


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    #: Empty when the output was streamed.
    stdout: str
    stderr: str
    stdout_cap_reached: bool = False
    stderr_cap_reached: bool = False
    #: Output still held open by the process's children was given up on after its exit.
    output_drain_timed_out: bool = False


@dataclass(frozen=True)
class Family:
    """How one family of processes is named in its errors (the reference's wording for each)."""

    #: ``{}`` is the quoted id.
    duplicate: str
    missing: str
    no_stdin: str
    spawn_failed: str


COMMAND_EXEC = Family(
    duplicate="duplicate active command/exec process id: {}",
    missing="no active command/exec for process id {}",
    no_stdin="stdin streaming is not enabled for this command/exec",
    spawn_failed="failed to spawn command",
)
PROCESS = Family(
    duplicate="duplicate active process handle: {}",
    missing="no active process for process handle {}",
    no_stdin="stdin streaming is not enabled for this process",
    spawn_failed="failed to spawn process",
)


@dataclass
class _Session:
    run: process_runner.ProcessRun
    stream_stdin: bool
    terminating: asyncio.Task[int] | None = None
    #: A detached process's collection (``process/spawn``), kept here so it is not collected.
    collecting: asyncio.Task[None] | None = None


def _quoted(process_id: str) -> str:
    return json.dumps(process_id)


class CommandProcesses:
    """The running processes of one family of one server, per owner (client connection)."""

    def __init__(self, config: Config, family: Family = COMMAND_EXEC) -> None:
        self._config = config
        self._family = family
        self._by_owner: dict[int, dict[str, _Session]] = {}
        self._closed: set[int] = set()

    # ------------------------------------------------------------------ running

    async def run(self, owner: int, request: CommandRequest, on_delta: OutputDelta) -> CommandResult:
        """Run ``request`` to its end. Streamed output goes to ``on_delta`` (and is not in the
        result); raises ``InvalidRequest`` for a duplicate process id or a sandbox this machine
        cannot provide, ``InternalError`` when the program cannot start."""
        key, session = await self._start(owner, request)
        return await self._finish(owner, key, session, request, on_delta)

    async def spawn(
        self,
        owner: int,
        request: CommandRequest,
        on_delta: OutputDelta,
        on_exit: Callable[[CommandResult], Awaitable[None]],
    ) -> Callable[[], None]:
        """Start ``request`` (raising as :meth:`run` does) and return the callback that begins
        collecting it: output to ``on_delta``, then the result to ``on_exit``. The caller calls
        it once the client knows the process started, so that no output precedes that."""
        key, session = await self._start(owner, request)

        async def collect() -> None:
            await on_exit(await self._finish(owner, key, session, request, on_delta))

        def begin() -> None:
            session.collecting = asyncio.get_running_loop().create_task(collect(), name=f"collect-{key}")

        return begin

    async def _start(self, owner: int, request: CommandRequest) -> tuple[str, _Session]:
        config = self._config
        server_cwd = os.getcwd()
        # As the reference: relative, ``~`` and empty paths are the server's cwd's.
        cwd = resolve_client_path(request.cwd or "", server_cwd)
        env = dict(os.environ)
        for key, value in request.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        policy = request.sandbox_policy
        if policy is None:
            policy = sandbox_policy_for_mode(config.sandbox_mode, config, server_cwd)
        sessions = self._by_owner.setdefault(owner, {})
        if request.process_id is not None and request.process_id in sessions:
            raise InvalidRequest(self._family.duplicate.format(_quoted(request.process_id)))
        stream_stdin = request.tty or request.stream_stdin
        try:
            # As the reference, the workspace a workspaceWrite policy opens is the server's cwd.
            run = await process_runner.spawn(
                list(request.argv),
                policy=policy,
                cwd=cwd,
                env=env,
                tty=request.tty,
                size=request.size,
                stdin=stream_stdin,
                sandbox_cwd=server_cwd,
                read_only_paths=[str(config.codex_home)],
            )
        except sandbox.SandboxUnavailable as exc:
            raise InvalidRequest(
                f"{exc}. The command was not run; install the missing prerequisite or send a dangerFullAccess or "
                "externalSandbox sandboxPolicy"
            ) from None
        except OSError as exc:
            # -32603 as the reference (only reachable unsandboxed: inside the sandbox the helper
            # reports a missing program as exit code 127).
            raise InternalError(f"{self._family.spawn_failed}: {exc}") from None
        key = request.process_id if request.process_id is not None else f"\0internal-{run.pid}"
        session = _Session(run, stream_stdin)
        sessions[key] = session
        if owner in self._closed:
            await run.process.terminate()
        return key, session

    async def _finish(
        self, owner: int, key: str, session: _Session, request: CommandRequest, on_delta: OutputDelta
    ) -> CommandResult:
        try:
            return await _collect(session.run, request, on_delta)
        finally:
            sessions = self._by_owner.get(owner, {})
            if sessions.get(key) is session:
                del sessions[key]
            await session.run.close()

    # ------------------------------------------------------------------ the family

    def _session(self, owner: int, process_id: str) -> _Session:
        session = self._by_owner.get(owner, {}).get(process_id)
        if session is None:
            raise InvalidRequest(self._family.missing.format(_quoted(process_id)))
        return session

    async def write(self, owner: int, process_id: str, data: bytes, *, close_stdin: bool) -> None:
        session = self._session(owner, process_id)
        if not session.stream_stdin:
            raise InvalidRequest(self._family.no_stdin)
        process = session.run.process
        try:
            if data:
                await process.write(data)
            if close_stdin:
                await process.close_stdin()
        except BrokenPipeError:
            raise InvalidRequest("stdin is already closed") from None

    def resize(self, owner: int, process_id: str, rows: int, cols: int) -> None:
        session = self._session(owner, process_id)
        if not session.run.process.tty:
            raise InvalidRequest("failed to resize PTY: process is not attached to a PTY")
        try:
            session.run.process.resize(rows, cols)
        except (ValueError, OSError) as exc:
            raise InvalidRequest(f"failed to resize PTY: {exc}") from None

    def terminate(self, owner: int, process_id: str) -> None:
        """SIGTERM now, SIGKILL after the grace period; the ``run`` call reports the exit."""
        session = self._session(owner, process_id)
        if session.terminating is None:
            session.terminating = asyncio.get_running_loop().create_task(session.run.process.terminate())

    def kill(self, owner: int, process_id: str) -> None:
        """SIGKILL the process group now (the reference's ``process/kill``: exit code 137)."""
        self._session(owner, process_id).run.process.signal_group(signal.SIGKILL)

    async def owner_closed(self, owner: int) -> None:
        """Kill every process ``owner`` started (the reference does the same when a connection
        closes); later ones are killed as soon as they start."""
        self._closed.add(owner)
        sessions = self._by_owner.pop(owner, None)
        if sessions:
            await asyncio.gather(
                *(session.run.process.terminate() for session in sessions.values()), return_exceptions=True
            )


async def _collect(run: process_runner.ProcessRun, request: CommandRequest, on_delta: OutputDelta) -> CommandResult:
    cap = request.output_cap
    stream_output = request.stream_output and request.process_id is not None
    buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    seen: dict[str, int] = {"stdout": 0, "stderr": 0}
    capped: set[str] = set()

    async def on_output(stream: str, data: bytes) -> None:
        if stream == "pty":
            stream = "stdout"
        if stream in capped:
            # Keep draining so the command is not blocked on a full pipe; the rest is dropped.
            return
        if cap is not None:
            data = data[: max(cap - seen[stream], 0)]
        seen[stream] += len(data)
        reached = cap is not None and seen[stream] >= cap
        if reached:
            capped.add(stream)
        if stream_output:
            await on_delta(stream, data, reached)
        elif not request.stream_output:
            buffers[stream] += data

    run.start(on_output)
    exit_code, _ = await run.finish(request.timeout_s)
    return CommandResult(
        exit_code,
        process_runner.output_text(buffers["stdout"]),
        process_runner.output_text(buffers["stderr"]),
        stdout_cap_reached="stdout" in capped,
        stderr_cap_reached="stderr" in capped,
        output_drain_timed_out=run.output_abandoned,
    )
