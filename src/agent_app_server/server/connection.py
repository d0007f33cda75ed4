"""One client connection: handshake state, capabilities, and method dispatch.

Owns: ``initialize`` exactly once, experimental gating, notification opt-outs, params
validation (bad params become -32602 naming the field), and routing to handlers.
Layer: server (imports everything below it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..core.thread_basics import ClientIdentity
from ..protocol import EXPERIMENTAL_CONTEXT_KEY, METHODS, ExperimentalNotEnabled, WireModel
from ..protocol.envelope import stamped_notification
from ..rpc import InvalidParams, InvalidRequest, MethodNotFound, Peer, Reply, RequestId
from ..rpc.state import json_type
from ..store import ThreadNotFound

if TYPE_CHECKING:
    from .app import AppServer

_connection_ids = itertools.count(1)
#: The request's params as the client sent them, for the few fields beyond the reference's schema
#: (``capabilities.eventReplay``, ``thread/resume.afterSeq``) that the wire models do not carry.
_raw_params: ContextVar[Any] = ContextVar("raw_params", default=None)


def encode_notification(method: str, params: Any) -> str:
    """The wire form of a notification, serialized once however many clients receive it."""
    if isinstance(params, WireModel):
        params = params.to_wire()
    return stamped_notification(method, params)


class Connection:
    """Implements :class:`~agent_app_server.rpc.Dispatcher` for one transport connection."""

    def __init__(self, app: AppServer) -> None:
        self.id = next(_connection_ids)
        self.app = app
        self.peer: Peer | None = None
        self.initialized = False
        self.client: ClientIdentity | None = None
        self.experimental_api = False
        self.opted_out: frozenset[str] = frozenset()
        #: ``capabilities.eventReplay``: thread notifications carry ``seq`` (beyond the reference).
        self.event_replay = False
        #: Threads being replayed to this connection: their live notifications wait here, in order.
        self._held: dict[str, list[tuple[int, str]]] = {}
        #: Closes the connection when the client is hopelessly behind (set by the server).
        self.on_overflow: Callable[[], Coroutine[Any, Any, None]] | None = None

    # ------------------------------------------------------------------ dispatch

    async def handle_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        from .handlers import get_handler

        spec = METHODS.get(method)
        handler = get_handler(method)
        if spec is None or handler is None:
            raise MethodNotFound(_not_found_message(method))
        if method != "initialize" and not self.initialized:
            raise InvalidRequest("Not initialized")
        if spec.experimental and not self.experimental_api:
            raise InvalidRequest(f"{method} requires experimentalApi capability")
        parsed = self._validate(method, spec.params, params, spec.params_optional)
        _raw_params.set(params)
        try:
            result = await handler(self, parsed)
        except ThreadNotFound as missing:
            raise InvalidParams(str(missing)) from None
        if isinstance(result, Reply):
            return Reply(_to_wire(result.result), result.then)
        return _to_wire(result)

    def _validate(self, method: str, model: type[WireModel] | None, params: Any, optional: bool) -> Any:
        if model is None:
            # A method without params: absent, null and {} are all "none", as the reference;
            # fields in it mean the client expects something this method does not take.
            if isinstance(params, dict) and params:
                raise InvalidParams(f"Invalid params for {method}: it takes no params, got `{next(iter(params))}`")
            return None
        if params is None:
            if optional:
                return None
            # Lenient where the reference says "missing field `params`": an absent params object
            # is an empty one, so only genuinely required fields are reported (by name).
            params = {}
        if not isinstance(params, dict):
            raise InvalidParams(f"Invalid params for {method}: `params` must be an object, got {_json_type(params)}")
        try:
            return model.model_validate(params, context={EXPERIMENTAL_CONTEXT_KEY: self.experimental_api})
        except ExperimentalNotEnabled as gated:
            raise InvalidRequest(str(gated)) from None
        except ValidationError as exc:
            raise InvalidParams(describe_validation_error(method, exc)) from None

    async def handle_notification(self, method: str, params: Any) -> None:
        # `initialized` completes the handshake for clients that send it; nothing depends on it,
        # because some clients never do. Other client notifications carry nothing we act on.
        return None

    # ------------------------------------------------------------------ outbound

    def notify(self, method: str, params: Any) -> None:
        if self.peer is None or method in self.opted_out:
            return
        self.peer.send_encoded(encode_notification(method, params))

    def send_encoded(self, method: str, encoded: str) -> None:
        if self.peer is None or method in self.opted_out:
            return
        self.peer.send_encoded(encoded)

    # ------------------------------------------------------------------ event replay

    def send_thread_event(self, thread_id: str, method: str, seq: int, encoded: str) -> None:
        """A numbered notification (``encoded`` already carries ``seq``) for an opted-in client."""
        if self.peer is None or method in self.opted_out:
            return
        if self._held:
            held = self._held.get(thread_id)
            if held is not None:
                held.append((seq, encoded))
                if len(held) > _MAX_HELD and self.on_overflow is not None:
                    # The replay cannot catch up with the live stream: same fate as a client
                    # that stopped reading.
                    self._held.clear()
                    task = asyncio.get_running_loop().create_task(self.on_overflow())
                    _background.add(task)
                    task.add_done_callback(_background.discard)
                return
        self.peer.send_encoded(encoded)

    def hold(self, thread_id: str) -> None:
        """Queue the thread's live notifications until :meth:`release_held` (a replay runs first)."""
        self._held[thread_id] = []

    def send_replayed(self, method: str, encoded: str) -> None:
        if self.peer is not None and method not in self.opted_out:
            self.peer.send_encoded(encoded)

    def release_held(self, thread_id: str, replayed_upto: int) -> None:
        """Send what waited (skipping what the replay already sent) and go live again."""
        held = self._held.pop(thread_id, None)
        if held is None or self.peer is None:
            return
        for seq, encoded in held:
            if seq > replayed_upto:
                self.peer.send_encoded(encoded)
        self.app.resend_pending_requests(self, thread_id)

    def drop_held(self, thread_id: str) -> None:
        self._held.pop(thread_id, None)

    async def abort(self, reason: str) -> None:
        if self.peer is not None:
            await self.peer.close(reason)


def raw_param(name: str) -> Any:
    """A top-level field of the current request's params as sent (None when absent)."""
    params = _raw_params.get()
    return params.get(name) if isinstance(params, dict) else None


#: Live notifications one connection may accumulate while a replay to it runs.
_MAX_HELD = 50_000
_background: set[asyncio.Task[None]] = set()


def _to_wire(result: Any) -> Any:
    return result.to_wire() if isinstance(result, WireModel) else result


def describe_validation_error(method: str, exc: ValidationError) -> str:
    """``Invalid params for thread/read: `threadId`: Input should be a valid string (got 5)``."""
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"] if _is_field_segment(part)) or "params"
        if path in seen:
            continue
        detail = error["msg"]
        if error["type"] != "missing":
            detail += f" (got {_short(error.get('input'))})"
        seen[path] = detail
    parts = [f"`{path}`: {detail}" for path, detail in list(seen.items())[:5]]
    return f"Invalid params for {method}: " + "; ".join(parts)


def _is_field_segment(part: str | int) -> bool:
    # Pydantic adds union-member tags such as "literal['a','b']" or "function-after[...]" to
    # error locations; they mean nothing to a client.
    return isinstance(part, int) or not any(ch in part for ch in "[]()-,'")


def _short(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    kind = json_type(value)
    return kind if kind == "null" else ("an " if kind[0] in "aeiou" else "a ") + kind


Handler = Callable[[Connection, Any], Any]


def _not_found_message(method: str) -> str:
    from ..protocol.not_offered import not_offered_reason

    reason = not_offered_reason(method)
    if reason is not None:
        return f"Method not found: `{method}` is not offered by this server: {reason}"
    return f"Method not found: `{method}` is not implemented by this server"
