"""Domain errors of the agent core, as the wire errors clients see.

Owns: the messages for unknown/invalid threads and turns. Messages follow the reference's text
(``thread not found: <id>``) so clients that match on them keep working; codes are the standard
JSON-RPC ones (see docs/compatibility.md).
"""

from __future__ import annotations

from ..rpc.errors import InvalidParams
from .ids import parse_thread_id


class ThreadNotFound(InvalidParams):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread not found: {thread_id}")
        self.thread_id = thread_id


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
