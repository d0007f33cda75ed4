"""The JSON-RPC envelope as text: the one place the wire form of every outgoing message is built.

Owns: the member names and order of replies (``id``, ``result``/``error``), requests (``id``,
``method``, ``params``) and notifications (``method``, ``params``, then top-level ``emittedAtMs``
and, for clients that opted into event replay, ``seq``), and the JSON encoder they share
(compact, UTF-8 as is). The rpc peer, the server's notification fan-out, the pre-serialized
delta path (``fastpath``) and the replay log all build messages here.
Layer: protocol (standard library only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]  # C accelerators
from typing import Any

__all__ = [
    "encode_error",
    "encode_json",
    "encode_notification",
    "encode_request",
    "encode_result",
    "notification_head",
    "now_ms",
    "stamped_notification",
    "stamped_tail",
    "with_seq",
]


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _one_encoder() -> Callable[[Any], str]:
    """Compact JSON, non-ASCII written as is (the transport encodes the text as UTF-8).

    ``JSONEncoder.encode`` builds a new C encoder on every call; this one is built once. Without
    the per-call cycle check a cyclic value raises RecursionError instead of ValueError.
    """
    standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    if c_make_encoder is None:
        return standard
    try:
        c_encode = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", False, False, True)
    except TypeError:  # another signature in another Python version
        return standard

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return encode_basestring(value)
        return "".join(c_encode(value, 0))

    return encode


encode_json = _one_encoder()


def now_ms() -> int:
    """``emittedAtMs``: wall-clock milliseconds when a notification leaves the server."""
    return time.time_ns() // 1_000_000


def encode_result(request_id: int | str, result: Any) -> str:
    return encode_json({"id": request_id, "result": result})


def encode_error(request_id: int | str | None, error: dict[str, Any]) -> str:
    """``error`` is the wire error object (``code``, ``message``, optional ``data``)."""
    return encode_json({"id": request_id, "error": error})


def encode_request(request_id: int | str, method: str, params: Any) -> str:
    return encode_json({"id": request_id, "method": method, "params": params})


def encode_notification(method: str, params: Any, **top_level: Any) -> str:
    """A notification; ``top_level`` members follow ``params`` in the order given."""
    return encode_json({"method": method, "params": params, **top_level})


def notification_head(method: str) -> str:
    """The text of a notification up to its params value: ``{"method":...,"params":``."""
    return f'{{"method":{encode_basestring(method)},"params":'


def stamped_tail() -> str:
    """What follows the params value of a server notification: ``,"emittedAtMs":<now>}``."""
    return f',"emittedAtMs":{time.time_ns() // 1_000_000}}}'


def stamped_notification(method: str, params: Any) -> str:
    """A server notification stamped with ``emittedAtMs`` now (serialized once, however many
    clients receive it)."""
    return notification_head(method) + encode_json(params) + stamped_tail()


def with_seq(encoded: str, seq: int) -> str:
    """The event-replay form of a notification: ``seq`` added as its last top-level member."""
    return f'{encoded[:-1]},"seq":{seq}}}'
