"""A JSON-RPC 2.0 peer over any :class:`~agent_app_server.transport.MessageStream`.

Owns: envelope validation, request ids in both directions, concurrency and backpressure.
Layer: imports ``transport`` only. Knows no method names: a :class:`Dispatcher` does.

Slow-consumer and overload policy (the contract this class enforces):

* Every request gets exactly one answer. An overload answer (-32001) is queued like any
  other reply and is never dropped (the reference drops them when its outbound queue is full).
* Ingress is bounded by ``PeerLimits.max_pending_requests`` handlers in flight. A request
  arriving beyond that bound is answered -32001 at once.
* Outbound messages wait in a queue. Past ``PeerLimits.outbound_high_water`` messages the peer
  stops reading from the transport until the writer has drained below half of it, so a client
  that does not read cannot make us accumulate replies to requests it keeps sending.
  Producers of unsolicited traffic (streamed deltas) call :meth:`Peer.wait_writable` to slow
  down instead of growing the queue. ``PeerLimits.outbound_hard_limit`` (optional) is the point
  where the peer gives up on the client and closes the connection (``on_overflow``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from ..transport.base import FrameTooLarge, MessageStream
from .errors import (
    ConnectionClosed,
    InternalError,
    InvalidRequest,
    ParseError,
    RemoteError,
    RpcError,
    ServerOverloaded,
)

log = logging.getLogger(__name__)

RequestId = int | str

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
#: How long in-flight handlers may run on after the client closed its side.
_DRAIN_TIMEOUT_S = 10.0
#: The deepest nesting of arrays and objects a message may have (the envelope counts as one
#: level). The reference's parser refuses 128 levels and more; so do we, before any handler or
#: encoder walks the value recursively.
MAX_JSON_DEPTH = 127
_TOO_DEEP = f"Parse error: JSON nested more than {MAX_JSON_DEPTH} levels deep (arrays and objects); flatten the message"
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Dispatcher(Protocol):
    """What the peer calls for incoming traffic; ``server`` implements it."""

    async def handle_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        """The JSON-ready result, or raise :class:`~agent_app_server.rpc.errors.RpcError`."""
        ...

    async def handle_notification(self, method: str, params: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Reply:
    """A result plus work that must happen right after the reply is queued.

    Notifications queued by ``then`` are guaranteed to follow the reply on the wire (clients
    register for a turn's events only after the ``turn/start`` reply).
    """

    result: Any
    then: Callable[[], None] | None = None


@dataclass(frozen=True, slots=True)
class PeerLimits:
    max_pending_requests: int = 512
    outbound_high_water: int = 4096
    #: None: never give up on a slow reader (stdio: the client is our parent process).
    outbound_hard_limit: int | None = None
    #: A client counts as "not reading" only once one write to it has been blocked this long:
    #: a client that reads, just slower than a burst, is never mistaken for a stalled one.
    stalled_write_s: float = 2.0


class Peer:
    """One JSON-RPC connection. Run :meth:`serve` until the transport closes."""

    def __init__(
        self,
        stream: MessageStream,
        dispatcher: Dispatcher,
        *,
        limits: PeerLimits | None = None,
        on_overflow: Callable[[], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        self._stream = stream
        self._dispatcher = dispatcher
        self._limits = limits or PeerLimits()
        self._on_overflow = on_overflow
        self._outbound: collections.deque[str] = collections.deque()
        self._outbound_ready = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._pending_handlers: set[asyncio.Task[None]] = set()
        self._next_request_id = 0
        self._awaiting_replies: dict[RequestId, asyncio.Future[Any]] = {}
        self._closed = False
        self._writer_task: asyncio.Task[None] | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._overflow_task: asyncio.Task[None] | None = None
        self._write_error: BaseException | None = None
        #: When the write in progress began (None while the writer is idle).
        self._write_started: float | None = None
        self._overflow_timer: asyncio.TimerHandle | None = None
        self._in_flight = 0

    # ----------------------------------------------------------------- lifecycle

    async def serve(self) -> None:
        """Read and dispatch until the peer closes its side; then flush replies and stop."""
        self._writer_task = asyncio.create_task(self._write_loop(), name="rpc-writer")
        # A task of its own so that a writer that can no longer write stops the reading too.
        reader = self._reader_task = asyncio.create_task(self._read_loop(), name="rpc-reader")
        try:
            await asyncio.wait([reader])
            if not reader.cancelled():
                reader.result()
            # Nobody will answer our own requests any more; handlers waiting on them must not hang.
            self._fail_awaiting_replies()
            # Requests already read still get their answers before we go.
            if self._pending_handlers:
                await asyncio.wait(list(self._pending_handlers), timeout=_DRAIN_TIMEOUT_S)
        finally:
            reader.cancel()
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._closed = True
        self._fail_awaiting_replies()
        for task in list(self._pending_handlers):
            task.cancel()
        self._outbound_ready.set()
        if self._writer_task is not None:
            try:
                await asyncio.wait_for(self._writer_task, timeout=5)
            except (TimeoutError, Exception):
                self._writer_task.cancel()
        self._writable.set()

    def _fail_awaiting_replies(self) -> None:
        for future in self._awaiting_replies.values():
            if not future.done():
                future.set_exception(ConnectionClosed("connection closed before the client answered"))
        self._awaiting_replies.clear()

    async def close(self, reason: str = "") -> None:
        self._closed = True
        self._outbound_ready.set()
        await self._stream.close(reason)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_outbound(self) -> int:
        """Messages waiting for the writer (a graceful shutdown waits for this to reach 0)."""
        return len(self._outbound)

    # ----------------------------------------------------------------- reading

    async def _read_loop(self) -> None:
        pending = self._pending_handlers
        limits = self._limits
        while not self._closed:
            if len(self._outbound) >= limits.outbound_high_water:
                # Stop reading while the client is not reading our replies (see module docstring).
                self._writable.clear()
                await self._writable.wait()
                if self._closed:
                    return
            try:
                frame = await self._stream.receive()
            except FrameTooLarge as too_large:
                self._enqueue_error(None, InvalidRequest(str(too_large)))
                continue
            except (ConnectionError, OSError):
                return
            if frame is None:
                return
            try:
                self._handle_frame(frame)
            except Exception as exc:
                # Whatever a message does, the connection keeps serving the next one.
                log.exception("failed to handle an incoming message")
                self._enqueue_error(None, InternalError(f"internal error reading a message: {type(exc).__name__}"))
            if len(pending) > limits.max_pending_requests // 2:
                # Let cheap handlers finish before reading more, so a pipelined burst is served
                # rather than refused; the hard bound still answers -32001 beyond it.
                await asyncio.sleep(0)

    def _handle_frame(self, frame: bytes | str) -> None:
        try:
            message = _parse(frame)
        except ParseError as error:
            self._enqueue_error(None, error)
            return
        if not isinstance(message, dict):
            kind = "a batch (array)" if isinstance(message, list) else f"a JSON {type(message).__name__}"
            self._enqueue_error(
                None,
                InvalidRequest(f"Invalid request: expected a JSON object, got {kind}; batches are not supported"),
            )
            return
        has_id = "id" in message
        raw_id: RequestId = message.get("id")  # type: ignore[assignment]  # checked just below
        if has_id and not _valid_id(raw_id):
            self._enqueue_error(
                None,
                InvalidRequest(
                    "Invalid request: `id` must be a string or an integer between -2^63 and 2^63-1, "
                    f"got {_describe(raw_id)}"
                ),
            )
            return
        method = message.get("method")
        if method is not None:
            if not isinstance(method, str) or not method:
                self._enqueue_error(
                    raw_id if has_id else None,
                    InvalidRequest(f"Invalid request: `method` must be a non-empty string, got {_describe(method)}"),
                )
                return
            params = message.get("params")
            if has_id:
                self._start_request(raw_id, method, params)
            else:
                self._start_notification(method, params)
            return
        if has_id and ("result" in message or "error" in message):
            self._resolve_reply(raw_id, message)
            return
        self._enqueue_error(
            raw_id if has_id else None,
            InvalidRequest(
                "Invalid request: a message needs `method` (request/notification) or `result`/`error` (response)"
            ),
        )

    def _start_request(self, request_id: RequestId, method: str, params: Any) -> None:
        if len(self._pending_handlers) >= self._limits.max_pending_requests:
            self._enqueue_error(request_id, ServerOverloaded())
            return
        task = asyncio.create_task(self._run_request(request_id, method, params))
        self._pending_handlers.add(task)
        task.add_done_callback(self._pending_handlers.discard)

    async def _run_request(self, request_id: RequestId, method: str, params: Any) -> None:
        try:
            result = await self._dispatcher.handle_request(method, params, request_id)
        except RpcError as error:
            self._enqueue_error(request_id, error)
            return
        except asyncio.CancelledError:
            self._enqueue_error(
                request_id, InternalError(f"{method} was cancelled because the server is shutting down")
            )
            raise
        except Exception as exc:
            log.exception("handler for %s failed", method)
            self._enqueue_error(request_id, InternalError(f"internal error in {method}: {type(exc).__name__}: {exc}"))
            return
        then = None
        if isinstance(result, Reply):
            result, then = result.result, result.then
        try:
            encoded = _dumps({"id": request_id, "result": result})
        except (TypeError, ValueError) as exc:
            log.exception("result of %s is not JSON-serializable", method)
            self._enqueue_error(request_id, InternalError(f"internal error in {method}: unserializable result ({exc})"))
            return
        self._enqueue(encoded)
        if then is not None:
            then()

    def _start_notification(self, method: str, params: Any) -> None:
        task = asyncio.create_task(self._run_notification(method, params))
        self._pending_handlers.add(task)
        task.add_done_callback(self._pending_handlers.discard)

    async def _run_notification(self, method: str, params: Any) -> None:
        # A failing notification handler never kills the connection; there is nobody to answer.
        try:
            await self._dispatcher.handle_notification(method, params)
        except Exception:
            log.exception("notification handler for %s failed", method)

    def _resolve_reply(self, request_id: RequestId, message: dict[str, Any]) -> None:
        future = self._awaiting_replies.pop(request_id, None)
        if future is None or future.done():
            log.debug("ignoring a response to unknown request id %r", request_id)
            return
        if "error" in message:
            error = message["error"]
            if isinstance(error, dict):
                future.set_exception(
                    RemoteError(int(error.get("code", 0) or 0), str(error.get("message", "")), error.get("data"))
                )
            else:
                future.set_exception(RemoteError(0, f"malformed error object: {error!r}"))
        else:
            future.set_result(message.get("result"))

    # ----------------------------------------------------------------- writing

    def _enqueue(self, encoded: str) -> None:
        if self._closed:
            return
        self._outbound.append(encoded)
        self._outbound_ready.set()
        hard = self._limits.outbound_hard_limit
        if hard is not None and len(self._outbound) + self._in_flight > hard and self._on_overflow is not None:
            self._check_overflow()

    def _check_overflow(self) -> None:
        """Past the hard limit: give up on the client once its current write has been blocked
        for ``stalled_write_s``; until then re-check when that time is up."""
        hard = self._limits.outbound_hard_limit
        # Count the batch the writer is stuck on too: it has left the queue but not the server.
        if self._closed or hard is None or len(self._outbound) + self._in_flight <= hard or self._on_overflow is None:
            return
        started = self._write_started
        waited = time.monotonic() - started if started is not None else 0.0
        if started is None or waited <= self._limits.stalled_write_s:
            if self._overflow_timer is None:
                delay = self._limits.stalled_write_s - waited + 0.05
                self._overflow_timer = asyncio.get_running_loop().call_later(delay, self._overflow_timer_fired)
            return
        self._closed = True
        # Nobody will read these: free them now rather than when the connection is gone.
        self._outbound.clear()
        # Held here: the loop keeps only a weak reference to a task.
        self._overflow_task = asyncio.get_running_loop().create_task(self._on_overflow())

    def _overflow_timer_fired(self) -> None:
        self._overflow_timer = None
        self._check_overflow()

    def _enqueue_error(self, request_id: RequestId | None, error: RpcError) -> None:
        self._enqueue(_dumps({"id": request_id, "error": error.to_wire()}))

    async def _write_loop(self) -> None:
        outbound = self._outbound
        low_water = self._limits.outbound_high_water // 2
        try:
            while True:
                if not outbound:
                    if self._closed:
                        return
                    self._outbound_ready.clear()
                    await self._outbound_ready.wait()
                    continue
                batch = list(outbound)
                outbound.clear()
                self._write_started = time.monotonic()
                self._in_flight = len(batch)
                try:
                    await self._stream.send_many(batch)
                except UnicodeEncodeError:
                    # A lone surrogate (echoed from the client, or a file name that is not UTF-8)
                    # goes out as the JSON escape it stands for: the message is still delivered.
                    await self._stream.send_many([escape_unencodable(message) for message in batch])
                self._write_started = None
                self._in_flight = 0
                if not self._writable.is_set() and len(outbound) <= low_water:
                    self._writable.set()
        except (ConnectionError, OSError, RuntimeError) as exc:
            # The client went away; nobody is left to read what remains.
            self._write_error = exc
            self._closed = True
            self._writable.set()
        except Exception as exc:
            # Never a silent writer: a connection we cannot write to is closed, and said so.
            log.exception("cannot write to the client; closing the connection")
            self._write_error = exc
            self._closed = True
            self._writable.set()
            if self._reader_task is not None:
                self._reader_task.cancel()
            with contextlib.suppress(Exception):
                await self._stream.close("internal error while writing a message")

    async def wait_writable(self) -> None:
        """Wait while the outbound queue is above its high-water mark (for bulk producers)."""
        if len(self._outbound) >= self._limits.outbound_high_water:
            self._writable.clear()
            await self._writable.wait()

    def send_notification(self, method: str, params: Any, **top_level: Any) -> None:
        """Queue a notification; ``top_level`` adds envelope fields such as ``emittedAtMs``."""
        message: dict[str, Any] = {"method": method, "params": params}
        message.update(top_level)
        self._enqueue(_dumps(message))

    def send_encoded(self, encoded: str) -> None:
        """Queue an already-serialized message (notifications fanned out to many peers)."""
        self._enqueue(encoded)

    def start_request(self, method: str, params: Any) -> tuple[RequestId, Coroutine[Any, Any, Any]]:
        """Queue a request to the client now; returns its id and a coroutine awaiting the answer
        (for callers that must know the id before the answer, e.g. to announce its resolution)."""
        if self._closed:
            raise ConnectionClosed("connection is closed")
        request_id = self._next_request_id
        self._next_request_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._awaiting_replies[request_id] = future
        self._enqueue(_dumps({"id": request_id, "method": method, "params": params}))

        async def answer() -> Any:
            try:
                return await future
            finally:
                self._awaiting_replies.pop(request_id, None)

        return request_id, answer()

    async def request(self, method: str, params: Any) -> Any:
        """Send a request to the client and wait for its answer (raises RemoteError on error)."""
        _, answer = self.start_request(method, params)
        return await answer


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
        _dumps(value).encode()
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
    return f"{_json_type(value)} {text}"


def _json_type(value: Any) -> str:
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
