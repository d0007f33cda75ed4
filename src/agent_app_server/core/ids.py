"""Identifiers: UUIDv7 (time-ordered), as the reference uses for threads, turns and items.

Owns: id generation and validation. Layer: core.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RAND_BITS = 74
_last = [0, 0]  # the last id's (Unix ms, 74 random bits)
_lock = threading.Lock()


def uuid7() -> str:
    """A UUIDv7 string: 48-bit Unix ms timestamp, version and variant bits, 74 random bits.

    Monotonic within this process (RFC 9562, method 2): an id made in the same millisecond as the
    last one (or after the clock stepped back) continues from it, so ids sort in creation order —
    pages ordered by id (attachments, sections) list things in the order they were made."""
    with _lock:
        unix_ms = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(10), "big") >> (80 - _RAND_BITS)
        last_ms, last_rand = _last
        if unix_ms <= last_ms:
            unix_ms, rand = last_ms, last_rand + 1 + (rand & 0xFFFF)
            if rand >> _RAND_BITS:  # the millisecond's space is used up: borrow the next one
                unix_ms, rand = last_ms + 1, rand & ((1 << _RAND_BITS) - 1)
        _last[:] = [unix_ms, rand]
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
