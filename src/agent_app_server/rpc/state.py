"""The JSON-RPC 2.0 connection as a pure state object (Sans-I/O): frames in, events out.

Owns: what a frame means (a request, a notification, an answer to one of our requests, or
something refused with an error reply), the limits on what we parse (nesting depth, lone
surrogates, id range), and the table of pending ids in both directions: client requests in
flight, each to be answered exactly once, and our requests awaiting the client's answer.
Every message leaves as text built by :mod:`agent_app_server.protocol.envelope`.
No asyncio and no I/O: :class:`~agent_app_server.rpc.peer.Peer` is the shell that reads, runs
handlers and writes; tests and the fuzzer drive this object directly.
Layer: rpc (imports ``protocol.envelope`` and ``rpc.errors``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..protocol.envelope import encode_error, encode_json, encode_request, encode_result
from .errors import InvalidRequest, ParseError, RemoteError, RpcError

__all__ = [
    "MAX_JSON_DEPTH",
    "Event",
    "Incoming",
    "IncomingNotification",
    "IncomingRequest",
    "Refused",
    "RequestId",
    "RpcState",
    "escape_unencodable",
    "json_type",
]

RequestId = int | str
Token = TypeVar("Token")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
#: The deepest nesting of arrays and objects a message may have (the envelope counts as one
#: level). The reference's parser refuses 128 levels and more; so do we, before any handler or
#: encoder walks the value recursively.
MAX_JSON_DEPTH = 127
_TOO_DEEP = f"Parse error: JSON nested more than {MAX_JSON_DEPTH} levels deep (arrays and objects); flatten the message"


@dataclass(slots=True)
class IncomingRequest:
    """A client request; answer it with :meth:`RpcState.result` or :meth:`RpcState.error`."""

    id: RequestId
    method: str
    params: Any


@dataclass(slots=True)
class IncomingNotification:
    method: str
    params: Any


@dataclass(slots=True)
class Incoming(Generic[Token]):
    """The client's answer to one of our requests: ``token`` is what :meth:`RpcState.request`
    was given; ``error`` is set when the client answered with an error."""

    token: Token
    result: Any
    error: RemoteError | None


@dataclass(slots=True)
class Refused:
    """A frame that is not a valid message: ``reply`` is the error to send back."""

    reply: str


Event = IncomingRequest | IncomingNotification | Incoming[Any] | Refused | None


class RpcState(Generic[Token]):
    """One connection's protocol state. Not thread-safe; no I/O."""

    def __init__(self) -> None:
        self._next_request_id = 0
        #: Our requests awaiting the client's answer: id → the caller's token.
        self._awaiting: dict[RequestId, Token] = {}
        #: Client requests not answered yet (a client may reuse an id: each use is answered).
        self._in_flight: dict[RequestId, int] = {}

    # ------------------------------------------------------------------ frames in

    def receive(self, frame: bytes | str) -> Event:
        """What ``frame`` means. None: nothing to do (an answer to a request we never sent, or
        sent and gave up on)."""
        try:
            message = _parse(frame)
        except ParseError as error:
            return Refused(encode_error(None, error.to_wire()))
        if not isinstance(message, dict):
            kind = "a batch (array)" if isinstance(message, list) else f"a JSON {type(message).__name__}"
            return self._refuse(
                None, InvalidRequest(f"Invalid request: expected a JSON object, got {kind}; batches are not supported")
            )
        has_id = "id" in message
        raw_id: RequestId = message.get("id")  # type: ignore[assignment]  # checked just below
        if has_id and not _valid_id(raw_id):
            return self._refuse(
                None,
                InvalidRequest(
                    "Invalid request: `id` must be a string or an integer between -2^63 and 2^63-1, "
                    f"got {_describe(raw_id)}"
                ),
            )
        method = message.get("method")
        if method is not None:
            if not isinstance(method, str) or not method:
                return self._refuse(
                    raw_id if has_id else None,
                    InvalidRequest(f"Invalid request: `method` must be a non-empty string, got {_describe(method)}"),
                )
            if has_id:
                in_flight = self._in_flight
                in_flight[raw_id] = in_flight.get(raw_id, 0) + 1
                return IncomingRequest(raw_id, method, message.get("params"))
            return IncomingNotification(method, message.get("params"))
        if has_id and ("result" in message or "error" in message):
            return self._answered(raw_id, message)
        return self._refuse(
            raw_id if has_id else None,
            InvalidRequest(
                "Invalid request: a message needs `method` (request/notification) or `result`/`error` (response)"
            ),
        )

    def refuse(self, error: RpcError) -> str:
        """The reply to something unreadable that is not a frame (e.g. one over the size limit)."""
        return encode_error(None, error.to_wire())

    def _refuse(self, request_id: RequestId | None, error: RpcError) -> Refused:
        return Refused(encode_error(request_id, error.to_wire()))

    def _answered(self, request_id: RequestId, message: dict[str, Any]) -> Incoming[Token] | None:
        if request_id not in self._awaiting:
            return None
        token = self._awaiting.pop(request_id)
        if "error" not in message:
            return Incoming(token, message.get("result"), None)
        error = message["error"]
        if isinstance(error, dict):
            code = error.get("code", 0)
            remote = RemoteError(
                code if isinstance(code, int) and not isinstance(code, bool) else 0,
                str(error.get("message", "")),
                error.get("data"),
            )
        else:
            remote = RemoteError(0, f"malformed error object: {error!r}")
        return Incoming(token, None, remote)

    # ------------------------------------------------------------------ answers out

    def result(self, request_id: RequestId, result: Any) -> str:
        """The reply to a request in flight. Raises TypeError/ValueError/RecursionError when
        ``result`` is not JSON (the request stays in flight, to be answered with an error)."""
        encoded = encode_result(request_id, result)
        self._settle(request_id)
        return encoded

    def error(self, request_id: RequestId, error: RpcError) -> str:
        """The error reply to a request in flight."""
        encoded = encode_error(request_id, error.to_wire())
        self._settle(request_id)
        return encoded

    def _settle(self, request_id: RequestId) -> None:
        # Ids are never booleans (refused on receipt), so 1 and "1" are the only look-alikes and
        # a dict tells those apart.
        count = self._in_flight.get(request_id, 0)
        if count <= 0:
            raise RuntimeError(f"request {request_id!r} is not in flight: it was answered already or never received")
        if count == 1:
            del self._in_flight[request_id]
        else:
            self._in_flight[request_id] = count - 1

    @property
    def requests_in_flight(self) -> int:
        return sum(self._in_flight.values())

    # ------------------------------------------------------------------ our requests

    def request(self, method: str, params: Any, token: Token) -> tuple[RequestId, str]:
        """A request to the client: its id and text. The client's answer comes back from
        :meth:`receive` as :class:`Incoming` carrying ``token``."""
        request_id = self._next_request_id
        encoded = encode_request(request_id, method, params)
        self._next_request_id += 1
        self._awaiting[request_id] = token
        return request_id, encoded

    def forget(self, request_id: RequestId) -> None:
        """Stop waiting for an answer (the caller gave up); a late answer is then ignored."""
        self._awaiting.pop(request_id, None)

    def abandon(self) -> list[Token]:
        """The connection is over: the tokens of every request still awaiting an answer."""
        tokens = list(self._awaiting.values())
        self._awaiting.clear()
        return tokens

    @property
    def awaiting_answers(self) -> int:
        return len(self._awaiting)


def escape_unencodable(message: str) -> str:
    """``message`` with each lone surrogate written as its ``\\uXXXX`` escape.

    In encoder output such characters occur only inside JSON strings, where the escape means the
    same code unit, so the result is the same JSON value, now encodable as UTF-8.
    """
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def _parse(frame: bytes | str) -> Any:
    """The frame's JSON value, or :class:`ParseError` (also for nesting beyond ``MAX_JSON_DEPTH``
    and for lone surrogates)."""
    try:
        # Strict UTF-8: json.loads(bytes) would let encoded surrogates (ED A0 80) through.
        text = frame.decode() if isinstance(frame, bytes) else frame
        value = json.loads(text)
    except RecursionError:
        raise ParseError(_TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"Parse error: invalid JSON ({exc}); send one JSON object per message") from None
    # Cheap bound first: a frame with few brackets cannot nest deeply.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nests_deeper_than(value, MAX_JSON_DEPTH):
        raise ParseError(_TOO_DEEP)
    # Only a `\uD8xx`..`\uDFxx` escape can now put a surrogate into a parsed string, and the parser
    # joins proper pairs: any surrogate left is lone.
    if "\\ud" in text or "\\uD" in text:
        _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """As the reference: a lone surrogate is not Unicode text, so the message is not valid JSON.
    Refused here, it can reach neither a handler nor the store."""
    try:
        encode_json(value).encode()
    except UnicodeEncodeError as exc:
        escape = f"\\u{ord(exc.object[exc.start]):04x}"
        raise ParseError(
            f"Parse error: lone surrogate `{escape}` in a string; JSON text must be valid Unicode "
            "(a high surrogate \\ud800-\\udbff must be followed by a low one \\udc00-\\udfff)"
        ) from None


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays/objects in ``value`` nest more than ``limit`` levels (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _INT64_MIN <= value <= _INT64_MAX
    return isinstance(value, str)


def _describe(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{json_type(value)} {text}"


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, as a client would name it (``"array"``, ``"null"``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
