"""Standalone commands: ``command/exec`` (+ ``write`` / ``resize`` / ``terminate``) and
``thread/shellCommand``, translated to and from ``core.command_exec`` and ``core.user_shell``.

Owns: checking the params as the reference does (its messages and codes, ``observed/NOTES.md``
(g)) and the wire form of the results and of ``command/exec/outputDelta``. A connection's
processes are its own: ids are connection-scoped and the processes die when it closes.
Layer: server.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ...core.command_exec import DEFAULT_OUTPUT_BYTES_CAP, DEFAULT_TIMEOUT_MS, CommandProcesses, CommandRequest
from ...core.user_shell import DEFAULT_TIMEOUT_MS as USER_SHELL_TIMEOUT_MS
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
from ...rpc import InvalidParams, InvalidRequest, Reply
from ..connection import Connection
from . import handler

_SIZE_NOT_POSITIVE = "command/exec size rows and cols must be greater than 0"


def _command_request(params: CommandExecParams) -> CommandRequest:
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
        raise InvalidParams(_SIZE_NOT_POSITIVE)
    streaming = params.tty or params.stream_stdin or params.stream_stdout_stderr
    if params.process_id is None and streaming:
        raise InvalidRequest("command/exec tty or streaming requires a client-supplied processId")
    cap = params.output_bytes_cap if params.output_bytes_cap is not None else DEFAULT_OUTPUT_BYTES_CAP
    timeout_ms = params.timeout_ms if params.timeout_ms is not None else DEFAULT_TIMEOUT_MS
    return CommandRequest(
        argv=list(params.command),
        cwd=params.cwd or None,
        env=dict(params.env or {}),
        sandbox_policy=params.sandbox_policy.to_wire() if params.sandbox_policy is not None else None,
        process_id=params.process_id,
        tty=params.tty,
        size=(params.size.rows, params.size.cols) if params.size is not None else None,
        stream_stdin=params.stream_stdin,
        stream_output=params.tty or params.stream_stdout_stderr,
        output_cap=None if params.disable_output_cap else cap,
        timeout_s=None if params.disable_timeout else timeout_ms / 1000,
    )


async def write_stdin(
    processes: CommandProcesses, owner: int, process_id: str, delta_base64: str | None, close_stdin: bool, method: str
) -> None:
    """``command/exec/write`` and ``process/writeStdin``: -32602 unless there is something to do
    and ``delta_base64`` is base64 (checked before the process is looked up, as the reference)."""
    if delta_base64 is None and not close_stdin:
        raise InvalidParams(f"{method} requires deltaBase64 or closeStdin")
    delta = b""
    if delta_base64 is not None:
        try:
            delta = base64.b64decode(delta_base64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidParams(f"invalid deltaBase64: {exc}") from None
    await processes.write(owner, process_id, delta, close_stdin=close_stdin)


@handler("command/exec")
async def command_exec(conn: Connection, params: CommandExecParams) -> dict[str, Any]:
    request = _command_request(params)

    async def output_delta(stream: str, data: bytes, cap_reached: bool) -> None:
        peer = conn.peer
        if peer is not None:
            await peer.wait_writable()
        conn.notify(
            "command/exec/outputDelta",
            {
                "processId": request.process_id,
                "stream": stream,
                "deltaBase64": base64.b64encode(data).decode("ascii"),
                "capReached": cap_reached,
            },
        )

    result = await conn.app.services.commands.run(conn.id, request, output_delta)
    return {"exitCode": result.exit_code, "stdout": result.stdout, "stderr": result.stderr}


@handler("command/exec/write")
async def command_exec_write(conn: Connection, params: CommandExecWriteParams) -> CommandExecWriteResponse:
    commands = conn.app.services.commands
    await write_stdin(
        commands, conn.id, params.process_id, params.delta_base64, params.close_stdin, "command/exec/write"
    )
    return CommandExecWriteResponse()


@handler("command/exec/resize")
async def command_exec_resize(conn: Connection, params: CommandExecResizeParams) -> CommandExecResizeResponse:
    if params.size.rows == 0 or params.size.cols == 0:
        raise InvalidParams(_SIZE_NOT_POSITIVE)
    conn.app.services.commands.resize(conn.id, params.process_id, params.size.rows, params.size.cols)
    return CommandExecResizeResponse()


@handler("command/exec/terminate")
async def command_exec_terminate(conn: Connection, params: CommandExecTerminateParams) -> CommandExecTerminateResponse:
    conn.app.services.commands.terminate(conn.id, params.process_id)
    return CommandExecTerminateResponse()


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
    return Reply(ThreadShellCommandResponse(), app.services.user_shell.start(thread, command, timeout_ms))
