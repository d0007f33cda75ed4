"""Pre-serialized delta notifications: the streaming hot path without dicts or a JSON encoder.

Owns: the exact wire text of ``item/*/delta`` notifications (the same JSON the generic path
produces: the method, params in the reference's field order, top-level ``emittedAtMs``).
A 20,000-delta reply costs one string build per delta instead of a dict and an encoder call.
"""

from __future__ import annotations

import time
from json.encoder import encode_basestring  # the C-accelerated string escaper

__all__ = ["DeltaEncoder"]


class DeltaEncoder:
    """Encodes successive deltas of one item; ``extra`` params (e.g. ``summaryIndex``) follow ``delta``."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, method: str, thread_id: str, turn_id: str, item_id: str, extra: dict[str, int] | None = None):
        self._prefix = (
            f'{{"method":{encode_basestring(method)},"params":{{"threadId":{encode_basestring(thread_id)},'
            f'"turnId":{encode_basestring(turn_id)},"itemId":{encode_basestring(item_id)},"delta":'
        )
        tail = "".join(f",{encode_basestring(key)}:{int(value)}" for key, value in (extra or {}).items())
        self._suffix = tail + '},"emittedAtMs":'

    def encode(self, delta: str) -> str:
        return f"{self._prefix}{encode_basestring(delta)}{self._suffix}{time.time_ns() // 1_000_000}}}"
