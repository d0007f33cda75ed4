"""Domain errors of the agent core, as the wire errors clients see.

Owns: the messages for invalid thread ids and cursors. Messages follow the reference's text so
clients that match on them keep working; codes are the standard JSON-RPC ones (see
docs/compatibility.md). An unknown thread is the store's :class:`ThreadNotFound` (``thread not
found: <id>``), re-exported here; the server answers it as -32602.
Layer: core (imports ``rpc`` errors and ``store``).
"""

from __future__ import annotations

from ..rpc.errors import InvalidParams
from ..store import ThreadNotFound

__all__ = ["InvalidCursorError", "InvalidThreadId", "ThreadNotFound"]


class InvalidThreadId(InvalidParams):
    pass


class InvalidCursorError(InvalidParams):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor: {cursor}")
