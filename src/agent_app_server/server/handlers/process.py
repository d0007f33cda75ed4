"""Standalone processes (experimental): ``process/spawn``, ``process/writeStdin``,
``process/kill`` and ``process/resizePty``, translated to and from ``core.command_exec`` (the
machinery ``command/exec`` uses, with this family's error wording).

Owns: checking the params as the reference does (its messages and codes), and the wire form of
``process/outputDelta`` and ``process/exited``, which go to the connection that spawned the
process, after the spawn's reply. Handles are connection-scoped and the processes die when the
connection closes.
Layer: server.
"""

from __future__ import annotations

import base64

from ...core.command_exec import DEFAULT_OUTPUT_BYTES_CAP, DEFAULT_TIMEOUT_MS, CommandRequest, CommandResult
from ...protocol.process import (
    ProcessExitedNotification,
    ProcessKillParams,
    ProcessKillResponse,
    ProcessOutputDeltaNotification,
    ProcessResizePtyParams,
    ProcessResizePtyResponse,
    ProcessSpawnParams,
    ProcessSpawnResponse,
    ProcessWriteStdinParams,
    ProcessWriteStdinResponse,
)
from ...rpc import InvalidParams, InvalidRequest, Reply
from ..connection import Connection
from . import handler
from .exec import write_stdin

_SIZE_NOT_POSITIVE = "process size rows and cols must be greater than 0"


def _process_request(params: ProcessSpawnParams) -> CommandRequest:
    if not params.command:
        raise InvalidRequest("command must not be empty")
    if not params.process_handle:
        raise InvalidRequest("processHandle must not be empty")
    if params.size is not None and not params.tty:
        raise InvalidParams("process/spawn size requires tty: true")
    if params.size is not None and (params.size.rows == 0 or params.size.cols == 0):
        raise InvalidParams(_SIZE_NOT_POSITIVE)
    if params.timeout_ms is not None and params.timeout_ms < 0:
        raise InvalidParams(f"process/spawn timeoutMs must be non-negative, got {params.timeout_ms}")
    # Absent: the server default; an explicit null: none at all.
    sent = params.model_fields_set
    cap = params.output_bytes_cap if "output_bytes_cap" in sent else DEFAULT_OUTPUT_BYTES_CAP
    timeout_ms = params.timeout_ms if "timeout_ms" in sent else DEFAULT_TIMEOUT_MS
    return CommandRequest(
        argv=list(params.command),
        cwd=params.cwd,
        env=dict(params.env or {}),
        # No per-request policy: the configured sandbox_mode applies, as to a command/exec
        # without one (docs/compatibility.md `process:spawn-sandboxed`).
        sandbox_policy=None,
        process_id=params.process_handle,
        tty=params.tty,
        size=(params.size.rows, params.size.cols) if params.size is not None else None,
        stream_stdin=params.tty or params.stream_stdin,
        stream_output=params.tty or params.stream_stdout_stderr,
        output_cap=cap,
        timeout_s=None if timeout_ms is None else timeout_ms / 1000,
    )


@handler("process/spawn")
async def process_spawn(conn: Connection, params: ProcessSpawnParams) -> Reply:
    request = _process_request(params)
    handle = params.process_handle

    async def output_delta(stream: str, data: bytes, cap_reached: bool) -> None:
        peer = conn.peer
        if peer is not None:
            await peer.wait_writable()
        conn.notify(
            "process/outputDelta",
            ProcessOutputDeltaNotification(
                process_handle=handle,
                stream="stderr" if stream == "stderr" else "stdout",
                delta_base64=base64.b64encode(data).decode("ascii"),
                cap_reached=cap_reached,
            ),
        )

    async def exited(result: CommandResult) -> None:
        conn.notify(
            "process/exited",
            ProcessExitedNotification(
                process_handle=handle,
                exit_code=result.exit_code,
                stdout=result.stdout,
                stderr=result.stderr,
                stdout_cap_reached=result.stdout_cap_reached,
                stderr_cap_reached=result.stderr_cap_reached,
                output_drain_timed_out=result.output_drain_timed_out,
            ),
        )

    begin = await conn.app.services.processes.spawn(conn.id, request, output_delta, exited)
    return Reply(ProcessSpawnResponse(), begin)


@handler("process/writeStdin")
async def process_write_stdin(conn: Connection, params: ProcessWriteStdinParams) -> ProcessWriteStdinResponse:
    processes = conn.app.services.processes
    await write_stdin(
        processes, conn.id, params.process_handle, params.delta_base64, params.close_stdin, "process/writeStdin"
    )
    return ProcessWriteStdinResponse()


@handler("process/resizePty")
async def process_resize_pty(conn: Connection, params: ProcessResizePtyParams) -> ProcessResizePtyResponse:
    if params.size.rows == 0 or params.size.cols == 0:
        raise InvalidParams(_SIZE_NOT_POSITIVE)
    conn.app.services.processes.resize(conn.id, params.process_handle, params.size.rows, params.size.cols)
    return ProcessResizePtyResponse()


@handler("process/kill")
async def process_kill(conn: Connection, params: ProcessKillParams) -> ProcessKillResponse:
    conn.app.services.processes.kill(conn.id, params.process_handle)
    return ProcessKillResponse()
