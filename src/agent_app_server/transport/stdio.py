"""JSONL over a pair of pipes (the reference's default transport): one message per line.

Owns: line framing over asyncio pipes. No JSON-RPC knowledge.
Layer: transport (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from typing import BinaryIO

from .base import FrameTooLarge

#: Lines longer than this are discarded (with an error reply from the peer), bounding memory.
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
#: Bytes asked for per read from stdin: below the allocator's mmap threshold (128 KiB).
READ_CHUNK_BYTES = 64 * 1024


class StdioStream:
    """A :class:`~agent_app_server.transport.base.MessageStream` over a reader and a writer pipe."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_line: int) -> None:
        self._reader = reader
        self._writer = writer
        self._max_line = max_line

    @classmethod
    async def open(
        cls,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> StdioStream:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=max_line_bytes, loop=loop)
        in_file = stdin if stdin is not None else sys.stdin.buffer
        out_file = stdout if stdout is not None else sys.stdout.buffer
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader, loop=loop), in_file
        )
        if hasattr(read_transport, "max_size"):
            # asyncio reads up to 256 KiB per read: a buffer that large is mapped and unmapped
            # (mmap, mremap, munmap) for every message, several syscalls per request.
            read_transport.max_size = READ_CHUNK_BYTES
        # A dup keeps closing our writer from closing the process's own stdout descriptor.
        out_dup = os.fdopen(os.dup(out_file.fileno()), "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.streams.FlowControlMixin(loop=loop), out_dup
        )
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        return cls(reader, writer, max_line_bytes)

    async def receive(self) -> bytes | None:
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as eof:
                # A final message without a trailing newline still counts.
                return eof.partial if eof.partial.strip() else None
            except asyncio.LimitOverrunError as overrun:
                await self._discard_line(overrun.consumed)
                raise FrameTooLarge(self._max_line) from None
            if line.strip():
                return line
            # Blank lines are keep-alives some clients send; they are not messages.

    async def _discard_line(self, already_buffered: int) -> None:
        """Drop the rest of an oversized line so the next message parses cleanly."""
        await self._reader.readexactly(already_buffered)
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as more:
                await self._reader.readexactly(more.consumed)
            except asyncio.IncompleteReadError:
                return

    async def send_many(self, messages: Sequence[str]) -> None:
        self._writer.write(("\n".join(messages) + "\n").encode())
        await self._writer.drain()

    async def close(self, reason: str = "") -> None:
        if not self._writer.is_closing():
            self._writer.close()
