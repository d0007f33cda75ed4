"""A JSON-RPC 2.0 peer over any :class:`~agent_app_server.transport.MessageStream`: the asyncio
shell around :class:`~agent_app_server.rpc.state.RpcState`.

Owns: running handlers concurrently, the outbound queue and its writer, backpressure, and the
futures of our requests to the client. What a frame means, the ids in both directions and the
text of every message are the state object's.
Layer: rpc (imports ``transport`` and ``protocol.envelope``). Knows no method names: a
:class:`Dispatcher` does.

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
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..protocol.envelope import encode_notification
from ..transport.base import FrameTooLarge, MessageStream
from ._eager import resume, start_eagerly
from .errors import (
    INTERNAL_ERROR,
    SERVER_OVERLOADED,
    ConnectionClosed,
    InternalError,
    InvalidRequest,
    RpcError,
    ServerOverloaded,
)
from .state import Incoming, IncomingNotification, IncomingRequest, Refused, RequestId, RpcState, escape_unencodable

__all__ = ["AnswerObserver", "Dispatcher", "Peer", "PeerLimits", "Reply", "RequestId"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long in-flight handlers may run on after the client closed its side.
_DRAIN_TIMEOUT_S = 10.0


class Dispatcher(Protocol):
    """What the peer calls for incoming traffic; ``server`` implements it."""

    async def handle_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        """The JSON-ready result, or raise :class:`~agent_app_server.rpc.errors.RpcError`."""
        ...

    async def handle_notification(self, method: str, params: Any) -> None: ...


#: Told of every request answered: its method, the error code (None: a result) and the seconds
#: from reading it to queuing the answer (0 for a -32001 refusal, which never ran).
AnswerObserver = Callable[[str, int | None, float], None]


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
        on_answer: AnswerObserver | None = None,
    ) -> None:
        self._stream = stream
        self._on_answer = on_answer
        self._dispatcher = dispatcher
        self._limits = limits or PeerLimits()
        self._on_overflow = on_overflow
        self._outbound: collections.deque[str] = collections.deque()
        #: A write is in progress (``_write_out`` runs); what is queued meanwhile follows it.
        self._writing = False
        #: A flush is scheduled for the end of this loop iteration.
        self._flush_scheduled = False
        #: The reader is handling frames; it flushes before it waits, batching their replies.
        self._reading = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._pending_handlers: set[asyncio.Task[None]] = set()
        #: Ids, parsing and the pending-id tables; answers to our requests resolve these futures.
        self._state: RpcState[asyncio.Future[Any]] = RpcState()
        self._closed = False
        #: The write that had to wait for the transport (None when writes completed at once).
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
        self._flush()
        writer = self._writer_task
        if writer is not None and not writer.done():
            try:
                await asyncio.wait_for(writer, timeout=5)
            except (TimeoutError, Exception):
                writer.cancel()
        self._writable.set()

    def _fail_awaiting_replies(self) -> None:
        for future in self._state.abandon():
            if not future.done():
                future.set_exception(ConnectionClosed("connection closed before the client answered"))

    async def close(self, reason: str = "") -> None:
        self._closed = True
        self._flush()
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
        self._reading = True
        try:
            while not self._closed:
                if len(self._outbound) >= limits.outbound_high_water:
                    # Stop reading while the client is not reading our replies (see module docstring).
                    self._writable.clear()
                    await self._idle(self._writable.wait())
                    if self._closed:
                        return
                try:
                    frame = await self._idle_if_waiting(self._stream.receive())
                except FrameTooLarge as too_large:
                    self._enqueue(self._state.refuse(InvalidRequest(str(too_large))))
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
                    self._enqueue(
                        self._state.refuse(InternalError(f"internal error reading a message: {type(exc).__name__}"))
                    )
                if len(pending) > limits.max_pending_requests // 2:
                    # Let cheap handlers finish before reading more, so a pipelined burst is served
                    # rather than refused; the hard bound still answers -32001 beyond it.
                    await self._idle(asyncio.sleep(0))
        finally:
            self._reading = False
            self._flush()

    async def _idle_if_waiting(self, receiving: Coroutine[Any, Any, T]) -> T:
        """``await receiving``, but when it has to wait for input, first write what the frames
        read so far produced: replies to a pipelined burst go out in one write, and the reply to a
        lone request in the same loop step that read it."""
        try:
            waiting_on = receiving.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        return await self._idle(resume(receiving, waiting_on))

    async def _idle(self, waiting: Awaitable[T]) -> T:
        """The reader waits: replies queued until now are written now, later ones as they come."""
        self._reading = False
        self._flush()
        try:
            return await waiting
        finally:
            self._reading = True

    def _handle_frame(self, frame: bytes | str) -> None:
        event = self._state.receive(frame)
        if type(event) is IncomingRequest:
            self._start_request(event)
        elif type(event) is Refused:
            self._enqueue(event.reply)
        elif type(event) is IncomingNotification:
            self._start_notification(event.method, event.params)
        elif type(event) is Incoming:
            self._resolve(event)

    def _start_request(self, request: IncomingRequest) -> None:
        if len(self._pending_handlers) >= self._limits.max_pending_requests:
            self._enqueue_error(request.id, ServerOverloaded())
            if self._on_answer is not None:
                self._on_answer(request.method, SERVER_OVERLOADED, 0.0)
            return
        self._track(start_eagerly(self._run_request(request)))

    async def _run_request(self, request: IncomingRequest) -> None:
        request_id, method = request.id, request.method
        on_answer = self._on_answer
        started = time.perf_counter() if on_answer is not None else 0.0
        # The code answered, for the observer (None: a result); cancelled: "shutting down".
        code: int | None = INTERNAL_ERROR
        try:
            try:
                result = await self._dispatcher.handle_request(method, request.params, request_id)
            except RpcError as error:
                code = error.code
                self._enqueue_error(request_id, error)
                return
            except asyncio.CancelledError:
                self._enqueue_error(
                    request_id, InternalError(f"{method} was cancelled because the server is shutting down")
                )
                raise
            except Exception as exc:
                log.exception("handler for %s failed", method)
                self._enqueue_error(
                    request_id, InternalError(f"internal error in {method}: {type(exc).__name__}: {exc}")
                )
                return
            then = None
            if isinstance(result, Reply):
                result, then = result.result, result.then
            try:
                encoded = self._state.result(request_id, result)
            except (TypeError, ValueError, RecursionError) as exc:
                log.exception("result of %s is not JSON-serializable", method)
                self._enqueue_error(
                    request_id, InternalError(f"internal error in {method}: unserializable result ({exc})")
                )
                return
            code = None
            self._enqueue(encoded)
            if then is not None:
                then()
        finally:
            if on_answer is not None:
                on_answer(method, code, time.perf_counter() - started)

    def _start_notification(self, method: str, params: Any) -> None:
        self._track(start_eagerly(self._run_notification(method, params)))

    def _track(self, task: asyncio.Task[None] | None) -> None:
        """A handler that had to wait: it counts against the ingress bound until it ends."""
        if task is not None:
            self._pending_handlers.add(task)
            task.add_done_callback(self._pending_handlers.discard)

    async def _run_notification(self, method: str, params: Any) -> None:
        # A failing notification handler never kills the connection; there is nobody to answer.
        try:
            await self._dispatcher.handle_notification(method, params)
        except Exception:
            log.exception("notification handler for %s failed", method)

    @staticmethod
    def _resolve(answer: Incoming[asyncio.Future[Any]]) -> None:
        future = answer.token
        if future.done():
            return
        if answer.error is not None:
            future.set_exception(answer.error)
        else:
            future.set_result(answer.result)

    # ----------------------------------------------------------------- writing

    def _enqueue(self, encoded: str) -> None:
        if self._closed:
            return
        self._outbound.append(encoded)
        if not (self._writing or self._reading or self._flush_scheduled):
            # Everything queued during this loop step goes out in one write.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        hard = self._limits.outbound_hard_limit
        if hard is not None and len(self._outbound) + self._in_flight > hard and self._on_overflow is not None:
            self._check_overflow()

    def _flush(self) -> None:
        """Start writing what is queued, unless a write is already under way (it takes the rest)."""
        self._flush_scheduled = False
        if self._writing or not self._outbound:
            return
        self._writing = True
        # Usually the transport takes the batch at once and this returns having written it; a
        # transport that must wait (a full pipe or socket) continues in a task.
        task = start_eagerly(self._write_out())
        if task is not None:
            self._writer_task = task

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

    def _enqueue_error(self, request_id: RequestId, error: RpcError) -> None:
        self._enqueue(self._state.error(request_id, error))

    async def _write_out(self) -> None:
        outbound = self._outbound
        low_water = self._limits.outbound_high_water // 2
        try:
            while outbound:
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
            outbound.clear()
            self._writable.set()
        except Exception as exc:
            # Never a silent writer: a connection we cannot write to is closed, and said so.
            log.exception("cannot write to the client; closing the connection")
            self._write_error = exc
            self._closed = True
            outbound.clear()
            self._writable.set()
            if self._reader_task is not None:
                self._reader_task.cancel()
            with contextlib.suppress(Exception):
                await self._stream.close("internal error while writing a message")
        finally:
            self._writing = False

    async def wait_writable(self) -> None:
        """Wait while the outbound queue is above its high-water mark (for bulk producers)."""
        if len(self._outbound) >= self._limits.outbound_high_water:
            self._writable.clear()
            await self._writable.wait()

    def send_notification(self, method: str, params: Any, **top_level: Any) -> None:
        """Queue a notification; ``top_level`` adds envelope fields such as ``emittedAtMs``."""
        self._enqueue(encode_notification(method, params, **top_level))

    def send_encoded(self, encoded: str) -> None:
        """Queue an already-serialized message (notifications fanned out to many peers)."""
        self._enqueue(encoded)

    def start_request(self, method: str, params: Any) -> tuple[RequestId, Coroutine[Any, Any, Any]]:
        """Queue a request to the client now; returns its id and a coroutine awaiting the answer
        (for callers that must know the id before the answer, e.g. to announce its resolution)."""
        if self._closed:
            raise ConnectionClosed("connection is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        request_id, encoded = self._state.request(method, params, future)
        self._enqueue(encoded)

        async def answer() -> Any:
            try:
                return await future
            finally:
                self._state.forget(request_id)

        return request_id, answer()

    async def request(self, method: str, params: Any) -> Any:
        """Send a request to the client and wait for its answer (raises RemoteError on error)."""
        _, answer = self.start_request(method, params)
        return await answer
