"""An in-memory transport pair: for embedding the server in a Python process and for unit tests.

Owns: two connected :class:`MemoryStream` ends. No JSON-RPC knowledge.
Layer: transport (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


class MemoryStream:
    """One end of an in-memory pair; what one end sends, the other receives, in order."""

    def __init__(self, inbox: asyncio.Queue[str | None], outbox: asyncio.Queue[str | None]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False

    async def receive(self) -> str | None:
        return await self._inbox.get()

    async def send_many(self, messages: Sequence[str]) -> None:
        if self._closed:
            raise ConnectionResetError("in-memory stream is closed")
        for message in messages:
            await self._outbox.put(message)

    async def close(self, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            await self._outbox.put(None)


def memory_pair(max_queued: int = 0) -> tuple[MemoryStream, MemoryStream]:
    """Two connected ends; ``max_queued`` bounds each direction (0 = unbounded)."""
    a_to_b: asyncio.Queue[str | None] = asyncio.Queue(max_queued)
    b_to_a: asyncio.Queue[str | None] = asyncio.Queue(max_queued)
    return MemoryStream(b_to_a, a_to_b), MemoryStream(a_to_b, b_to_a)
