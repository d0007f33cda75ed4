"""What a transport offers the JSON-RPC peer: whole messages in, batches of messages out.

Owns: the ``MessageStream`` contract. Transports know bytes and frames, never JSON-RPC.
Layer: transport (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class FrameTooLarge(Exception):
    """An incoming frame exceeded the transport's size limit; the frame was discarded."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"message larger than {limit} bytes was discarded; send smaller messages")
        self.limit = limit


class MessageStream(Protocol):
    """A bidirectional stream of text messages (one JSON-RPC message each)."""

    async def receive(self) -> bytes | str | None:
        """The next whole message, or None once the peer has closed its side.

        Raises :class:`FrameTooLarge` for an oversized message; the stream stays usable.
        """
        ...

    async def send_many(self, messages: Sequence[str]) -> None:
        """Write messages in order; returns once the transport has accepted them.

        Raises :class:`UnicodeEncodeError`, having written none of them, when a message cannot be
        encoded as UTF-8 (a lone surrogate).
        """
        ...

    async def close(self, reason: str = "") -> None: ...
