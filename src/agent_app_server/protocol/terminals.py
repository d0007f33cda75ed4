"""Background terminals (experimental): ``thread/backgroundTerminals/list|terminate|clean``, over
the commands a thread's turns started and left running.

Owns: their params and results. Layer: protocol (imports ``_base`` and ``common``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from ._base import WireModel
from .common import UInt32, UInt64

__all__ = [
    "ThreadBackgroundTerminal",
    "ThreadBackgroundTerminalsCleanParams",
    "ThreadBackgroundTerminalsCleanResponse",
    "ThreadBackgroundTerminalsListParams",
    "ThreadBackgroundTerminalsListResponse",
    "ThreadBackgroundTerminalsTerminateParams",
    "ThreadBackgroundTerminalsTerminateResponse",
]


class ThreadBackgroundTerminal(WireModel):
    process_id: str
    item_id: str
    command: str
    cwd: str
    os_pid: UInt32 | None = None
    #: Not sampled here (it needs two readings over time): always null.
    cpu_percent: float | None = None
    rss_kb: UInt64 | None = None


class ThreadBackgroundTerminalsListParams(WireModel):
    thread_id: str
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadBackgroundTerminalsListResponse(WireModel):
    data: list[ThreadBackgroundTerminal]
    next_cursor: str | None = None


class ThreadBackgroundTerminalsTerminateParams(WireModel):
    thread_id: str
    process_id: str


class ThreadBackgroundTerminalsTerminateResponse(WireModel):
    terminated: bool


class ThreadBackgroundTerminalsCleanParams(WireModel):
    thread_id: str


class ThreadBackgroundTerminalsCleanResponse(WireModel):
    pass
