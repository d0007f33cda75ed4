"""Running the server on the chosen ``--listen`` transport, and shutting it down gracefully.

Owns: parsing ``--listen`` (``stdio://``, ``ws://IP:PORT``, ``unix://[PATH]``, ``off``), the
start-up guard that refuses a non-loopback WebSocket or metrics listener without authentication
(before binding anything), the metrics-only listener (``--metrics-listen``), the per-connection
limits of network clients, the start-up banner, and
SIGINT/SIGTERM: stop taking new connections (``/readyz`` turns 503), interrupt running turns, flush
the store, close every connection with a reason, exit 0. A second signal exits at once.
Layer: server. Heavy modules are imported only when a listener actually runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import DEFAULT_IDLE_UNLOAD_S
from ..rpc import PeerLimits
from .listen_url import ListenError, ListenTarget

if TYPE_CHECKING:
    from ..core.config import Config
    from ..transport.auth import Authenticator
    from ..transport.websocket import WebSocketListener
    from .app import AppServer

log = logging.getLogger(__name__)

#: Network clients get a hard bound on what may queue for them: a client that stops reading is
#: closed (1013) once this many messages wait, so it costs bounded memory and slows nobody else.
#: Replies alone cannot reach the bound (reading stops at the high-water mark, and at most
#: ``max_pending_requests`` handlers are in flight); only unsolicited notifications can.
NETWORK_LIMITS = PeerLimits(max_pending_requests=512, outbound_high_water=1024, outbound_hard_limit=4096)
OVERFLOW_REASON = "client is not reading; too many undelivered messages (resume with afterSeq)"
#: How long shutdown waits for queued messages (e.g. interrupted turns) to reach the clients.
SHUTDOWN_FLUSH_S = 2.0


def check_exposure(target: ListenTarget, authenticator: Authenticator | None) -> None:
    """Refuse, before binding, to serve an unauthenticated WebSocket beyond this machine."""
    if target.kind == "ws" and authenticator is None and not target.is_loopback:
        raise ListenError(
            f"refusing to start non-loopback websocket listener {target.address} without auth; "
            "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"
        )


def check_metrics_exposure(target: ListenTarget, authenticator: Authenticator | None) -> None:
    """Refuse, before binding, to publish metrics beyond this machine without a credential:
    they name the models used, the methods called and how much work the agent does."""
    if authenticator is None and not target.is_loopback:
        raise ListenError(
            f"refusing to serve /metrics on non-loopback address {target.address} without auth; "
            "configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token` (scrapers then send "
            "the bearer token), or bind a loopback address such as 127.0.0.1"
        )


@dataclass(frozen=True, slots=True)
class ServeOptions:
    authenticator: Authenticator | None = None
    #: None: keep idle threads loaded.
    idle_unload_after_s: float | None = DEFAULT_IDLE_UNLOAD_S
    #: ``--metrics-listen``: a listener serving only ``/metrics`` (None: none).
    metrics_target: ListenTarget | None = None


async def run_listener(config: Config, target: ListenTarget, options: ServeOptions) -> int:
    """Serve ``target`` (ws, unix or off) until SIGINT/SIGTERM; returns the exit code."""
    from ..transport.unix import UnixSocketError, default_socket_path, link_if_needed, prepare_socket_path
    from ..transport.websocket import (
        CLOSE_TRY_AGAIN_LATER,
        SLOW_CLIENT_CLOSE_TIMEOUT_S,
        ListenerOptions,
        WebSocketListener,
        WebSocketStream,
    )
    from .app import AppServer

    app = await AppServer.open(config)
    app.idle_unload_after_s = options.idle_unload_after_s
    app.start_background()

    async def handle(stream: WebSocketStream) -> None:
        async def overflow() -> None:
            log.warning(
                "closing a client that stopped reading (%d messages queued)", NETWORK_LIMITS.outbound_hard_limit
            )
            await stream.close_with(CLOSE_TRY_AGAIN_LATER, OVERFLOW_REASON, within=SLOW_CLIENT_CLOSE_TIMEOUT_S)

        await app.serve(stream, NETWORK_LIMITS, overflow)

    listener = WebSocketListener(
        handle, ListenerOptions(authenticator=options.authenticator, metrics=app.metrics.render)
    )
    unix_path = None
    metrics_listener = None
    try:
        if options.metrics_target is not None:
            metrics_listener = await start_metrics_listener(app, options.metrics_target, options.authenticator)
        if target.kind == "ws":
            host, port = await listener.start_tcp(target.host, target.port)
            shown = ListenTarget("ws", host=host, port=port).address
            _banner(f"ws://{shown}", f"http://{shown}", loopback=target.is_loopback)
        elif target.kind == "unix":
            path = Path(target.path) if target.path else default_socket_path(config.codex_home)
            try:
                unix_path = await asyncio.to_thread(prepare_socket_path, path)
            except (UnixSocketError, OSError) as exc:
                print(f"Error: {exc}", file=sys.stderr)
                return 1
            await listener.start_unix(str(unix_path.bind_path))
            link_if_needed(unix_path)
            _banner(f"unix://{unix_path.path}", None, loopback=True)
    except OSError as exc:
        print(f"Error: {exc.strerror or exc} (os error {exc.errno})", file=sys.stderr)
        await _stop_quietly(metrics_listener)
        await app.close()
        return 1
    except BaseException:
        await _stop_quietly(metrics_listener)
        await app.close()
        raise
    try:
        await _wait_for_signal()
        print("agent-app-server: shutting down", file=sys.stderr, flush=True)
        await _shutdown(app, listener)
    finally:
        await _stop_quietly(metrics_listener)
        if unix_path is not None:
            unix_path.cleanup()
    return 0


async def start_metrics_listener(
    app: AppServer, target: ListenTarget, authenticator: Authenticator | None
) -> WebSocketListener:
    """Bind ``--metrics-listen`` (call :func:`check_metrics_exposure` first) and say where on
    stderr; raises ``OSError`` when the address cannot be bound."""
    from ..transport.websocket import WebSocketListener

    listener = WebSocketListener.metrics_only(app.metrics.render, authenticator)
    host, port = await listener.start_tcp(target.host, target.port)
    shown = ListenTarget("ws", host=host, port=port).address
    print(f"agent-app-server: metrics on http://{shown}/metrics", file=sys.stderr, flush=True)
    return listener


async def _stop_quietly(listener: WebSocketListener | None) -> None:
    if listener is not None:
        with contextlib.suppress(Exception):
            await listener.stop()


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        # A second signal ends the process without waiting for the graceful path.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


async def _shutdown(app: AppServer, listener: object) -> None:
    from ..transport.websocket import WebSocketListener

    assert isinstance(listener, WebSocketListener)
    listener.begin_shutdown()
    # Turns end as interrupted (clients see turn/completed), the replay log and the store are
    # written and closed; connections are still open so those notifications reach the clients.
    await app.close()
    for _ in range(int(SHUTDOWN_FLUSH_S / 0.02)):
        if not any(c.peer is not None and c.peer.queued_outbound > 0 for c in app.connections.values()):
            break
        await asyncio.sleep(0.02)
    await listener.close_connections()
    with contextlib.suppress(Exception):
        await listener.stop()


def _banner(url: str, http_url: str | None, *, loopback: bool) -> None:
    lines = ["agent-app-server (WebSockets)", f"  listening on: {url}"]
    if http_url is not None:
        lines += [f"  readyz: {http_url}/readyz", f"  healthz: {http_url}/healthz", f"  metrics: {http_url}/metrics"]
    if http_url is not None and loopback:
        lines.append("  note: binds localhost only (use SSH port-forwarding for remote access)")
    print("\n".join(lines), file=sys.stderr, flush=True)
