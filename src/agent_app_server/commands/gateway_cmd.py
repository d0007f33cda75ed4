"""``agent-app-server gateway``: the approval gateway's command line.

``gateway --server [NAME=]URL ... --policy FILE [--audit DB] [--listen HOST:PORT] [--dry-run]``
runs it (SIGHUP reloads the policy, SIGTERM / Ctrl-C stop it); ``gateway --check FILE`` checks a
policy and explains each rule; ``gateway audit [--since WHEN] [--json]`` prints the audit log.
Owns: the flags, start-up errors (a bad policy names its line; exit 2), signals, and the audit
listing. Layer: commands (imports ``gateway``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from ._connect import EXIT_USAGE, fail_usage

DEFAULT_LISTEN = "127.0.0.1:8787"
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Observe app servers and answer their approval requests by a policy file; escalate to a "
        "change-management service where the policy says so; audit every request. "
        "`gateway audit` prints the audit log. See docs/approval-gateway.md."
    )
    parser.add_argument("action", nargs="?", choices=("run", "audit"), default="run", help="run (default) or audit")
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="[NAME=]URL",
        help="an app server to observe (ws://, wss:// or unix://PATH); repeatable",
    )
    parser.add_argument("--policy", metavar="FILE", help="the policy (TOML)")
    parser.add_argument("--check", metavar="FILE", help="check a policy, explain each rule, and exit")
    parser.add_argument(
        "--audit",
        metavar="DB",
        help="the gateway's SQLite database: audit log and escalations in flight "
        "(default: $CODEX_HOME/gateway.sqlite3)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help=f"the decision callback endpoint (default {DEFAULT_LISTEN} when the policy escalates; port 0: any free)",
    )
    parser.add_argument("--dry-run", action="store_true", help="log and audit what would be decided; answer nothing")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="send the bearer token in environment variable VAR to every server",
    )
    parser.add_argument(
        "--since", metavar="WHEN", help="audit: from this time on (30m, 2h, 1d, ISO 8601, Unix seconds)"
    )
    parser.add_argument("--json", action="store_true", help="audit: one JSON object per line")


def run(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args.check)
    if args.action == "audit":
        try:
            since = parse_since(args.since) if args.since else None
        except ValueError as exc:
            return fail_usage(str(exc))
        database = _database(args)
        if not database.exists():
            return fail_usage(f"no gateway database at {database} (give it with --audit DB)")
        return asyncio.run(_audit(database, since, as_json=args.json))
    if not args.server:
        return fail_usage("give at least one --server [NAME=]URL to observe")
    if not args.policy:
        return fail_usage("give the policy: --policy FILE (check it first with --check FILE)")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="gateway: %(message)s")
    logging.getLogger("agent_app_server.gateway").setLevel(logging.INFO)
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 130


def _check(path: str) -> int:
    from ..gateway.policy import PolicyError, load_policy

    try:
        policy = load_policy(path)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join(policy.explain()))
    return 0


def _database(args: argparse.Namespace) -> Path:
    if args.audit:
        return Path(args.audit)
    home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    return Path(home) / "gateway.sqlite3"


def _listen(value: str | None, escalates: bool) -> tuple[str, int] | None:
    if value is None and not escalates:
        return None
    host, separator, port = (value or DEFAULT_LISTEN).rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"--listen {value}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host or "127.0.0.1", int(port)


async def _serve(args: argparse.Namespace) -> int:
    from ..client import ClientError
    from ..gateway.policy import PolicyError, load_policy
    from ..gateway.service import ServerTarget, open_gateway

    try:
        targets = [ServerTarget.parse(value) for value in args.server]
        policy = await asyncio.to_thread(load_policy, args.policy)
        listen = _listen(args.listen, policy.escalation is not None)
    except (ValueError, PolicyError) as exc:
        return fail_usage(str(exc))
    names = [target.name for target in targets]
    if len(set(names)) != len(names):
        return fail_usage(f"two --server share a name ({', '.join(names)}): name them NAME=URL")
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            return fail_usage(f"--token-env {args.token_env}: that environment variable is empty or unset")
    try:
        gateway = await open_gateway(
            targets, args.policy, _database(args), dry_run=args.dry_run, listen=listen, token=token
        )
    except PolicyError as exc:
        return fail_usage(str(exc))
    except (ClientError, OSError) as exc:
        return fail_usage(f"cannot start the gateway: {exc}")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        task = loop.create_task(gateway.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await gateway.close()
        await gateway.store.close()
    return 0


def parse_since(value: str) -> float:
    """``30m`` / ``2h`` / ``1d`` ago, an ISO 8601 time (UTC unless it says), or Unix seconds."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return datetime.datetime.now(datetime.UTC).timestamp() - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {value!r}: expected a duration ago (30m, 2h, 1d), an ISO 8601 time or Unix seconds"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


async def _audit(database: Path, since: float | None, *, as_json: bool) -> int:
    from ..gateway.store import GatewayStore

    store = await GatewayStore.open(database)
    try:
        rows = await store.audit_rows(since)
    finally:
        await store.close()
    if as_json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    for row in rows:
        print(format_row(row))
    return 0


def format_row(row: dict[str, Any]) -> str:
    when = datetime.datetime.fromtimestamp(row["at"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    outcome = row["decision"] or ("(dry run)" if row["dry_run"] else "(not answered by the gateway)")
    parts = [
        when,
        row["server"],
        row["kind"],
        _shorten(row["summary"], 60),
        f"rule={row['rule']!r}",
        f"{row['action']}→{outcome}",
    ]
    if row["answered_by"]:
        parts.append(f"by={row['answered_by']}")
    if row["ticket"] or row["escalation_id"]:
        parts.append(f"ticket={row['ticket'] or row['escalation_id']}")
    if row["latency_ms"] is not None:
        parts.append(f"{row['latency_ms']:.1f}ms")
    if row["note"]:
        parts.append(f"({row['note']})")
    return "  ".join(parts)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
