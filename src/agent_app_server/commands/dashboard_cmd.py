"""``agent-app-server dashboard --server NAME=URL [...] [--token-env NAME=VAR] [--listen HOST:PORT]
[--auth-token-file PATH] [--audit-db PATH]``: the team dashboard across app servers.

Owns: the command line (parsing and checking every flag before anything starts, reading the
token files and variables), printing the page's address, and running until SIGINT/SIGTERM.
aiohttp is imported only when the dashboard runs.
Layer: commands (imports ``dashboard``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from ._connect import UsageError, fail_usage

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "A web page that watches app servers live: servers, threads, turns as they stream, "
        "token and turn charts, and every pending approval in one list."
    )
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a server to watch (ws://, wss:// or unix://PATH); repeat for each",
    )
    parser.add_argument(
        "--token-env",
        action="append",
        default=[],
        metavar="NAME=VAR",
        help="send server NAME the bearer token in environment variable VAR",
    )
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8765",
        metavar="HOST:PORT",
        help="where the page is served (default: %(default)s)",
    )
    parser.add_argument(
        "--auth-token-file",
        metavar="PATH",
        help="require this token (a login page, or Authorization: Bearer); needed for a non-loopback --listen",
    )
    parser.add_argument(
        "--audit-db",
        metavar="PATH",
        help="the SQLite audit log of approval decisions "
        "(default: $XDG_STATE_HOME/agent-app-server/dashboard-audit.sqlite3)",
    )
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, metavar="S", help="seconds between server/diagnostics polls"
    )


def _pairs(values: list[str], flag: str, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not rest:
            raise UsageError(f"{flag} {value!r}: expected NAME={what}")
        if not _NAME.match(name):
            raise UsageError(f"{flag} {value!r}: a server name is letters, digits, '.', '_' or '-' (no '/')")
        if name in pairs:
            raise UsageError(f"{flag}: {name} is given twice")
        pairs[name] = rest
    return pairs


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def _audit_path(value: str | None) -> Path:
    if value:
        return Path(value).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "agent-app-server" / "dashboard-audit.sqlite3"


def _specs(args: argparse.Namespace) -> list[Any]:
    from ..dashboard.web import ServerSpec

    servers = _pairs(args.server, "--server", "URL")
    if not servers:
        raise UsageError("give at least one --server NAME=URL")
    for name, url in servers.items():
        if not url.startswith(("ws://", "wss://", "unix://")):
            raise UsageError(f"--server {name}={url}: expected a ws://, wss:// or unix:// URL")
    tokens: dict[str, str] = {}
    for name, var in _pairs(args.token_env, "--token-env", "VAR").items():
        if name not in servers:
            raise UsageError(f"--token-env {name}={var}: no --server named {name}")
        token = os.environ.get(var)
        if not token:
            raise UsageError(f"--token-env {name}={var}: that environment variable is empty or unset")
        from ..client import check_token_target

        try:
            check_token_target(servers[name])
        except Exception as exc:
            raise UsageError(f"--token-env {name}: {exc}") from None
        tokens[name] = token
    return [ServerSpec(name, url, tokens.get(name)) for name, url in servers.items()]


def _auth_token(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise UsageError(f"--auth-token-file {path}: {exc.strerror}") from None
    if len(token) < 16:
        raise UsageError(f"--auth-token-file {path}: the token must be at least 16 characters")
    return token


def run(args: argparse.Namespace) -> int:
    try:
        specs = _specs(args)
        host, port = _listen(args.listen)
        token = _auth_token(args.auth_token_file)
        from ..dashboard.web import Dashboard

        try:
            dashboard = Dashboard(
                specs,
                audit_path=_audit_path(args.audit_db),
                host=host,
                port=port,
                auth_token=token,
                poll_interval=args.poll_interval,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return asyncio.run(_serve(dashboard))
    except UsageError as exc:
        return fail_usage(str(exc))
    except KeyboardInterrupt:
        return 130


async def _serve(dashboard: Any) -> int:
    from ..dashboard.audit import AuditError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await dashboard.start()
    except AuditError as exc:
        await dashboard.stop()
        raise UsageError(str(exc)) from None
    except OSError as exc:
        await dashboard.stop()
        raise UsageError(f"--listen {dashboard.host}:{dashboard.port}: {exc.strerror or exc}") from None
    print(f"dashboard listening on: {url}", file=sys.stderr, flush=True)
    try:
        await stop.wait()
    finally:
        await dashboard.stop()
    return 0
