"""Command line: ``agent-app-server [app-server] [--listen URL] [--ws-* ...] [-c key=value]...`` and
the schema generators. Flags mirror ``codex app-server`` so we are a drop-in for clients that spawn it.

Owns: argument parsing, start-up errors (exit code 1 with ``Error: <message>`` on stderr, the
reference's wording for the ``--ws-*`` checks), and running the chosen transport. Heavy modules are
imported only once we know what to run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from . import PROTOCOL_VERSION, __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-app-server",
        description=f"Codex App Server protocol server (wire-compatible with codex app-server {PROTOCOL_VERSION}).",
    )
    parser.add_argument("--version", action="version", version=f"agent-app-server {__version__}")
    commands = parser.add_subparsers(dest="command")

    def add_serve_flags(target: argparse.ArgumentParser) -> None:
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
            default=30 * 60.0,
            metavar="SECONDS",
            help="unload a thread with no subscribers and nothing running after this long (default 1800; 0: never)",
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

    add_serve_flags(parser)
    add_serve_flags(commands.add_parser("app-server", help="serve the protocol (the default command)"))
    for name, what in (("generate-json-schema", "JSON Schema"), ("generate-ts", "TypeScript types")):
        gen = commands.add_parser(name, help=f"write the protocol's {what} to a directory")
        gen.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
        gen.add_argument("--experimental", action="store_true", help="include experimental methods and fields")
    for name in CLIENT_COMMANDS:
        _client_command(name).add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in CLIENT_COMMANDS:
        return int(_client_command(args.command).run(args))
    if args.command in ("generate-json-schema", "generate-ts"):
        from .protocol import schema_gen

        generate = (
            schema_gen.generate_json_schema
            if args.command == "generate-json-schema"
            else (schema_gen.generate_typescript)
        )
        written = generate(args.out, args.experimental)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
        return 0
    return serve(args)


#: Subcommands that drive a server as a client: name → module in ``commands``.
CLIENT_COMMANDS = {"exec": "exec_cmd", "run": "run_cmd", "tui": "tui_cmd"}


def _client_command(name: str) -> Any:
    import importlib

    return importlib.import_module(f".commands.{CLIENT_COMMANDS[name]}", __package__)


def _listen_url(text: str) -> Any:
    from .server.listen import ListenError, parse_listen

    try:
        return parse_listen(text)
    except ListenError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _auth_options(args: argparse.Namespace) -> Any:
    from .transport.auth import WsAuthOptions

    return WsAuthOptions(
        mode=args.ws_auth,
        token_file=args.ws_token_file,
        token_sha256=args.ws_token_sha256,
        shared_secret_file=args.ws_shared_secret_file,
        issuer=args.ws_issuer,
        audience=args.ws_audience,
        max_clock_skew_seconds=args.ws_max_clock_skew_seconds,
    )


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="agent-app-server %(levelname)s: %(message)s")
    from .core.config import ConfigError, codex_home_from_env, load_config

    target = args.listen
    idle = args.idle_thread_unload_seconds
    idle_after = None if idle is None or idle <= 0 else float(idle)
    authenticator = None
    if target.kind in ("ws", "unix"):
        from .server.listen import ListenError, check_exposure
        from .transport.auth import AuthConfigError, build_authenticator

        try:
            authenticator = build_authenticator(_auth_options(args))
            # Before anything binds: an unauthenticated agent must never be reachable off this host.
            check_exposure(target, authenticator)
        except (AuthConfigError, ListenError) as exc:
            print(f"Error: {exc}", file=sys.stderr)
            return 1
    try:
        config = load_config(codex_home_from_env(), args.overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in config.warnings:
        logging.getLogger("agent_app_server").warning("%s (%s)", warning.summary, warning.path)
    try:
        if target.kind == "stdio":
            asyncio.run(_serve_stdio(config, idle_after))
            return 0
        from .server.listen import ServeOptions, run_listener

        return asyncio.run(
            run_listener(config, target, ServeOptions(authenticator=authenticator, idle_unload_after_s=idle_after))
        )
    except KeyboardInterrupt:
        return 130


async def _serve_stdio(config: Any, idle_after: float | None) -> None:
    from .server import AppServer
    from .transport import StdioStream

    app = await AppServer.open(config)
    app.idle_unload_after_s = idle_after
    app.start_background()
    try:
        stream = await StdioStream.open()
        await app.serve(stream)
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(main())
