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
from .ids import parse_thread_id

__all__ = ["InvalidCursorError", "InvalidThreadId", "ThreadNotFound"]


class InvalidThreadId(InvalidParams):
    pass


def checked_thread_id(thread_id: str) -> str:
    """The canonical form of a thread id a client sent; ``InvalidThreadId`` when it is not one."""
    try:
        return parse_thread_id(thread_id)
    except ValueError as exc:
        raise InvalidThreadId(str(exc)) from None


class InvalidCursorError(InvalidParams):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor: {cursor}")
