"""Domain errors of the agent core, as the wire errors clients see.

Owns: the messages for unknown/invalid threads and turns. Messages follow the reference's text
(``thread not found: <id>``) so clients that match on them keep working; codes are the standard
JSON-RPC ones (see docs/compatibility.md).
"""

from __future__ import annotations

from ..rpc.errors import InvalidParams


class ThreadNotFound(InvalidParams):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread not found: {thread_id}")
        self.thread_id = thread_id


class InvalidThreadId(InvalidParams):
    pass


class InvalidCursorError(InvalidParams):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor: {cursor}")
