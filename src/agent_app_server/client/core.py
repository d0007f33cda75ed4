"""``AsyncClient``: one connection to an app server, typed, with handlers for what the server asks.

Owns: the handshake, typed requests (``_methods``) and the generic :meth:`AsyncClient.request`,
retrying ``-32001`` with exponential backoff and jitter, routing notifications to the client, to
threads and to turns, answering server requests through registered handlers (or with an error
saying none is registered), and reconnecting a WebSocket with event replay.
Layer: client (imports ``protocol``, ``transport``, ``rpc``; never ``server``).

Delivery contract: a notification reaches each reader that exists when it arrives, in arrival
order. A turn's notifications are kept from the first one on (a turn started by ``turn/start``
cannot be missed); thread and client iterators see what arrives while they iterate. Readers'
queues are unbounded: a reader that stops reading holds memory, never the connection.

Reconnect (WebSocket URLs, on by default): the client initializes with
``capabilities.eventReplay``, remembers the last ``seq`` of each thread it is subscribed to, and
after a drop reconnects with backoff, initializes again and resumes each thread with
``afterSeq``; every notification then arrives exactly once, in order. A server request re-asked
after the drop (a pending approval) goes to its handler only once: the answer is shared.
Requests that were in flight when the connection dropped fail with
:class:`~agent_app_server.client.errors.ConnectionLost` (they may have run; they are not resent).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .. import __version__
from ..rpc import ConnectionClosed, MethodNotFound, Peer, RemoteError, RequestId
from ..rpc.errors import SERVER_OVERLOADED, InvalidRequest
from ..transport import FrameTooLarge, MessageStream
from ._methods import AsyncMethods
from .connect import (
    DEFAULT_COMMAND,
    ProcessStream,
    TappedStream,
    WebSocketClientStream,
    WebSocketTarget,
    check_token_target,
)
from .errors import ClientError, ConnectError, ConnectionLost, from_rpc_error, from_turn_error
from .events import TURN_COMPLETED, Event, TurnLog, turn_id_of, validate
from .handlers import ServerRequestHandlers

if TYPE_CHECKING:
    from ..protocol import WireModel
    from ..protocol.handshake import InitializeResponse
    from ..protocol.threads import Turn

log = logging.getLogger(__name__)

ModelT = TypeVar("ModelT")
RawHandler = Callable[[Any], Awaitable[Any]]
Opener = Callable[[], Awaitable[MessageStream]]

#: Finished turns whose logs the client keeps (for a handle created after the turn ended); a
#: handle keeps its own turn's log however long it lives.
_FINISHED_TURNS_KEPT = 64
#: Answers to server requests remembered to answer the same request re-asked after a reconnect.
_ANSWERS_KEPT = 256
#: Methods whose success subscribes this connection to the thread in ``result.thread.id``.
_SUBSCRIBING = frozenset({"thread/start", "thread/resume", "thread/fork"})
_loads = json.loads


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: try ``max_attempts`` times in all, the n-th wait drawn
    from ``[d/2, d]`` with ``d = min(max_delay, base_delay * 2**(n-1))``."""

    max_attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(slots=True)
class ClientOptions:
    """How the client introduces itself and behaves (every field has a sensible default)."""

    client_name: str = "agent_app_server_client"
    client_version: str = __version__
    experimental_api: bool = False
    opt_out_notification_methods: Sequence[str] | None = None
    #: ``capabilities.observeAll`` (this project's servers; experimental, so it implies
    #: ``experimental_api``): every thread's notifications and server requests, without
    #: subscribing (dashboards, approval gateways). The reference refuses nothing but sends only
    #: what a plain client gets.
    observe_all: bool = False
    #: ``-32001`` retries for every request.
    overload_retry: Backoff = field(default_factory=Backoff)
    #: WebSocket reconnects (None: never reconnect). Ignored for stdio and in-process.
    reconnect: Backoff | None = field(default_factory=lambda: Backoff(max_attempts=10, base_delay=0.1, max_delay=5.0))
    #: Called before each retry of an overloaded request: (method, attempt, delay_s).
    on_overload_retry: Callable[[str, int, float], None] | None = None
    #: Called when a WebSocket connection drops and reconnecting begins (connection state in a UI).
    on_disconnect: Callable[[], None] | None = None
    #: Called after each successful reconnect (threads resumed, replay under way) with the count so far.
    on_reconnect: Callable[[int], None] | None = None
    #: Sees every message as it crosses the wire: ``("send" | "recv", text)`` (tracing, tests).
    wire_tap: Callable[[str, str], None] | None = None
    #: Server-request handlers in place before ``initialize`` is sent (method → handler, as
    #: :meth:`AsyncClient.set_request_handler`): an observer is asked what is already pending
    #: right after the handshake, before ``connect`` returns.
    request_handlers: Mapping[str, RawHandler] = field(default_factory=dict)
    #: Which of ``request_handlers`` are withdrawable (see :meth:`AsyncClient.set_request_handler`).
    withdrawable: frozenset[str] = frozenset()
    #: Called with each notification as it is routed, in wire order, before any server request
    #: that followed it reaches its handler (state a handler needs: the item an approval is about).
    on_notification: Callable[[Event], None] | None = None


class _Link:
    """One transport connection and the peer serving it; ``ended`` is set when its input ends."""

    def __init__(self, stream: MessageStream, client: AsyncClient) -> None:
        self.ended = asyncio.Event()
        tap = client.options.wire_tap
        if tap is not None:
            stream = TappedStream(stream, tap)
        self.stream = _RoutingStream(stream, client, lambda: client._link_ended(self))
        self.peer = Peer(self.stream, client._dispatcher)
        self.task = asyncio.get_running_loop().create_task(self.peer.serve(), name="client-peer")
        #: Server request ids on this connection → the key of the request (for serverRequest/resolved).
        self.request_keys: dict[RequestId, str] = {}


class _RoutingStream:
    """What the peer reads from: notifications are routed to the client right here, in wire
    order, and only requests and responses reach the peer.

    Why not let the peer dispatch notifications: it runs each in a task of its own and hands over
    params only, which would cost a task per streamed delta, let a reply overtake the
    notifications sent before it, and lose the envelope's replay number (``seq``). End of input
    is reported at once (the peer lingers to drain its handlers).
    """

    def __init__(self, inner: MessageStream, client: AsyncClient, on_end: Callable[[], None]) -> None:
        self.inner = inner
        self._client = client
        self._on_end = on_end
        #: Frames read but not yet handled (a batch read stops at a reply, which goes first).
        self._backlog: collections.deque[bytes | str] = collections.deque()
        #: Streams that can hand over everything buffered at once (a spawned server's stdout).
        self._receive_many = inner.receive_many if isinstance(inner, ProcessStream) else None

    async def receive(self) -> bytes | str | None:
        route = self._client._route
        backlog = self._backlog
        while True:
            if backlog:
                frame = backlog.popleft()
            else:
                frames = await self._read()
                if frames is None:
                    self._on_end()
                    return None
                if not frames:
                    continue
                backlog.extend(frames)
                frame = backlog.popleft()
            try:
                message = _loads(frame)
            except ValueError:
                return frame  # the peer reports it
            if type(message) is not dict or "id" in message or type(message.get("method")) is not str:
                if self._client._resume_requests and type(message) is dict and "method" not in message:
                    self._client._reply_arrived(message.get("id"))
                return frame  # a reply or a server request: the peer's, in wire order
            try:
                route(message["method"], message.get("params"), message.get("seq"))
            except Exception:
                log.exception("routing the notification %s failed", message["method"])

    async def _read(self) -> list[bytes] | list[bytes | str] | None:
        try:
            if self._receive_many is not None:
                return await self._receive_many()
            frame = await self.inner.receive()
        except FrameTooLarge:
            raise  # the peer answers it; the stream goes on
        except BaseException:
            self._on_end()
            raise
        return None if frame is None else [frame]

    async def send_many(self, messages: Sequence[str]) -> None:
        await self.inner.send_many(messages)

    async def close(self, reason: str = "") -> None:
        await self.inner.close(reason)


class _Dispatcher:
    """What the rpc peer calls for traffic from the server (kept off the client's public API)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def handle_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        return await self._client._answer_server_request(method, params, request_id)

    async def handle_notification(self, method: str, params: Any) -> None:
        # Only reached for a notification the routing stream passed on (none today).
        self._client._route(method, params, None)


class AsyncClient(AsyncMethods, ServerRequestHandlers):
    """A connection to an app server. Create it with :meth:`spawn`, :meth:`connect` or
    :meth:`over_stream` (or ``agent_app_server.embedded.connect_embedded``); use it as an async
    context manager or call :meth:`aclose`."""

    def __init__(self, opener: Opener, options: ClientOptions, *, reconnect: bool) -> None:
        self._opener = opener
        self.options = options
        self._reconnect = options.reconnect if reconnect else None
        self._dispatcher = _Dispatcher(self)
        self._link: _Link | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._failure: BaseException | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._old_links: set[asyncio.Task[None]] = set()
        self._on_close: list[Callable[[], Awaitable[None]]] = []
        self.initialize_response: InitializeResponse | None = None
        #: Number of successful reconnects so far.
        self.reconnects = 0
        # Routing state.
        self._listeners: list[asyncio.Queue[Event | None]] = []
        self._thread_listeners: dict[str, list[asyncio.Queue[Event | None]]] = {}
        self._turns: dict[str, TurnLog] = {}
        self._finished_turns: collections.deque[str] = collections.deque()
        # Reconnect state.
        self._subscribed: dict[str, None] = {}
        self._last_seq: dict[str, int] = {}
        #: During a reconnect: threads whose replay has not started yet. Their numbered
        #: notifications that arrive meanwhile (an observer receives every thread live from the
        #: handshake on) are dropped: the replay sends each of them again, in order.
        self._replay_pending: set[str] = set()
        #: Request id of each ``thread/resume`` under way in a reconnect → its thread.
        self._resume_requests: dict[RequestId, str] = {}
        # Server requests.
        self._handlers: dict[str, RawHandler] = {}
        #: Methods whose running handler is cancelled when the server withdraws the request.
        self._withdrawable: set[str] = set()
        self._in_flight: dict[str, asyncio.Task[Any]] = {}
        self._answers: collections.OrderedDict[str, Any] = collections.OrderedDict()
        for method, handler in options.request_handlers.items():
            self.set_request_handler(method, handler, withdrawable=method in options.withdrawable)

    # ------------------------------------------------------------------ construction

    @classmethod
    async def spawn(
        cls,
        command: Sequence[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        options: ClientOptions | None = None,
    ) -> AsyncClient:
        """Spawn an app server speaking JSONL on stdio (ours by default; ``["codex", "app-server"]`` works)."""
        argv = tuple(command) if command is not None else DEFAULT_COMMAND

        async def opener() -> MessageStream:
            return await ProcessStream.spawn(argv, env=env, cwd=cwd)

        return await cls._start(opener, options, reconnect=False)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str | None = None,
        options: ClientOptions | None = None,
        reconnect: bool = True,
        open_timeout: float = 10.0,
    ) -> AsyncClient:
        """Connect to ``ws://``, ``wss://`` or ``unix://PATH``. ``token`` is sent as
        ``Authorization: Bearer``, and only where it cannot be read on the way (see
        :func:`~agent_app_server.client.connect.check_token_target`), checked before connecting."""
        if not url.startswith(("ws://", "wss://", "unix://")):
            raise ConnectError(f"cannot connect to {url!r}: expected a ws://, wss:// or unix:// URL")
        target = WebSocketTarget(url, token, open_timeout)
        if token is not None:
            check_token_target(url)

        async def opener() -> MessageStream:
            return await WebSocketClientStream.open(target)

        return await cls._start(opener, options, reconnect=reconnect)

    @classmethod
    async def over_stream(
        cls,
        stream: MessageStream,
        *,
        options: ClientOptions | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncClient:
        """Use an already connected stream (e.g. one end of ``transport.memory_pair()``)."""

        async def opener() -> MessageStream:
            return stream

        client = await cls._start(opener, options, reconnect=False, on_close=on_close)
        return client

    @classmethod
    async def open(cls, target: str | Sequence[str], **kwargs: Any) -> AsyncClient:
        """``ws://…`` / ``wss://…`` / ``unix://…`` connect; anything else is a command to spawn."""
        if isinstance(target, str) and target.startswith(("ws://", "wss://", "unix://")):
            return await cls.connect(target, **kwargs)
        return await cls.spawn([target] if isinstance(target, str) else target, **kwargs)

    @classmethod
    async def _start(
        cls,
        opener: Opener,
        options: ClientOptions | None,
        *,
        reconnect: bool,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncClient:
        client = cls(opener, options or ClientOptions(), reconnect=reconnect)
        if on_close is not None:
            client._on_close.append(on_close)
        link: _Link | None = None
        try:
            link = _Link(await opener(), client)
            await client._handshake(link, resume=False)
        except BaseException:
            if link is not None:
                await client._discard(link)
            await client._run_close_hooks()
            raise
        client._link = link
        client._ready.set()
        client._supervisor = asyncio.get_running_loop().create_task(client._supervise(link), name="client-supervisor")
        return client

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (a spawned server exits, an embedded one shuts down)."""
        if self._closing:
            return
        self._closing = True
        for task in list(self._in_flight.values()):
            task.cancel()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
        if self._link is not None:
            await self._discard(self._link)
        for task in list(self._old_links):
            task.cancel()
        await asyncio.gather(*self._old_links, return_exceptions=True)
        self._end_readers(ConnectionLost("the client was closed"))
        await self._run_close_hooks()

    async def _discard(self, link: _Link) -> None:
        await link.peer.close()
        # A process or WebSocket ends its input on close; an in-memory stream may not.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.ended.wait(), 2)
        link.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await link.task

    async def _run_close_hooks(self) -> None:
        hooks, self._on_close = self._on_close, []
        for hook in hooks:
            try:
                await hook()
            except Exception:
                log.exception("closing the client's server failed")

    # ------------------------------------------------------------------ handshake and reconnect

    def _initialize_params(self) -> dict[str, Any]:
        options = self.options
        capabilities: dict[str, Any] = {"experimentalApi": options.experimental_api or options.observe_all}
        if options.observe_all:
            capabilities["observeAll"] = True
        if options.opt_out_notification_methods is not None:
            capabilities["optOutNotificationMethods"] = list(options.opt_out_notification_methods)
        if self._reconnect is not None:
            capabilities["eventReplay"] = True
        return {
            "clientInfo": {"name": options.client_name, "version": options.client_version},
            "capabilities": capabilities,
        }

    async def _handshake(self, link: _Link, *, resume: bool) -> None:
        from ..protocol.handshake import InitializeResponse

        if resume:
            self._replay_pending = set(self._subscribed) | (set(self._last_seq) if self.options.observe_all else set())
        try:
            result = await link.peer.request("initialize", self._initialize_params())
        except RemoteError as exc:
            raise ConnectError(f"the server refused initialize: {exc.message} (code {exc.code})") from None
        except ConnectionClosed:
            raise ConnectError("the server closed the connection during initialize") from None
        self.initialize_response = validate(InitializeResponse, result, "initialize")
        link.peer.send_encoded('{"method":"initialized"}')
        if not resume:
            return
        try:
            threads = await self._threads_to_resume(link)
            self._replay_pending &= set(threads)
            for thread_id in threads:
                params = {"threadId": thread_id, "excludeTurns": True, "afterSeq": self._last_seq.get(thread_id, 0)}
                request_id, answer = link.peer.start_request("thread/resume", params)
                self._resume_requests[request_id] = thread_id
                try:
                    await answer
                except RemoteError as exc:
                    raise ConnectionLost(
                        f"reconnected but could not resume thread {thread_id} without losing events: {exc.message}"
                    ) from None
        finally:
            self._replay_pending.clear()
            self._resume_requests.clear()

    def _reply_arrived(self, request_id: Any) -> None:
        """A reply is about to reach the peer (wire order): the replay of a resumed thread follows
        it, so its numbered notifications count again from here."""
        thread_id = self._resume_requests.pop(request_id, None)
        if thread_id is not None:
            self._replay_pending.discard(thread_id)

    async def _threads_to_resume(self, link: _Link) -> list[str]:
        """The threads whose missed notifications a reconnect replays: those subscribed to, and for
        an observer every thread it has seen events of that the server still has loaded (a thread
        unloaded meanwhile is read again with ``thread/read`` by whoever needs it, not reloaded)."""
        threads = dict.fromkeys(self._subscribed)
        if self.options.observe_all:
            still_loaded: set[str] = set()
            cursor: str | None = None
            while True:
                try:
                    page = await link.peer.request("thread/loaded/list", {"cursor": cursor})
                except RemoteError as exc:
                    raise ConnectionLost(f"reconnected but could not list the loaded threads: {exc.message}") from None
                still_loaded.update(page.get("data") or [])
                cursor = page.get("nextCursor")
                if not cursor:
                    break
            threads.update(dict.fromkeys(thread_id for thread_id in self._last_seq if thread_id in still_loaded))
        return list(threads)

    def _link_ended(self, link: _Link) -> None:
        link.ended.set()
        if self._link is link and not self._closing:
            self._link = None
            self._ready.clear()
            if self.options.on_disconnect is not None:
                self.options.on_disconnect()

    async def _supervise(self, link: _Link) -> None:
        while True:
            await link.ended.wait()
            if self._closing:
                return
            if self._link is link:  # it ended before it was installed (right after the handshake)
                self._link = None
                self._ready.clear()
            # Release the transport (reap a spawned process); the old peer finishes draining on
            # its own (its replies go nowhere).
            with contextlib.suppress(Exception):
                await link.peer.close()
            self._old_links.add(link.task)
            link.task.add_done_callback(self._old_links.discard)
            backoff = self._reconnect
            if backoff is None:
                self._fail(ConnectionLost("the server closed the connection"))
                return
            new_link = await self._reconnect_with(backoff)
            if new_link is None:
                return
            link = new_link

    async def _reconnect_with(self, backoff: Backoff) -> _Link | None:
        last_error: BaseException | None = None
        for attempt in range(1, backoff.max_attempts + 1):
            await asyncio.sleep(backoff.delay(attempt))
            if self._closing:
                return None
            link: _Link | None = None
            try:
                link = _Link(await self._opener(), self)
                await self._handshake(link, resume=True)
            except ConnectionLost as lost:
                if link is not None:
                    await self._discard(link)
                self._fail(lost)
                return None
            except (ClientError, OSError) as exc:
                last_error = exc
                if link is not None:
                    await self._discard(link)
                log.info("reconnect attempt %d failed: %s", attempt, exc)
                continue
            self.reconnects += 1
            self._link = link
            self._ready.set()
            if self.options.on_reconnect is not None:
                self.options.on_reconnect(self.reconnects)
            return link
        self._fail(
            ConnectionLost(f"lost the connection and gave up after {backoff.max_attempts} reconnects: {last_error}")
        )
        return None

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._ready.set()
        self._end_readers(error)

    def _end_readers(self, error: BaseException) -> None:
        for turn in self._turns.values():
            turn.fail(error)
        for queue in self._listeners:
            queue.put_nowait(None)
        for queues in self._thread_listeners.values():
            for queue in queues:
                queue.put_nowait(None)

    async def _current_link(self) -> _Link:
        while True:
            if self._closing:
                raise ConnectionLost("the client is closed")
            if self._failure is not None:
                raise ConnectionLost(str(self._failure))
            link = self._link
            if link is not None:
                return link
            await self._ready.wait()

    # ------------------------------------------------------------------ requests

    async def request(self, method: str, params: Any = None) -> Any:
        """Send any request; returns its JSON result. ``-32001`` is retried (``options.overload_retry``);
        other errors raise the matching :class:`~agent_app_server.client.errors.RpcCallError`."""
        params = _json_ready(params)
        backoff = self.options.overload_retry
        attempt = 1
        while True:
            link = await self._current_link()
            try:
                result = await link.peer.request(method, params)
            except ConnectionClosed:
                raise ConnectionLost(f"the connection ended before the server answered {method}") from None
            except RemoteError as exc:
                if exc.code == SERVER_OVERLOADED and attempt < backoff.max_attempts:
                    delay = backoff.delay(attempt)
                    if self.options.on_overload_retry is not None:
                        self.options.on_overload_retry(method, attempt, delay)
                    await asyncio.sleep(delay)
                    attempt += 1
                    continue
                raise from_rpc_error(method, exc, attempts=attempt) from None
            self._track(method, params, result)
            return result

    async def notify(self, method: str, params: Any = None) -> None:
        """Send a notification (nothing answers it)."""
        link = await self._current_link()
        link.peer.send_notification(method, params)

    async def _typed(self, method: str, params: Any, fields: dict[str, Any]) -> Any:
        from ..protocol.registry import METHODS

        spec = METHODS[method]
        if spec.params is None:
            wire: Any = None
        elif params is None:
            wire = validate(spec.params, fields, f"{method} params").to_wire()
        elif fields:
            raise TypeError(f"{method}: pass a params model or keyword fields, not both")
        else:
            wire = params.to_wire()
        result = await self.request(method, wire)
        return validate(spec.result, result, method)

    def _track(self, method: str, params: Any, result: Any) -> None:
        """Remember which threads this connection is subscribed to (they are resumed on reconnect)."""
        if method in _SUBSCRIBING and isinstance(result, dict):
            thread = result.get("thread")
            if isinstance(thread, dict) and isinstance(thread.get("id"), str):
                self._subscribed[thread["id"]] = None
        elif method == "thread/unsubscribe" and isinstance(params, dict):
            self._subscribed.pop(str(params.get("threadId")), None)

    # ------------------------------------------------------------------ notifications

    def _route(self, method: str, params: Any, seq: Any) -> None:
        if type(seq) is not int:
            seq = None
        thread_id = None
        if isinstance(params, dict):
            thread_id = params.get("threadId")
            if seq is not None and isinstance(thread_id, str):
                if seq <= self._last_seq.get(thread_id, 0) or thread_id in self._replay_pending:
                    return  # already delivered before a reconnect, or replayed once its resume is answered
                self._last_seq[thread_id] = seq
        event = Event(method, params, seq)
        if self.options.on_notification is not None:
            self.options.on_notification(event)
        # The hot path (a streamed delta): one dict lookup per routing key, nothing else.
        turn_id = params.get("turnId") if type(params) is dict else None
        if turn_id is None:
            if method == "serverRequest/resolved":
                self._forget_request(params)
            turn_id = turn_id_of(params)
        if turn_id is not None:
            turn = self._turns.get(turn_id) or self._turn_log(turn_id)
            turn.add(event)
            if method == TURN_COMPLETED:
                self._turn_finished(turn_id)
        if thread_id is not None and self._thread_listeners:
            for queue in self._thread_listeners.get(thread_id, ()):
                queue.put_nowait(event)
        for queue in self._listeners:
            queue.put_nowait(event)

    def _turn_log(self, turn_id: str) -> TurnLog:
        turn = self._turns.get(turn_id)
        if turn is None:
            turn = self._turns[turn_id] = TurnLog()
        return turn

    def _turn_finished(self, turn_id: str) -> None:
        finished = self._finished_turns
        finished.append(turn_id)
        while len(finished) > _FINISHED_TURNS_KEPT:
            self._turns.pop(finished.popleft(), None)

    def events(self) -> Subscription:
        """Every notification from the moment of this call until the client closes (or the
        subscription is closed)."""
        return Subscription(self, self._listeners)

    def thread(self, thread_id: str) -> ThreadHandle:
        """A handle on a thread this connection is subscribed to (start, resume or fork it first)."""
        return ThreadHandle(self, thread_id)

    def turn(self, thread_id: str, turn_id: str) -> TurnHandle:
        """A handle on a turn: its events from the first one this connection received."""
        return TurnHandle(self, thread_id, turn_id, self._turn_log(turn_id))

    # ------------------------------------------------------------------ conveniences

    async def start_thread(self, **fields: Any) -> ThreadHandle:
        """``thread/start`` with these fields (snake_case); returns the thread's handle."""
        response = await self.thread_start(**fields)
        handle = self.thread(response.thread.id)
        handle.session = response
        return handle

    async def resume_thread(self, thread_id: str, **fields: Any) -> ThreadHandle:
        response = await self.thread_resume(thread_id=thread_id, **fields)
        handle = self.thread(response.thread.id)
        handle.session = response
        return handle

    # ------------------------------------------------------------------ server requests

    def set_request_handler(self, method: str, handler: RawHandler | None, *, withdrawable: bool = False) -> None:
        """Answer server request ``method`` with ``handler(params) -> result`` (JSON in, JSON or a
        protocol model out); None removes it. Unhandled requests get an error reply saying so.

        ``withdrawable``: when the server says ``serverRequest/resolved`` (another client answered
        first, or the request was abandoned) while the handler still runs, the handler is
        cancelled with :data:`WITHDRAWN` as the ``CancelledError``'s message, so that a handler
        waiting on a person or a service can stop (and tell why) instead of answering too late."""
        self._withdrawable.discard(method)
        if handler is None:
            self._handlers.pop(method, None)
            return
        self._handlers[method] = handler
        if withdrawable:
            self._withdrawable.add(method)

    def on(self, method: str, params_model: type[ModelT], handler: Callable[[ModelT], Awaitable[Any]]) -> None:
        """A typed handler: ``params`` validated into ``params_model`` before ``handler`` sees them."""

        async def typed(params: Any) -> Any:
            return await handler(validate(params_model, params, method))

        self.set_request_handler(method, typed)

    async def _answer_server_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        handler = self._handlers.get(method)
        if handler is None:
            raise MethodNotFound(
                f"no handler is registered for the server request `{method}` in this client; "
                f"register one (e.g. client.set_request_handler({method!r}, ...)) to answer it"
            )
        key = _request_key(method, params)
        if key is None:
            return await self._run_handler(method, handler, params)
        link = self._link
        if link is not None:
            link.request_keys[request_id] = key
        if key in self._answers:
            return self._answers[key]
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._run_handler(method, handler, params))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._remember_answer(key, done))
        # Shielded: a dropped connection cancels the peer's handler, not the caller's answer,
        # which goes to the same request re-asked after the reconnect.
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and method in self._withdrawable:
                # The server no longer waits for this answer; its late reply is ignored there.
                raise InvalidRequest(f"{method} was withdrawn by the server before this client answered") from None
            raise

    def _remember_answer(self, key: str, task: asyncio.Task[Any]) -> None:
        self._in_flight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        self._answers[key] = task.result()
        while len(self._answers) > _ANSWERS_KEPT:
            self._answers.popitem(last=False)

    async def _run_handler(self, method: str, handler: RawHandler, params: Any) -> Any:
        # A handler's exception becomes an error reply naming the method (the rpc peer's rule).
        result = await handler(params)
        return _json_ready(result)

    def _forget_request(self, params: Any) -> None:
        """``serverRequest/resolved``: that request will not be asked again."""
        link = self._link
        if link is None or not isinstance(params, dict):
            return
        key = link.request_keys.pop(params.get("requestId"), None)  # type: ignore[arg-type]
        if key is None:
            return
        self._answers.pop(key, None)
        task = self._in_flight.get(key)
        if task is not None and not task.done() and key.split("{", 1)[0] in self._withdrawable:
            task.cancel(WITHDRAWN)


#: The message of the ``CancelledError`` a withdrawable handler receives when the server withdraws
#: its request (``serverRequest/resolved`` while it runs).
WITHDRAWN = "serverRequest/resolved"


def _request_key(method: str, params: Any) -> str | None:
    """Identity of a thread-scoped server request, stable across a re-ask (None: not deduplicated,
    e.g. an auth-token refresh, which must run each time)."""
    if not isinstance(params, dict) or not isinstance(params.get("threadId"), str):
        return None
    return method + json.dumps(params, sort_keys=True, separators=(",", ":"))


def _json_ready(value: Any) -> Any:
    """Protocol models become their wire JSON; JSON stays as it is."""
    from ..protocol._base import WireModel

    return value.to_wire() if isinstance(value, WireModel) else value


class ThreadHandle:
    """A thread seen through one client: start turns on it, follow its notifications."""

    def __init__(self, client: AsyncClient, thread_id: str) -> None:
        self.client = client
        self.id = thread_id
        #: The ``thread/start`` / ``thread/resume`` response that produced the handle, if any.
        self.session: WireModel | None = None

    async def turn(self, text: str | None = None, *, input: list[Any] | None = None, **fields: Any) -> TurnHandle:
        """``turn/start`` with ``text`` (or explicit ``input`` items) and any other fields."""
        if input is None:
            if text is None:
                raise TypeError("turn() needs text or input")
            input = [text_input(text)]
        response = await self.client.turn_start(thread_id=self.id, input=input, **fields)
        return self.client.turn(self.id, response.turn.id)

    async def run(self, text: str, **fields: Any) -> Turn:
        """Start a turn and wait for it; raises the typed :class:`TurnFailed` when it fails."""
        turn = await self.turn(text, **fields)
        return await turn.wait(check=True)

    def events(self) -> Subscription:
        """This thread's notifications from the moment of this call."""
        return Subscription(self.client, self.client._thread_listeners.setdefault(self.id, []))


class Subscription:
    """Notifications from the moment it was created, as an async iterator; :meth:`close` (or
    leaving ``async with``) stops collecting them."""

    def __init__(self, client: AsyncClient, listeners: list[asyncio.Queue[Event | None]]) -> None:
        self._client = client
        self._listeners = listeners
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        listeners.append(self._queue)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = await self._queue.get()
        if event is None:
            self.close()
            client = self._client
            if client._failure is not None and not client._closing:
                raise ConnectionLost(str(client._failure))
            raise StopAsyncIteration
        return event

    def close(self) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(self._queue)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class TurnHandle:
    """One turn: its notifications in order (from the first), and its end."""

    def __init__(self, client: AsyncClient, thread_id: str, turn_id: str, log: TurnLog) -> None:
        self.client = client
        self.thread_id = thread_id
        self.id = turn_id
        self._log = log

    def events(self) -> AsyncIterator[Event]:
        """Every notification of the turn, ending with ``turn/completed``."""
        return self._log.follow()

    async def wait(self, *, check: bool = False) -> Turn:
        """The completed turn (``turn/completed``'s ``turn``); with ``check``, a failed turn raises
        its typed :class:`~agent_app_server.client.errors.TurnFailed` subclass."""
        from ..protocol.threads import Turn

        raw = await self._log.wait()
        turn: Turn = validate(Turn, raw, TURN_COMPLETED)
        if check and turn.status == "failed":
            raise from_turn_error(turn)
        return turn

    def final_message(self) -> str | None:
        """The text of the turn's last completed agent message so far (None: there was none)."""
        text = None
        for event in self._log.events:
            if event.method == "item/completed":
                item = event.params.get("item") or {}
                if item.get("type") == "agentMessage":
                    text = item.get("text")
        return text

    async def interrupt(self) -> None:
        await self.client.request("turn/interrupt", {"threadId": self.thread_id, "turnId": self.id})

    async def steer(self, text: str) -> None:
        await self.client.request(
            "turn/steer",
            {"threadId": self.thread_id, "expectedTurnId": self.id, "input": [text_input(text)]},
        )


def text_input(text: str) -> dict[str, Any]:
    """A ``UserInput`` text item as the wire spells it."""
    return {"type": "text", "text": text, "text_elements": []}


__all__ = ["WITHDRAWN", "AsyncClient", "Backoff", "ClientOptions", "Subscription", "ThreadHandle", "TurnHandle"]
