"""The server process: shared state, thread subscriptions and notification fan-out.

Owns: the connections, which connection is subscribed to which thread, and delivering each
thread-scoped notification (serialized once) to every subscriber that has not opted out, and to
every observer (``capabilities.observeAll``, beyond the reference: a connection that sees every
thread without subscribing); the numbering of those notifications for replay (``replay.py``);
and unloading threads nobody uses (observers do not keep a thread loaded).
Layer: server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..core.config import DEFAULT_IDLE_UNLOAD_S, Config
from ..core.threads import ThreadManager
from ..rpc import ConnectionClosed, Peer, PeerLimits, RemoteError
from ..store import NotificationLog, ThreadStore
from ..transport import MessageStream
from .connection import Connection, encode_notification
from .handshake import Handshake
from .metrics import ServerMetrics
from .replay import ReplayLog, send_numbered
from .services import ServerServices

if TYPE_CHECKING:
    from ..core.providers import ModelClients
    from ..core.threads import LoadedThread
    from ..core.turns import TurnEngine
    from .early_thread import EarlyThread
    from .fleet import Fleet

log = logging.getLogger(__name__)

STATE_DB_NAME = "state.sqlite3"
NOTIFICATION_LOG_NAME = "notifications.sqlite3"
#: Methods a session starts with: their handler module, params and reply models load in the
#: background once the server runs, so that an IDE's first ``thread/start`` does not pay for them.
WARM_METHODS = ("thread/start",)


class AppServer:
    """Everything one server process shares between its connections."""

    def __init__(self, config: Config, store: ThreadStore, notification_log: NotificationLog | None = None) -> None:
        self.config = config
        self.store = store
        self.threads = ThreadManager(config, store, self)
        self.connections: dict[int, Connection] = {}
        #: Server→client requests waiting for an answer, per thread (re-sent to new subscribers).
        self._pending_requests: dict[str, list[_PendingRequest]] = {}
        #: Run once when a connection's client goes away (its side of the transport closed),
        #: before in-flight requests drain: e.g. killing the processes it started.
        self.connection_close_hooks: list[Callable[[Connection], Awaitable[None]]] = []
        self._subscribers: dict[str, dict[int, Connection]] = {}
        #: Connections that initialized with ``capabilities.observeAll``: they receive every
        #: thread's notifications and server requests as if subscribed to all of them.
        self._observers: dict[int, Connection] = {}
        self.replay = ReplayLog(
            notification_log,
            is_loaded=lambda thread_id: self.threads.loaded(thread_id) is not None,
            is_ephemeral=self._is_ephemeral,
        )
        #: None: never unload idle threads.
        self.idle_unload_after_s: float | None = DEFAULT_IDLE_UNLOAD_S
        self._idle_task: asyncio.Task[None] | None = None
        self.services = ServerServices(self)
        self.metrics = ServerMetrics(self)
        self._warm_task: asyncio.Task[None] | None = None
        #: This server's part in a fleet sharing one PostgreSQL store (None: a server on its own).
        self.fleet: Fleet | None = None

    # The model clients and the turn machinery load on first use: answering the first requests
    # (``initialize``, ``thread/start``, reads) does not need them.

    @cached_property
    def model_clients(self) -> ModelClients:
        from ..core.providers import ModelClients

        return ModelClients(self.config)

    @cached_property
    def turns(self) -> TurnEngine:
        from ..core.tools import AgentToolRouter
        from ..core.turns import TurnEngine

        window = self.config.values.get("model_context_window")
        return TurnEngine(
            self.threads,
            self,
            client_factory=lambda thread: self.model_clients.get(thread.settings.model_provider),
            context_window=window if isinstance(window, int) else None,
            tools=AgentToolRouter(self.config, sink=self),
        )

    def thread_started(self, thread: LoadedThread) -> None:
        """Tell the tools about a new thread (its MCP servers connect now, as the reference's do),
        after the ``thread/start`` answer already queued is written: the turn machinery may still
        have to load."""
        asyncio.get_running_loop().call_soon(lambda: self.turns.tools.thread_started(thread))

    @classmethod
    async def open(cls, config: Config) -> AppServer:
        # One PostgreSQL database holds both in fleet mode; else each its own SQLite file.
        shared = config.store.url
        store = await ThreadStore.open(shared or config.state_dir / STATE_DB_NAME)
        try:
            if shared:
                from .fleet import KEEP_PER_THREAD

                notification_log = await NotificationLog.open(shared, keep_per_thread=KEEP_PER_THREAD)
            else:
                notification_log = await NotificationLog.open(config.state_dir / NOTIFICATION_LOG_NAME)
        except BaseException:
            await store.close()
            raise
        app = cls(config, store, notification_log)
        if shared:
            from ..store.pg_fleet import FleetStore
            from .fleet import Fleet

            try:
                fleet_store = await FleetStore.open(shared, lease_s=config.store.lease_s)
            except BaseException:
                await notification_log.close()
                await store.close()
                raise
            app.fleet = Fleet(app, fleet_store, notification_log)
        return app

    def start_background(self) -> None:
        """Start the replay log writer, the idle-thread unloader and the warm-up of the first
        requests' code (call once the loop runs)."""
        if self.fleet is not None:
            self.fleet.start()
        self.replay.start()
        loop = asyncio.get_running_loop()
        if self.idle_unload_after_s is not None and self._idle_task is None:
            self._idle_task = loop.create_task(self._unload_idle_threads(), name="idle-unload")
        if self._warm_task is None:
            self._warm_task = loop.create_task(_warm_up(WARM_METHODS), name="warm-up")

    async def warmed_up(self) -> None:
        """Wait until the warm-up started by :meth:`start_background` has run (or was stopped)."""
        if self._warm_task is not None:
            await asyncio.wait([self._warm_task])

    async def close(self) -> None:
        """Interrupt running turns (persisting them as interrupted), then close the store."""
        for task in (self._idle_task, self._warm_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if "turns" in self.__dict__:  # else no turn ever ran
            for thread_id in self.threads.loaded_ids():
                thread = self.threads.loaded(thread_id)
                if thread is not None and thread.active is not None:
                    await self.turns.interrupt(thread.active)
            await self.turns.tools.aclose()
        if "model_clients" in self.__dict__:
            await self.model_clients.aclose()
        # After the interruptions: their notifications are part of what a client may replay.
        await self.replay.close()
        if self.fleet is not None:
            await self.fleet.close()  # after the turns' ends are stored: releases the leases
        await self.store.close()

    # ------------------------------------------------------------------ connections

    async def serve(
        self,
        stream: MessageStream,
        limits: PeerLimits | None = None,
        on_overflow: Callable[[], Coroutine[Any, Any, None]] | None = None,
        handshake: Handshake | None = None,
        early_thread: EarlyThread | None = None,
    ) -> None:
        """Serve one connection until its transport closes.

        ``on_overflow`` closes the transport when the client stops reading and its outbound queue
        passes ``limits.outbound_hard_limit``: it fills only its own queue, never anyone else's.
        ``handshake``: the connection's ``initialize`` was answered already (the stdio fast start);
        ``early_thread``: so was its first ``thread/start`` (``early_thread``).
        """
        connection = Connection(self)
        closing = _ClosingStream(stream, lambda: self._connection_closed(connection))
        peer = Peer(
            closing, connection, limits=limits, on_overflow=on_overflow, on_answer=self.metrics.request_answered
        )
        connection.peer = peer
        connection.on_overflow = on_overflow
        self.connections[connection.id] = connection
        self.metrics.connection_opened()
        if handshake is not None:
            from .handlers.initialize import begin

            # Sent before anything else is read, as right after an answer of our own.
            begin(connection, handshake)()
            self.metrics.answered_early("initialize")
        if early_thread is not None:
            from .handlers.threads import adopt_early_thread

            # Before anything else is read: the client's next requests may name the thread.
            adopt_early_thread(connection, early_thread)
            self.metrics.answered_early("thread/start")
        try:
            await peer.serve()
        finally:
            await closing.closed()
            self.connections.pop(connection.id, None)
            self._observers.pop(connection.id, None)
            for subscribers in self._subscribers.values():
                subscribers.pop(connection.id, None)

    async def _connection_closed(self, connection: Connection) -> None:
        for hook in list(self.connection_close_hooks):
            try:
                await hook(connection)
            except Exception:
                log.exception("connection close hook failed")

    # ------------------------------------------------------------------ subscriptions

    def subscribe(self, connection: Connection, thread_id: str, *, send_pending: bool = True) -> None:
        """``send_pending=False``: the caller sends waiting server requests later
        (:meth:`resend_pending_requests`), e.g. after replaying missed notifications.

        An observer is never a subscriber: it receives every thread already, and must not keep
        one loaded."""
        if connection.id not in self._observers:
            self._subscribers.setdefault(thread_id, {})[connection.id] = connection
        if send_pending:
            self.resend_pending_requests(connection, thread_id)

    def observe_all(self, connection: Connection) -> None:
        """Make ``connection`` an observer of every thread, and ask it every server request
        already waiting (the first answer, from whichever client, wins)."""
        self._observers[connection.id] = connection
        for thread_id in list(self._pending_requests):
            self.resend_pending_requests(connection, thread_id)

    def pending_request_count(self) -> int:
        """Server→client requests still waiting for an answer, over all threads."""
        return sum(len(pending) for pending in self._pending_requests.values())

    def resend_pending_requests(self, connection: Connection, thread_id: str) -> None:
        """Server requests of the thread still waiting for an answer go to ``connection`` too
        (e.g. an approval asked before its client reconnected); the first answer wins."""
        for pending in self._pending_requests.get(thread_id, []):
            if connection.id not in pending.sent:
                self._send_request(pending, connection)

    def unsubscribe(self, connection: Connection, thread_id: str) -> bool:
        subscribers = self._subscribers.get(thread_id)
        if subscribers is None or connection.id not in subscribers:
            return False
        del subscribers[connection.id]
        return True

    def subscribers(self, thread_id: str) -> list[Connection]:
        """The thread's subscribers (observers not included: they are added at delivery)."""
        return list(self._subscribers.get(thread_id, {}).values())

    def _with_observers(self, recipients: Iterable[Connection]) -> Iterable[Connection]:
        if not self._observers:
            return recipients
        listed = list(recipients)
        present = {connection.id for connection in listed}
        listed.extend(observer for observer in self._observers.values() if observer.id not in present)
        return listed

    def drop_subscriptions(self, thread_id: str) -> list[Connection]:
        return list(self._subscribers.pop(thread_id, {}).values())

    # ------------------------------------------------------------------ EventSink

    def emit(self, thread_id: str | None, method: str, params: Any) -> None:
        if thread_id is None:
            self.deliver(list(self.connections.values()), method, params)
            return
        self.metrics.notified(thread_id, method, params)
        subscribers = self._subscribers.get(thread_id)
        encoded = encode_notification(method, params)
        self._publish(thread_id, subscribers.values() if subscribers else (), method, encoded)

    def emit_encoded(self, thread_id: str, method: str, encoded: str) -> None:
        subscribers = self._subscribers.get(thread_id)
        self._publish(thread_id, subscribers.values() if subscribers else (), method, encoded)

    def deliver(self, recipients: list[Connection], method: str, params: Any) -> None:
        thread_id = params.get("threadId") if isinstance(params, dict) else None
        if isinstance(thread_id, str):
            # Thread-scoped (e.g. thread/name/updated to subscribers plus the caller): numbered too.
            self._publish(thread_id, recipients, method, encode_notification(method, params))
            return
        if not recipients:
            return
        encoded = encode_notification(method, params)
        for connection in recipients:
            connection.send_encoded(method, encoded)

    def _publish(self, thread_id: str, recipients: Iterable[Connection], method: str, encoded: str) -> None:
        """Number a thread notification, keep it for replay, and send it to ``recipients`` and
        the observers."""
        recipients = self._with_observers(recipients)
        seq = self.replay.record(thread_id, method, encoded)
        if seq is None:
            for connection in recipients:
                connection.send_encoded(method, encoded)
            return
        send_numbered(recipients, thread_id, method, seq, encoded)

    # ------------------------------------------------------------------ idle threads

    def _is_ephemeral(self, thread_id: str) -> bool:
        thread = self.threads.loaded(thread_id)
        return thread is not None and thread.ephemeral

    def _idle(self, thread_id: str) -> bool:
        thread = self.threads.loaded(thread_id)
        return (
            thread is not None
            and thread.active is None
            and not self._subscribers.get(thread_id)
            and not self._pending_requests.get(thread_id)
        )

    async def _unload_idle_threads(self) -> None:
        after = self.idle_unload_after_s
        assert after is not None
        interval = max(0.05, min(60.0, after / 4))
        idle_since: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for thread_id in self.threads.loaded_ids():
                if not self._idle(thread_id):
                    idle_since.pop(thread_id, None)
                    continue
                since = max(idle_since.setdefault(thread_id, now), self.replay.last_activity(thread_id))
                if now - since >= after:
                    idle_since.pop(thread_id, None)
                    self.unload_thread(thread_id)
            for thread_id in [tid for tid in idle_since if self.threads.loaded(tid) is None]:
                del idle_since[thread_id]

    def unload_thread(self, thread_id: str) -> None:
        """Unload a thread nobody uses: ``thread/status/changed notLoaded``, then ``thread/closed``."""
        if self.threads.loaded(thread_id) is None:
            return
        self.threads.unload(thread_id)
        self.emit(thread_id, "thread/closed", {"threadId": thread_id})
        self.replay.forget_recent(thread_id)

    # ------------------------------------------------------------------ server→client requests

    async def request(
        self, thread_id: str, method: str, params: Any, *, notify_resolved: bool = True, relayed: bool = False
    ) -> Any:
        """Send ``method`` to every subscriber of the thread (and to later subscribers while it
        waits); the first answer wins and the others are withdrawn with ``serverRequest/resolved``.
        In a fleet the other servers' subscribers are asked too (``relayed``: this is such a copy)."""
        pending = _PendingRequest(thread_id, method, params, asyncio.get_running_loop().create_future())
        self._pending_requests.setdefault(thread_id, []).append(pending)
        self.metrics.server_request_started(method)
        for connection in self._with_observers(self.subscribers(thread_id)):
            self._send_request(pending, connection)
        if self.fleet is not None and not relayed:
            self.fleet.share_request(pending)
        answered = False
        try:
            result = await pending.answer
            answered = True
            return result
        except RemoteError:
            answered = True
            raise
        finally:
            waiting = self._pending_requests.get(thread_id, [])
            if pending in waiting:
                waiting.remove(pending)
            if not waiting:
                self._pending_requests.pop(thread_id, None)
            self.metrics.server_request_ended(method, pending.answer)
            for task in pending.tasks:
                task.cancel()
            if self.fleet is not None and pending.shared_id is not None:
                self.fleet.request_done(pending)
            if notify_resolved or not answered:
                for connection, request_id in pending.sent.values():
                    connection.notify("serverRequest/resolved", {"threadId": thread_id, "requestId": request_id})

    def _send_request(self, pending: _PendingRequest, connection: Connection) -> None:
        peer = connection.peer
        if peer is None or pending.answer.done():
            return

        async def ask() -> None:
            try:
                request_id, answer = peer.start_request(pending.method, pending.params)
            except ConnectionClosed:
                return
            # The id the client sees, needed for serverRequest/resolved.
            pending.sent[connection.id] = (connection, request_id)
            try:
                result = await answer
            except ConnectionClosed:
                pending.sent.pop(connection.id, None)
                return
            except RemoteError as exc:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
                return
            if not pending.answer.done():
                pending.answer.set_result(result)

        task = asyncio.get_running_loop().create_task(ask(), name=f"server-request-{pending.method}")
        pending.tasks.append(task)


async def _warm_up(methods: Sequence[str]) -> None:
    """Load each method's handler module and build its params and reply models (and the models
    of the reply's fields), one step at a time: a request that arrives meanwhile is dispatched
    between steps, and needs the same code anyway. Nothing here changes behaviour, only when the
    cost is paid; a step that fails is left to the request that needs it."""
    from ..protocol import METHODS, WireModel
    from .handlers import get_handler

    for method in methods:
        await asyncio.sleep(0)
        spec = METHODS.get(method)
        if spec is None or get_handler(method) is None:
            continue
        # The reply's field models first: a model built before them would build them again inline.
        models: list[Any] = [spec.params, *(field.annotation for field in spec.result.model_fields.values())]
        models.append(spec.result)
        for model in models:
            if isinstance(model, type) and issubclass(model, WireModel) and not model.__pydantic_complete__:
                await asyncio.sleep(0)
                try:
                    model.model_rebuild()
                except Exception:
                    log.debug("warming up %s failed; its first use builds it", model.__name__, exc_info=True)


class _PendingRequest:
    """One server→client request and the connections it went to."""

    def __init__(self, thread_id: str, method: str, params: Any, answer: asyncio.Future[Any]) -> None:
        self.thread_id = thread_id
        self.method = method
        self.params = params
        self.answer = answer
        #: connection id → (connection, the request id that connection saw).
        self.sent: dict[int, tuple[Connection, Any]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        #: Its id among the fleet's shared requests, once shared (``fleet``).
        self.shared_id: int | None = None


class _ClosingStream:
    """A :class:`MessageStream` that notices when the client's side ends.

    The peer keeps serving in-flight requests after end of input (up to its drain timeout); the
    close hooks must not wait for that, because some of those requests (``command/exec``) only
    end when the hooks kill what they run.
    """

    def __init__(self, stream: MessageStream, on_close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._stream = stream
        self._on_close = on_close
        self._task: asyncio.Task[None] | None = None

    def _fire(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._on_close())

    async def closed(self) -> None:
        """Fire the hooks if the input never ended (the peer stopped for another reason) and
        wait for them."""
        self._fire()
        assert self._task is not None
        with contextlib.suppress(Exception):
            await self._task

    async def receive(self) -> bytes | str | None:
        try:
            message = await self._stream.receive()
        except (ConnectionError, OSError):
            self._fire()
            raise
        if message is None:
            self._fire()
        return message

    async def send_many(self, messages: Sequence[str]) -> None:
        await self._stream.send_many(messages)

    async def close(self, reason: str = "") -> None:
        await self._stream.close(reason)
