"""``app-server`` (the default command): serve the protocol on ``--listen``.

Owns: the serving flags, start-up errors (exit code 1 with ``Error: <message>`` on stderr, the
reference's wording for the ``--ws-*`` checks), and running the chosen transport. Over stdio the
first ``initialize`` is answered before asyncio and the server load (``server.handshake``), and
so is a plain ``thread/start`` sent right after it (``server.early_thread``); the rest loads
while the client sends its next requests.
Layer: entry point (assembles ``core``, ``server`` and ``transport``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.config import Config
    from ..server.app import AppServer
    from ..server.handshake import EarlyStart
    from ..server.listen_url import ListenTarget
    from ..transport.auth import Authenticator


def add_arguments(target: argparse.ArgumentParser) -> None:
    target.add_argument(
        "--listen",
        default="stdio://",
        type=_listen_url,
        metavar="URL",
        help="transport: stdio:// (default; JSONL on stdin/stdout), ws://IP:PORT (WebSocket; port 0 picks "
        "one), unix://[PATH] (WebSocket over a unix socket; default $CODEX_HOME/app-server-control/"
        "app-server-control.sock), or off",
    )
    target.add_argument(
        "--metrics-listen",
        type=_metrics_address,
        metavar="IP:PORT",
        help="also serve Prometheus /metrics over HTTP on IP:PORT (e.g. 127.0.0.1:9464), e.g. beside a stdio "
        "server (a ws:// or unix:// listener serves /metrics itself); a non-loopback address needs --ws-auth, "
        "whose bearer token then guards /metrics",
    )
    target.add_argument(
        "--ws-auth",
        choices=("capability-token", "signed-bearer-token"),
        metavar="MODE",
        help="authentication for WebSocket connections: capability-token or signed-bearer-token",
    )
    target.add_argument("--ws-token-file", metavar="PATH", help="absolute path to the capability-token file")
    target.add_argument("--ws-token-sha256", metavar="HEX", help="hex SHA-256 digest of the capability token")
    target.add_argument(
        "--ws-shared-secret-file",
        metavar="PATH",
        help="absolute path to the shared secret (at least 32 bytes) for HS256 signed bearer tokens",
    )
    target.add_argument("--ws-issuer", metavar="ISSUER", help="expected `iss` of signed bearer tokens")
    target.add_argument("--ws-audience", metavar="AUDIENCE", help="expected `aud` of signed bearer tokens")
    target.add_argument(
        "--ws-max-clock-skew-seconds",
        type=int,
        metavar="SECONDS",
        help="clock skew tolerated when checking exp/nbf of signed bearer tokens (default 30)",
    )
    target.add_argument(
        "--idle-thread-unload-seconds",
        type=float,
        metavar="SECONDS",
        # No default here: core.config.DEFAULT_IDLE_UNLOAD_S is the one (not imported to parse flags).
        help="unload a thread with no subscribers and nothing running after this long (default 1800; 0: never)",
    )
    target.add_argument(
        "--store-url",
        metavar="URL",
        help="keep threads in this PostgreSQL database (postgresql://…), shared with every server given the "
        "same URL (fleet mode, docs/fleet.md); the same as -c store.url=URL. Default: SQLite under CODEX_HOME",
    )
    target.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="key=value",
        help="override a config.toml value (dotted keys; the value is parsed as TOML, else a string)",
    )


def _listen_url(text: str) -> Any:
    from ..server.listen_url import ListenError, parse_listen

    try:
        return parse_listen(text)
    except ListenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _metrics_address(text: str) -> Any:
    from ..server.listen_url import ListenError, parse_metrics_listen

    try:
        return parse_metrics_listen(text)
    except ListenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _auth_options(args: argparse.Namespace) -> Any:
    from ..transport.auth import WsAuthOptions

    return WsAuthOptions(
        mode=args.ws_auth,
        token_file=args.ws_token_file,
        token_sha256=args.ws_token_sha256,
        shared_secret_file=args.ws_shared_secret_file,
        issuer=args.ws_issuer,
        audience=args.ws_audience,
        max_clock_skew_seconds=args.ws_max_clock_skew_seconds,
    )


def run(args: argparse.Namespace) -> int:
    from ..core.config import DEFAULT_IDLE_UNLOAD_S, ConfigError, codex_home_from_env, load_config

    target = args.listen
    idle = DEFAULT_IDLE_UNLOAD_S if args.idle_thread_unload_seconds is None else args.idle_thread_unload_seconds
    idle_after = None if idle <= 0 else float(idle)
    authenticator = None
    metrics_target = args.metrics_listen
    if target.kind in ("ws", "unix") or metrics_target is not None:
        from ..server.listen import check_exposure, check_metrics_exposure
        from ..server.listen_url import ListenError
        from ..transport.auth import AuthConfigError, build_authenticator

        try:
            authenticator = build_authenticator(_auth_options(args))
            # Before anything binds: an unauthenticated agent must never be reachable off this host.
            check_exposure(target, authenticator)
            if metrics_target is not None:
                check_metrics_exposure(metrics_target, authenticator)
        except (AuthConfigError, ListenError) as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
    overrides = list(args.overrides)
    if args.store_url is not None:
        # JSON string syntax is a TOML basic string: the URL arrives verbatim, whatever it contains.
        overrides.append(f"store.url={json.dumps(args.store_url)}")
    try:
        config = load_config(codex_home_from_env(), overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    early = None
    if target.kind == "stdio":
        from ..server.handshake import answer_initialize_early

        # Start-up allocates many objects that live for good (modules, models) and few cycles:
        # collecting while it loads is wasted work (about a tenth of the CPU time to the first
        # ``thread/start`` answer). Collection resumes once the warm-up has run.
        gc.disable()

        early = answer_initialize_early(sys.stdin.fileno(), sys.stdout.fileno(), str(config.codex_home))
        if early.handshake is not None:
            from ..server.early_thread import answer_thread_start_early

            early = answer_thread_start_early(early, sys.stdin.fileno(), sys.stdout.fileno(), config)
    import asyncio  # after the answer: it costs more than everything before it
    import logging

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="agent-app-server %(levelname)s: %(message)s")
    for warning in config.warnings:
        logging.getLogger("agent_app_server").warning("%s (%s)", warning.summary, warning.path)
    try:
        if early is not None:
            return asyncio.run(_serve_stdio(config, idle_after, early, metrics_target, authenticator))
        from ..server.listen import ServeOptions, run_listener

        options = ServeOptions(
            authenticator=authenticator, idle_unload_after_s=idle_after, metrics_target=metrics_target
        )
        return asyncio.run(run_listener(config, target, options))
    except KeyboardInterrupt:
        return 130


async def _serve_stdio(
    config: Config,
    idle_after: float | None,
    early: EarlyStart,
    metrics_target: ListenTarget | None,
    authenticator: Authenticator | None,
) -> int:
    import asyncio

    from ..server.app import AppServer
    from ..server.handshake import PrefixedStream
    from ..transport import StdioStream

    app = await AppServer.open(config)
    app.idle_unload_after_s = idle_after
    metrics_listener = None
    if metrics_target is not None:
        from ..server.listen import start_metrics_listener

        try:
            metrics_listener = await start_metrics_listener(app, metrics_target, authenticator)
        except OSError as exc:
            print(f"Error: --metrics-listen: {exc.strerror or exc} (os error {exc.errno})", file=sys.stderr)
            await app.close()
            return 1
    app.start_background()
    collecting = asyncio.get_running_loop().create_task(_collect_once_warm(app))
    try:
        stream = await StdioStream.open()
        await app.serve(PrefixedStream(early, stream), handshake=early.handshake, early_thread=early.thread)
    finally:
        if metrics_listener is not None:
            await metrics_listener.stop()
        await app.close()
        await collecting
    return 0


async def _collect_once_warm(app: AppServer) -> None:
    try:
        await app.warmed_up()
    finally:
        gc.enable()
