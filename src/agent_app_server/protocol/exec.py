"""Standalone commands: ``command/exec`` (and its ``write`` / ``resize`` / ``terminate``) and
``thread/shellCommand``.

Owns: their params and responses. The ``command/exec/outputDelta`` notification lives in
:mod:`.notifications`. Imports ``_base`` and ``common``; registered in :mod:`.registry`'s
``METHOD_TABLE``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`), as in methods.py.
from typing import Any

from pydantic import model_validator

from ._base import WireModel
from .common import CheckedInt64, Int32, SandboxPolicy, UInt, UInt16


class CommandExecTerminalSize(WireModel):
    """PTY size in character cells."""

    rows: UInt16
    cols: UInt16


class CommandExecParams(WireModel):
    """Run an argv outside any thread, under the sandbox; the reply comes when it exits."""

    command: list[str]
    process_id: str | None = None
    tty: bool = False
    stream_stdin: bool = False
    stream_stdout_stderr: bool = False
    output_bytes_cap: UInt | None = None
    disable_output_cap: bool = False
    disable_timeout: bool = False
    timeout_ms: CheckedInt64 | None = None
    cwd: str | None = None
    env: dict[str, str | None] | None = None
    size: CommandExecTerminalSize | None = None
    sandbox_policy: SandboxPolicy | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_permission_profile(cls, data: Any) -> Any:
        # The reference's experimental alternative to sandboxPolicy. Ignoring it would run the
        # command under different permissions than the client asked for, so it is refused.
        if isinstance(data, dict) and data.get("permissionProfile") is not None:
            raise ValueError("`permissionProfile` is not supported by this server; send `sandboxPolicy` instead")
        return data


class CommandExecResponse(WireModel):
    exit_code: Int32
    stdout: str
    stderr: str


class CommandExecWriteParams(WireModel):
    process_id: str
    delta_base64: str | None = None
    close_stdin: bool = False


class CommandExecWriteResponse(WireModel):
    pass


class CommandExecResizeParams(WireModel):
    process_id: str
    size: CommandExecTerminalSize


class CommandExecResizeResponse(WireModel):
    pass


class CommandExecTerminateParams(WireModel):
    process_id: str


class CommandExecTerminateResponse(WireModel):
    pass


class ThreadShellCommandParams(WireModel):
    """The TUI's ``!cmd``: a shell string run unsandboxed, recorded in the thread."""

    thread_id: str
    command: str
    timeout_ms: CheckedInt64 | None = None


class ThreadShellCommandResponse(WireModel):
    pass


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "CommandExecParams",
    "CommandExecResizeParams",
    "CommandExecResizeResponse",
    "CommandExecResponse",
    "CommandExecTerminalSize",
    "CommandExecTerminateParams",
    "CommandExecTerminateResponse",
    "CommandExecWriteParams",
    "CommandExecWriteResponse",
    "ThreadShellCommandParams",
    "ThreadShellCommandResponse",
]
