"""Standalone processes (experimental): ``process/spawn``, ``process/writeStdin``,
``process/kill``, ``process/resizePty`` and their ``process/outputDelta`` / ``process/exited``
notifications.

Owns: their params, results and notifications. The reply to ``process/spawn`` comes once the
process started; its output and exit follow as notifications to the connection that spawned it.
Registered in :mod:`.registry`'s ``METHOD_TABLE``.
Layer: protocol (imports ``_base``, ``common``, ``fs`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import CheckedInt64, Int32, UInt, UInt16
from .fs import AbsolutePath

__all__ = [
    "ProcessExitedNotification",
    "ProcessKillParams",
    "ProcessKillResponse",
    "ProcessOutputDeltaNotification",
    "ProcessOutputStream",
    "ProcessResizePtyParams",
    "ProcessResizePtyResponse",
    "ProcessSpawnParams",
    "ProcessSpawnResponse",
    "ProcessTerminalSize",
    "ProcessWriteStdinParams",
    "ProcessWriteStdinResponse",
]

ProcessOutputStream = TypeAliasType("ProcessOutputStream", Literal["stdout", "stderr"])


class ProcessTerminalSize(WireModel):
    """PTY size in character cells."""

    rows: UInt16
    cols: UInt16


class ProcessSpawnParams(WireModel):
    """Start an argv on a connection-scoped handle; the reply comes once it started."""

    command: list[str]
    process_handle: str
    cwd: AbsolutePath
    tty: bool = False
    stream_stdin: bool = False
    stream_stdout_stderr: bool = False
    #: Absent: the server default; null: no cap (see ``model_fields_set``).
    output_bytes_cap: UInt | None = None
    #: Absent: the server default; null: no timeout (see ``model_fields_set``).
    timeout_ms: CheckedInt64 | None = None
    env: dict[str, str | None] | None = None
    size: ProcessTerminalSize | None = None


class ProcessSpawnResponse(WireModel):
    pass


class ProcessWriteStdinParams(WireModel):
    process_handle: str
    delta_base64: str | None = None
    close_stdin: bool = False


class ProcessWriteStdinResponse(WireModel):
    pass


class ProcessKillParams(WireModel):
    process_handle: str


class ProcessKillResponse(WireModel):
    pass


class ProcessResizePtyParams(WireModel):
    process_handle: str
    size: ProcessTerminalSize


class ProcessResizePtyResponse(WireModel):
    pass


class ProcessOutputDeltaNotification(WireModel):
    """A base64 chunk of a streaming process's output."""

    process_handle: str
    stream: ProcessOutputStream
    delta_base64: str
    cap_reached: bool


class ProcessExitedNotification(WireModel):
    """The process ended; buffered output (empty for a stream that was streamed)."""

    process_handle: str
    exit_code: Int32
    stdout: str
    stderr: str
    stdout_cap_reached: bool
    stderr_cap_reached: bool
    output_drain_timed_out: bool | None = None


registry.notification("process/outputDelta", ProcessOutputDeltaNotification)
registry.notification("process/exited", ProcessExitedNotification)
