"""Standalone commands: ``command/exec`` (+ ``write`` / ``resize`` / ``terminate``) and
``thread/shellCommand``.

``command/exec`` runs an argv outside any thread, under the sandbox policy of the request (or
the configured ``sandbox_mode``), buffered or streaming (``command/exec/outputDelta``), with
pipes or a real PTY. Its processes belong to the connection that started them: the ids are
connection-scoped and the processes are killed when that connection closes.
``thread/shellCommand`` is the TUI's ``!cmd``: the user's shell, unsandboxed, recorded in the
thread as a ``commandExecution`` item with ``source: "userShell"``.
Validation messages and codes follow the reference (``observed/NOTES.md`` (g)).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import contextlib
import json
import os
import shlex
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...core.history import TURN_STARTED
from ...core.ids import uuid7
from ...core.instructions import user_message
from ...core.paths import resolve_client_path
from ...core.processes import ManagedProcess
from ...core.threads import sandbox_policy_for_mode
from ...core.turns import TurnRunner
from ...protocol.exec import (
    CommandExecParams,
    CommandExecResizeParams,
    CommandExecResizeResponse,
    CommandExecTerminateParams,
    CommandExecTerminateResponse,
    CommandExecWriteParams,
    CommandExecWriteResponse,
    ThreadShellCommandParams,
    ThreadShellCommandResponse,
)
from ...rpc import InternalError, InvalidParams, InvalidRequest, Reply
from ..connection import Connection
from . import handler

if TYPE_CHECKING:
    from ...core.threads import LoadedThread
    from ..app import AppServer

#: The reference's defaults (core ``DEFAULT_EXEC_COMMAND_TIMEOUT_MS``, pty ``DEFAULT_OUTPUT_BYTES_CAP``).
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_OUTPUT_BYTES_CAP = 1024 * 1024
TIMEOUT_EXIT_CODE = 124
#: After the process exits, how long output still held open by its children may keep coming.
IO_DRAIN_TIMEOUT_S = 2.0
USER_SHELL_TIMEOUT_MS = 60 * 60 * 1000
#: How much of a user shell command's output the model sees (head and tail kept).
MODEL_OUTPUT_LIMIT = 40_000


def _quoted(process_id: str) -> str:
    return json.dumps(process_id)


# ---------------------------------------------------------------------- sessions


@dataclass
class _Session:
    process: ManagedProcess
    stream_stdin: bool
    terminating: asyncio.Task[int] | None = None


@dataclass
class _ConnectionProcesses:
    sessions: dict[str, _Session] = field(default_factory=dict)


class CommandExecManager:
    """The live ``command/exec`` processes of one server, per connection."""

    def __init__(self) -> None:
        self._by_connection: dict[int, _ConnectionProcesses] = {}
        self._closed: set[int] = set()

    def sessions(self, conn: Connection) -> dict[str, _Session]:
        return self._by_connection.setdefault(conn.id, _ConnectionProcesses()).sessions

    def session(self, conn: Connection, process_id: str) -> _Session:
        session = self._by_connection.get(conn.id, _ConnectionProcesses()).sessions.get(process_id)
        if session is None:
            raise InvalidRequest(f"no active command/exec for process id {_quoted(process_id)}")
        return session

    def is_closed(self, conn: Connection) -> bool:
        return conn.id in self._closed

    async def connection_closed(self, conn: Connection) -> None:
        """Kill every process the connection started (the reference does the same)."""
        self._closed.add(conn.id)
        entry = self._by_connection.pop(conn.id, None)
        if entry is None:
            return
        await asyncio.gather(
            *(session.process.terminate() for session in entry.sessions.values()), return_exceptions=True
        )


_managers: weakref.WeakKeyDictionary[AppServer, CommandExecManager] = weakref.WeakKeyDictionary()


def manager_for(app: AppServer) -> CommandExecManager:
    manager = _managers.get(app)
    if manager is None:
        manager = CommandExecManager()
        _managers[app] = manager
        app.connection_close_hooks.append(manager.connection_closed)
    return manager


# ---------------------------------------------------------------------- command/exec


@handler("command/exec")
async def command_exec(conn: Connection, params: CommandExecParams) -> dict[str, Any]:
    from ...core import sandbox

    if not params.command:
        raise InvalidRequest("command must not be empty")
    if params.size is not None and not params.tty:
        raise InvalidParams("command/exec size requires tty: true")
    if params.disable_output_cap and params.output_bytes_cap is not None:
        raise InvalidParams("command/exec cannot set both outputBytesCap and disableOutputCap")
    if params.disable_timeout and params.timeout_ms is not None:
        raise InvalidParams("command/exec cannot set both timeoutMs and disableTimeout")
    if params.timeout_ms is not None and params.timeout_ms < 0:
        raise InvalidParams(f"command/exec timeoutMs must be non-negative, got {params.timeout_ms}")
    if params.size is not None and (params.size.rows == 0 or params.size.cols == 0):
        raise InvalidParams("command/exec size rows and cols must be greater than 0")
    streaming = params.tty or params.stream_stdin or params.stream_stdout_stderr
    if params.process_id is None and streaming:
        raise InvalidRequest("command/exec tty or streaming requires a client-supplied processId")

    app = conn.app
    manager = manager_for(app)
    server_cwd = os.getcwd()
    cwd = resolve_client_path(params.cwd or "", server_cwd)
    env = dict(os.environ)
    for key, value in (params.env or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    if params.sandbox_policy is not None:
        policy = params.sandbox_policy.to_wire()
    else:
        policy = sandbox_policy_for_mode(app.config.sandbox_mode, app.config, server_cwd)

    sessions = manager.sessions(conn)
    if params.process_id is not None and params.process_id in sessions:
        raise InvalidRequest(f"duplicate active command/exec process id: {_quoted(params.process_id)}")
    if sandbox.needs_sandbox(policy):
        await asyncio.to_thread(sandbox.probe)
    try:
        # As the reference, the workspace a workspaceWrite policy opens is the server's cwd.
        wrapped = sandbox.wrap(
            list(params.command),
            policy=policy,
            cwd=cwd,
            env=env,
            tty=params.tty,
            sandbox_cwd=server_cwd,
            read_only_paths=[str(app.config.codex_home)],
        )
    except sandbox.SandboxUnavailable as exc:
        raise InvalidRequest(
            f"{exc}. The command was not run; install the missing prerequisite or send a dangerFullAccess or "
            "externalSandbox sandboxPolicy"
        ) from None
    stream_stdin = params.tty or params.stream_stdin
    size = (params.size.rows, params.size.cols) if params.size is not None else None
    try:
        process = await ManagedProcess.spawn(
            wrapped.argv,
            cwd=cwd,
            env=wrapped.env,
            tty=params.tty,
            size=size,
            stdin=stream_stdin,
            cleanup=wrapped.cleanup,
        )
    except OSError as exc:
        # -32603 as the reference (only reachable unsandboxed: inside the sandbox the helper
        # reports a missing program as exit code 127).
        raise InternalError(f"failed to spawn command: {exc}") from None
    key = params.process_id if params.process_id is not None else f"\0internal-{process.pid}"
    session = _Session(process, stream_stdin)
    sessions[key] = session
    if manager.is_closed(conn):
        await process.terminate()
    try:
        cap = None if params.disable_output_cap else params.output_bytes_cap
        if cap is None and not params.disable_output_cap:
            cap = DEFAULT_OUTPUT_BYTES_CAP
        timeout_s = None if params.disable_timeout else (params.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000
        if params.timeout_ms == 0:
            timeout_s = 0
        stream_output = params.tty or params.stream_stdout_stderr
        exit_code, stdout, stderr = await _run(conn, process, params.process_id, stream_output, cap, timeout_s)
    finally:
        if sessions.get(key) is session:
            del sessions[key]
        await process.close()
    return {"exitCode": exit_code, "stdout": stdout, "stderr": stderr}


async def _run(
    conn: Connection,
    process: ManagedProcess,
    process_id: str | None,
    stream_output: bool,
    cap: int | None,
    timeout_s: float | None,
) -> tuple[int, str, str]:
    buffers: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    seen: dict[str, int] = {"stdout": 0, "stderr": 0}
    capped: set[str] = set()

    async def pump() -> None:
        while (chunk := await process.read()) is not None:
            stream, data = chunk
            if stream == "pty":
                stream = "stdout"
            if stream in capped:
                # Keep draining so the command is not blocked on a full pipe; the rest is dropped.
                continue
            if cap is not None:
                data = data[: max(cap - seen[stream], 0)]
            seen[stream] += len(data)
            reached = cap is not None and seen[stream] >= cap
            if reached:
                capped.add(stream)
            if stream_output and process_id is not None:
                peer = conn.peer
                if peer is not None:
                    await peer.wait_writable()
                conn.notify(
                    "command/exec/outputDelta",
                    {
                        "processId": process_id,
                        "stream": stream,
                        "deltaBase64": base64.b64encode(data).decode("ascii"),
                        "capReached": reached,
                    },
                )
            elif not stream_output:
                buffers[stream] += data

    reader = asyncio.get_running_loop().create_task(pump())
    timed_out = False
    try:
        exit_code = await asyncio.wait_for(asyncio.shield(process.wait()), timeout_s)
    except TimeoutError:
        timed_out = True
        exit_code = await process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(reader), IO_DRAIN_TIMEOUT_S)
    except TimeoutError:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    if timed_out:
        exit_code = TIMEOUT_EXIT_CODE
    return exit_code, _text(buffers["stdout"]), _text(buffers["stderr"])


def _text(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


@handler("command/exec/write")
async def command_exec_write(conn: Connection, params: CommandExecWriteParams) -> CommandExecWriteResponse:
    if params.delta_base64 is None and not params.close_stdin:
        raise InvalidParams("command/exec/write requires deltaBase64 or closeStdin")
    delta = b""
    if params.delta_base64 is not None:
        try:
            delta = base64.b64decode(params.delta_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidParams(f"invalid deltaBase64: {exc}") from None
    session = manager_for(conn.app).session(conn, params.process_id)
    if not session.stream_stdin:
        raise InvalidRequest("stdin streaming is not enabled for this command/exec")
    try:
        if delta:
            await session.process.write(delta)
        if params.close_stdin:
            await session.process.close_stdin()
    except BrokenPipeError:
        raise InvalidRequest("stdin is already closed") from None
    return CommandExecWriteResponse()


@handler("command/exec/resize")
async def command_exec_resize(conn: Connection, params: CommandExecResizeParams) -> CommandExecResizeResponse:
    if params.size.rows == 0 or params.size.cols == 0:
        raise InvalidParams("command/exec size rows and cols must be greater than 0")
    session = manager_for(conn.app).session(conn, params.process_id)
    try:
        session.process.resize(params.size.rows, params.size.cols)
    except (ValueError, OSError) as exc:
        raise InvalidRequest(f"failed to resize PTY: {exc}") from None
    return CommandExecResizeResponse()


@handler("command/exec/terminate")
async def command_exec_terminate(conn: Connection, params: CommandExecTerminateParams) -> CommandExecTerminateResponse:
    session = manager_for(conn.app).session(conn, params.process_id)
    if session.terminating is None:
        # SIGTERM now, SIGKILL after the grace period; the command/exec reply reports the exit.
        session.terminating = asyncio.get_running_loop().create_task(session.process.terminate())
    return CommandExecTerminateResponse()


# ---------------------------------------------------------------------- thread/shellCommand


@handler("thread/shellCommand")
async def thread_shell_command(conn: Connection, params: ThreadShellCommandParams) -> Reply:
    command = params.command.strip()
    if not command:
        raise InvalidRequest("command must not be empty")
    if params.timeout_ms is not None and params.timeout_ms < 0:
        raise InvalidParams(f"timeoutMs must be non-negative, got {params.timeout_ms}")
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    timeout_ms = USER_SHELL_TIMEOUT_MS if params.timeout_ms is None else params.timeout_ms
    app.subscribe(conn, thread.id)
    active = thread.active
    if active is not None:
        # As the reference: with a turn running, the command's item belongs to that turn.
        def run_in_active_turn() -> None:
            task = asyncio.get_running_loop().create_task(_shell_in_turn(active, command, timeout_ms))
            _background.add(task)
            task.add_done_callback(_background.discard)

        return Reply(ThreadShellCommandResponse(), run_in_active_turn)
    turn_id = uuid7()
    runner = UserShellTurn(
        engine=app.turns, thread=thread, turn_id=turn_id, input=[], root_turn_id=turn_id, command=command
    )
    runner.timeout_ms = timeout_ms
    thread.active = runner
    thread.status = {"type": "active", "activeFlags": []}
    return Reply(ThreadShellCommandResponse(), lambda: app.turns.launch(runner))


_background: set[asyncio.Task[None]] = set()


def user_shell_argv(command: str) -> list[str]:
    """The user's shell as a login shell, so aliases and PATH are the user's own."""
    shell = os.environ.get("SHELL") or "/bin/bash"
    if not os.path.exists(shell):
        shell = "/bin/sh"
    return [shell, "-lc", command]


def _model_output(output: str) -> str:
    if len(output) <= MODEL_OUTPUT_LIMIT:
        return output
    half = MODEL_OUTPUT_LIMIT // 2
    omitted = len(output) - 2 * half
    return f"{output[:half]}\n[... {omitted} characters of output omitted ...]\n{output[-half:]}"


def shell_record(command: str, exit_code: int, duration_s: float, output: str) -> dict[str, Any]:
    """What the model later sees of a ``!cmd`` (the reference's ``<user_shell_command>`` record)."""
    text = "\n".join(
        [
            "<user_shell_command>",
            "<command>",
            command,
            "</command>",
            "<result>",
            f"Exit code: {exit_code}",
            f"Duration: {duration_s:.4f} seconds",
            "Output:",
            _model_output(output),
            "</result>",
            "</user_shell_command>",
        ]
    )
    return user_message(text)


async def run_user_shell(
    runner: TurnRunner, command: str, timeout_ms: int, history: list[tuple[str, Any]]
) -> dict[str, Any]:
    """Run ``command`` in the thread's cwd, unsandboxed, as a ``userShell`` item of ``runner``'s
    turn; returns the model-visible record."""
    thread = runner.thread
    argv = user_shell_argv(command)
    cwd = thread.settings.cwd
    item: dict[str, Any] = {
        "type": "commandExecution",
        "id": uuid7(),
        "command": shlex.join(argv),
        "cwd": cwd,
        "processId": None,
        "source": "userShell",
        "status": "inProgress",
        "commandActions": [{"type": "unknown", "command": command}],
        "aggregatedOutput": None,
        "exitCode": None,
        "durationMs": None,
    }
    runner.item_started(dict(item))
    started = time.monotonic()
    output = bytearray()
    exit_code = -1
    process: ManagedProcess | None = None
    try:
        process = await ManagedProcess.spawn(argv, cwd=cwd, env=dict(os.environ), stdin=False)
        # Deltas are text: a UTF-8 sequence split between two reads is held back, not mangled.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        async def pump() -> None:
            assert process is not None
            while (chunk := await process.read()) is not None:
                text = decoder.decode(chunk[1])
                output.extend(chunk[1])
                if text:
                    runner.emit(
                        "item/commandExecution/outputDelta",
                        {"threadId": thread.id, "turnId": runner.turn_id, "itemId": item["id"], "delta": text},
                    )

        reader = asyncio.get_running_loop().create_task(pump())
        try:
            exit_code = await asyncio.wait_for(asyncio.shield(process.wait()), timeout_ms / 1000)
            timed_out = False
        except TimeoutError:
            timed_out = True
            await process.terminate()
            exit_code = TIMEOUT_EXIT_CODE
        try:
            await asyncio.wait_for(asyncio.shield(reader), IO_DRAIN_TIMEOUT_S)
        except TimeoutError:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        text = _text(output)
        if timed_out:
            text += f"\ncommand timed out after {timeout_ms} ms"
    except asyncio.CancelledError:
        if process is not None:
            await asyncio.shield(process.terminate())
        text = "command aborted by user"
        _complete_shell_item(runner, item, -1, started, text, history)
        raise
    except OSError as exc:
        text = f"execution error: {exc}"
    finally:
        if process is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(process.close())
    _complete_shell_item(runner, item, exit_code, started, text, history)
    return shell_record(command, exit_code, time.monotonic() - started, text)


def _complete_shell_item(
    runner: TurnRunner, item: dict[str, Any], exit_code: int, started: float, text: str, history: list[tuple[str, Any]]
) -> None:
    if item["status"] != "inProgress":
        return
    item.update(
        status="completed" if exit_code == 0 else "failed",
        exitCode=exit_code,
        aggregatedOutput=text or None,
        durationMs=int((time.monotonic() - started) * 1000),
    )
    runner.item_completed(dict(item), history)


async def _shell_in_turn(runner: TurnRunner, command: str, timeout_ms: int) -> None:
    history: list[tuple[str, Any]] = []
    record = await run_user_shell(runner, command, timeout_ms, history)
    with contextlib.suppress(Exception):
        await runner.engine.record(runner, history, [record])


@dataclass
class UserShellTurn(TurnRunner):
    """A turn that only runs one ``!cmd`` (no model call), as the reference's user-shell task."""

    command: str = ""
    timeout_ms: int = USER_SHELL_TIMEOUT_MS

    async def run(self) -> None:
        engine = self.engine
        thread: LoadedThread = self.thread
        history: list[tuple[str, Any]] = []
        try:
            self.emit("turn/started", {"threadId": self.thread_id, "turn": self.turn_wire("inProgress")})
            history.append((TURN_STARTED, self.turn_wire("inProgress")))
            await engine.ensure_context(thread)
            await engine.threads.materialize(thread)
            record = await run_user_shell(self, self.command, self.timeout_ms, history)
            await engine.record(self, history, [record])
        except asyncio.CancelledError:
            await self.finish("interrupted", history, None)
            raise
        await self.finish("completed", history, None)


__all__ = ["CommandExecManager", "UserShellTurn", "manager_for", "shell_record"]
