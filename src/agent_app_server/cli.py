"""Command line: ``agent-app-server [app-server] [--listen URL] [-c key=value]...`` and the
schema generators. Flags mirror ``codex app-server`` so we are a drop-in for clients that spawn it.

Owns: argument parsing, start-up errors (exit code 1 with a message on stderr), and running the
chosen transport. Heavy modules are imported only once we know what to run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

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
            help="transport to serve: stdio:// (default; JSONL on stdin/stdout)",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    return serve(args.listen, args.overrides)


def serve(listen: str, overrides: list[str]) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="agent-app-server %(levelname)s: %(message)s")
    from .core.config import ConfigError, codex_home_from_env, load_config

    if listen not in ("stdio://", "stdio"):
        print(
            f"error: unsupported --listen {listen!r}; this build serves stdio:// only",
            file=sys.stderr,
        )
        return 1
    try:
        config = load_config(codex_home_from_env(), overrides)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve_stdio(config))
    except KeyboardInterrupt:
        return 130
    return 0


async def _serve_stdio(config: object) -> None:
    from .core.config import Config
    from .server import AppServer
    from .transport import StdioStream

    assert isinstance(config, Config)
    for warning in config.warnings:
        logging.getLogger("agent_app_server").warning("%s (%s)", warning.summary, warning.path)
    app = await AppServer.open(config)
    try:
        stream = await StdioStream.open()
        await app.serve(stream)
    finally:
        await app.close()


if __name__ == "__main__":
    sys.exit(main())
