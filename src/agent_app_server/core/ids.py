"""Identifiers: UUIDv7 (time-ordered), as the reference uses for threads, turns and items.

Owns: id generation and validation. Layer: core.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    """A UUIDv7 string: 48-bit Unix ms timestamp, version and variant bits, 74 random bits."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def parse_thread_id(text: str) -> str:
    """The canonical form of a thread id, or ValueError saying what is wrong with it."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"invalid thread id: {text!r} is not a UUID (expected e.g. {uuid7()})") from None
