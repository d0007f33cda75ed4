"""WebSocket transport (``--listen ws://IP:PORT`` and, like the reference, ``unix://PATH``).

Owns: the HTTP side of the listener (``/readyz``, ``/healthz``, ``/metrics`` from a source the
server passes in, the ``Origin`` refusal, the upgrade check and authentication, all answered
before any WebSocket exists), the metrics-only variant of the listener, and
:class:`WebSocketStream`, one JSON-RPC message per text frame. Binary frames and oversized
messages end the connection with a close frame saying why.
Layer: transport (imports ``transport.auth`` and the ``websockets`` library; knows no JSON-RPC).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, AuthRejected, Grant

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response

log = logging.getLogger(__name__)

#: The largest message we accept (the reference advertises 16 MiB unfragmented messages).
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: How long a normal close waits for the client's half of the closing handshake.
CLOSE_TIMEOUT_S = 5.0
#: A client closed for not reading gets longer to read what is buffered and see the close frame
#: (its socket holds at most the kernel's and the transport's bounded buffers meanwhile).
SLOW_CLIENT_CLOSE_TIMEOUT_S = 60.0

# Close codes (RFC 6455 §7.4.1) and the reasons we send with them.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TRY_AGAIN_LATER = 1013
BINARY_FRAME_REASON = "binary frames are not supported; send each JSON-RPC message as one text frame"
SHUTDOWN_REASON = "server shutting down"
JWT_EXPIRED_REASON = "websocket jwt expired; reconnect with a fresh token"
NOT_UPGRADE_BODY = "Connection header did not include 'upgrade'"
SHUTTING_DOWN_BODY = "server is shutting down"
METRICS_ONLY_BODY = "this listener serves only /metrics"


class WebSocketStream:
    """A :class:`~agent_app_server.transport.base.MessageStream` over one accepted WebSocket."""

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    async def receive(self) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self.connection.recv()
        except ConnectionClosed:
            return None
        if isinstance(message, bytes):
            await self.close_with(CLOSE_UNSUPPORTED_DATA, BINARY_FRAME_REASON)
            return None
        return message

    async def send_many(self, messages: Sequence[str]) -> None:
        from websockets.exceptions import ConnectionClosed

        connection = self.connection
        # Encoded before anything is written: a message that cannot be encoded (UnicodeEncodeError)
        # leaves the connection untouched and the whole batch unsent, for the caller to retry.
        frames = [message.encode() for message in messages]
        try:
            if len(frames) == 1:
                await connection.send(frames[0], text=True)
                return
            # One write and one drain for the whole batch: fan-out to many clients sends the same
            # notification to each, so per-message overhead is multiplied by the client count.
            async with connection.send_context():
                for frame in frames:
                    connection.protocol.send_text(frame)
        except ConnectionClosed as closed:
            raise ConnectionResetError(f"websocket closed: {closed}") from None

    async def close(self, reason: str = "") -> None:
        await self.close_with(CLOSE_NORMAL, reason)

    async def close_with(self, code: int, reason: str, *, within: float = CLOSE_TIMEOUT_S) -> None:
        """Close with ``code``; a client that does not complete the handshake in time is dropped.

        ``close()`` waits for the close frame to be written, which never happens while a client
        that stopped reading leaves the socket buffer full, hence the bound.
        """
        # The library's own close timeout runs from when the close frame is queued, and would cut
        # a client that is slow to read its buffered messages off before ``within``.
        self.connection.close_timeout = within
        try:
            await asyncio.wait_for(self.connection.close(code, _truncate_reason(reason)), within)
        except (TimeoutError, OSError):
            self.connection.transport.abort()

    @property
    def is_open(self) -> bool:
        from websockets.protocol import State

        return self.connection.protocol.state is State.OPEN


def _truncate_reason(reason: str) -> str:
    # A close frame's payload is at most 125 bytes: 2 for the code, 123 for the UTF-8 reason.
    encoded = reason.encode()
    if len(encoded) <= 123:
        return reason
    return encoded[:120].decode(errors="ignore") + "..."


#: The body of ``/metrics`` and its content type, produced when it is asked for.
MetricsSource = Callable[[], Awaitable[tuple[bytes, str]]]


@dataclass(frozen=True, slots=True)
class ListenerOptions:
    authenticator: Authenticator | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    #: None: no ``/metrics`` route (the path is treated like any other).
    metrics: MetricsSource | None = None
    #: Serve ``/metrics`` and nothing else: no health routes, no upgrades (``--metrics-listen``).
    metrics_only: bool = False


ConnectionHandler = Callable[[WebSocketStream], Awaitable[None]]


async def _no_connections(stream: WebSocketStream) -> None:
    # A metrics-only listener answers every request over HTTP; nothing is ever upgraded.
    await stream.close_with(CLOSE_POLICY_VIOLATION, METRICS_ONLY_BODY)


class WebSocketListener:
    """One listening socket (TCP or unix) serving WebSocket upgrades and the health routes."""

    def __init__(self, handle: ConnectionHandler, options: ListenerOptions) -> None:
        self._handle = handle
        self._options = options
        self._server: Server | None = None
        self._grants: weakref.WeakKeyDictionary[ServerConnection, Grant] = weakref.WeakKeyDictionary()
        self._streams: set[WebSocketStream] = set()
        self.shutting_down = False
        self.accepting = False

    @classmethod
    def metrics_only(cls, metrics: MetricsSource, authenticator: Authenticator | None) -> WebSocketListener:
        """A listener answering ``/metrics`` (behind ``authenticator`` when given) and 404 to the rest."""
        options = ListenerOptions(authenticator=authenticator, metrics=metrics, metrics_only=True)
        return cls(_no_connections, options)

    # ------------------------------------------------------------------ lifecycle

    def _serve_kwargs(self) -> dict[str, Any]:
        return {
            "process_request": self._process_request,
            # As the reference: no permessage-deflate (its clients must turn it off), and a
            # compression context per connection would cost more memory than the connection.
            "compression": None,
            "server_header": None,
            "max_size": self._options.max_message_bytes,
            "max_queue": 16,
            "close_timeout": CLOSE_TIMEOUT_S,
        }

    async def start_tcp(self, host: str, port: int) -> tuple[str, int]:
        """Bind and start accepting; returns the bound address (the real port when ``port`` is 0)."""
        from websockets.asyncio.server import serve

        self._server = await serve(self._on_connection, host, port, **self._serve_kwargs())
        self.accepting = True
        sockname = next(iter(self._server.sockets)).getsockname()
        return str(sockname[0]), int(sockname[1])

    async def start_unix(self, path: str) -> None:
        from websockets.asyncio.server import unix_serve

        # The socket is the credential on a unix listener: only its owner may connect.
        previous = os.umask(0o177)
        try:
            self._server = await unix_serve(self._on_connection, path, **self._serve_kwargs())
        finally:
            os.umask(previous)
        self.accepting = True

    def begin_shutdown(self) -> None:
        """``/readyz`` answers 503 from now on and new upgrades are refused; open connections stay."""
        self.shutting_down = True

    async def close_connections(self, reason: str = SHUTDOWN_REASON) -> None:
        streams = list(self._streams)
        if streams:
            await asyncio.gather(
                *(stream.close_with(CLOSE_GOING_AWAY, reason) for stream in streams), return_exceptions=True
            )

    async def stop(self) -> None:
        """Stop listening and wait (bounded) for connection handlers to return."""
        server = self._server
        if server is None:
            return
        self.accepting = False
        server.close(close_connections=True, code=CLOSE_GOING_AWAY, reason=SHUTDOWN_REASON)
        try:
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S * 2)
        except TimeoutError:
            for connection in list(server.connections):
                connection.transport.abort()

    @property
    def connection_count(self) -> int:
        return len(self._streams)

    # ------------------------------------------------------------------ HTTP

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        headers = request.headers
        # Browsers always send Origin; a local agent must never be reachable from a web page,
        # whatever the route and whatever credentials come with it.
        if "Origin" in headers:
            return connection.respond(http.HTTPStatus.FORBIDDEN, "")
        path = request.path.split("?", 1)[0]
        options = self._options
        if path == "/metrics" and options.metrics is not None:
            return await self._metrics(connection, request, options.metrics)
        if options.metrics_only:
            return connection.respond(http.HTTPStatus.NOT_FOUND, METRICS_ONLY_BODY)
        if path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "")
        if path == "/readyz":
            ready = self.accepting and not self.shutting_down
            return connection.respond(http.HTTPStatus.OK if ready else http.HTTPStatus.SERVICE_UNAVAILABLE, "")
        tokens = {token.strip().lower() for value in headers.get_all("Connection") for token in value.split(",")}
        if "upgrade" not in tokens:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, NOT_UPGRADE_BODY)
        if self.shutting_down:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, SHUTTING_DOWN_BODY)
        authenticator = options.authenticator
        if authenticator is not None:
            try:
                grant = _authenticate(authenticator, request)
            except AuthRejected as rejected:
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, rejected.reason)
            self._grants[connection] = grant
        return None

    async def _metrics(self, connection: ServerConnection, request: Request, source: MetricsSource) -> Response:
        """``/metrics``: behind the same credential as the upgrade (it describes the agent's work)."""
        authenticator = self._options.authenticator
        if authenticator is not None:
            try:
                _authenticate(authenticator, request)
            except AuthRejected as rejected:
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, rejected.reason)
        body, content_type = await source()
        response = connection.respond(http.HTTPStatus.OK, "")
        headers = response.headers
        # ``Headers`` keeps every value set: the plain-text ones ``respond`` wrote must go first.
        del headers["Content-Type"], headers["Content-Length"]
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        return dataclasses.replace(response, body=body)

    # ------------------------------------------------------------------ connections

    async def _on_connection(self, connection: ServerConnection) -> None:
        stream = WebSocketStream(connection)
        self._streams.add(stream)
        grant = self._grants.pop(connection, None)
        expiry: asyncio.TimerHandle | None = None
        closing: set[asyncio.Task[None]] = set()
        if grant is not None and grant.expires_at is not None:
            loop = asyncio.get_running_loop()

            def expire() -> None:
                # Beyond the reference (which lets an upgraded connection outlive its token): the
                # credential's end is the connection's end.
                task = loop.create_task(stream.close_with(CLOSE_POLICY_VIOLATION, JWT_EXPIRED_REASON))
                closing.add(task)
                task.add_done_callback(closing.discard)

            delay = max(0.0, grant.expires_at - _now())
            expiry = loop.call_later(delay, expire)
        try:
            await self._handle(stream)
        finally:
            if expiry is not None:
                expiry.cancel()
            self._streams.discard(stream)
            if stream.is_open:
                await stream.close_with(CLOSE_NORMAL, "")
            for task in list(closing):
                with contextlib.suppress(Exception):
                    await task


def _authenticate(authenticator: Authenticator, request: Request) -> Grant:
    # As the reference: of several Authorization headers the first one counts.
    presented = request.headers.get_all("Authorization")
    return authenticator.authenticate(presented[0] if presented else None)


def _now() -> float:
    import time

    return time.time()
