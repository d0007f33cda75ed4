"""Pre-serialized delta notifications: the streaming hot path without dicts or a JSON encoder.

Owns: the params text of ``item/*/delta`` notifications, in the reference's field order; the
envelope around it comes from :mod:`.envelope`, as for every other message. A 20,000-delta
reply costs one string build per delta instead of a dict and an encoder call.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from json.encoder import encode_basestring  # the C-accelerated string escaper

from .envelope import notification_head, stamped_tail

__all__ = ["DeltaEncoder"]


class DeltaEncoder:
    """Encodes successive deltas of one item; ``extra`` params (e.g. ``summaryIndex``) follow ``delta``."""

    __slots__ = ("_params_end", "_prefix")

    def __init__(self, method: str, thread_id: str, turn_id: str, item_id: str, extra: dict[str, int] | None = None):
        self._prefix = (
            f'{notification_head(method)}{{"threadId":{encode_basestring(thread_id)},'
            f'"turnId":{encode_basestring(turn_id)},"itemId":{encode_basestring(item_id)},"delta":'
        )
        tail = "".join(f",{encode_basestring(key)}:{int(value)}" for key, value in (extra or {}).items())
        self._params_end = tail + "}"

    def encode(self, delta: str) -> str:
        return f"{self._prefix}{encode_basestring(delta)}{self._params_end}{stamped_tail()}"
