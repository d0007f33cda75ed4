"""Keyset cursors for ``list_threads``, in the reference's ``"<YYYY-MM-DDTHH:MM:SSZ>|<id>"`` format.

Owns: encoding and strict parsing of a (sort value, id) position. Imports only the standard library.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .records import InvalidCursor

# ASCII digits only: ``\d`` would also accept other scripts' digits, which int() happily converts.
_CURSOR_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\|(.+)", re.DOTALL)


def encode_cursor(sort_value: int, thread_id: str) -> str:
    dt = datetime.fromtimestamp(sort_value, UTC)
    # Formatted by hand because strftime's %Y does not zero-pad years below 1000 on every libc.
    return f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}Z|{thread_id}"


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The (sort value, id) a cursor points at; raises ``InvalidCursor`` if it does not parse."""
    match = _CURSOR_RE.fullmatch(cursor)
    if match is None:
        raise InvalidCursor(cursor)
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        dt = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise InvalidCursor(cursor) from None
    return int(dt.timestamp()), match.group(7)


def encode_position_cursor(position: float, thread_id: str) -> str:
    """A (section position, id) point: ``pos:<position>|<id>``."""
    return f"pos:{position!r}|{thread_id}"


def decode_position_cursor(cursor: str) -> tuple[float, str]:
    head, sep, thread_id = cursor.partition("|")
    if not head.startswith("pos:") or not sep or not thread_id:
        raise InvalidCursor(cursor)
    try:
        position = float(head[4:])
    except ValueError:
        raise InvalidCursor(cursor) from None
    if position != position or position in (float("inf"), float("-inf")):
        raise InvalidCursor(cursor)
    return position, thread_id
