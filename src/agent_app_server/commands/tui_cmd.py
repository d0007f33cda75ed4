"""``agent-app-server tui [--remote URL] [--remote-auth-token-env VAR] [--cwd DIR] [--resume ID] [PROMPT]``:
the terminal UI.

Owns: the command line of the UI: opening the client (the embedded server, or ``--remote`` with
its bearer token checked by the client's token rule before anything is sent), reporting what
stops it from starting (exit 2), running the app, and printing on the way out the command that
resumes the thread. Textual is imported only when the UI runs. Layer: commands (client and
embedded).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from ._connect import SANDBOX_MODES, UsageError, add_config_flag, fail_usage, open_client
from .exec_cmd import APPROVAL_POLICIES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "A conversation with the agent in the terminal. Without --remote it runs our server "
        "in-process on $CODEX_HOME; with --remote it connects to any app server."
    )
    parser.add_argument("--remote", metavar="URL", help="a running app server: ws://, wss:// or unix://PATH")
    parser.add_argument(
        "--remote-auth-token-env",
        metavar="VAR",
        help="send the bearer token in environment variable VAR (only over wss://, or ws:// to this host)",
    )
    parser.add_argument("--cwd", metavar="DIR", help="working directory of the agent (default: the current one)")
    parser.add_argument(
        "--approval-policy",
        choices=APPROVAL_POLICIES,
        metavar="P",
        help=f"when the agent asks before acting ({', '.join(APPROVAL_POLICIES)}; default: the server's)",
    )
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, metavar="MODE", help=f"one of {', '.join(SANDBOX_MODES)}")
    parser.add_argument("--resume", metavar="THREAD_ID", help="continue this thread instead of starting one")
    add_config_flag(parser)
    parser.add_argument("prompt", nargs="?", metavar="PROMPT", help="send this prompt first")


def run(args: argparse.Namespace) -> int:
    cwd = os.path.abspath(args.cwd or os.getcwd())
    if not os.path.isdir(cwd):
        return fail_usage(f"--cwd {args.cwd}: not a directory")
    try:
        resume = asyncio.run(_run(args, cwd))
    except UsageError as exc:
        return fail_usage(str(exc))
    except KeyboardInterrupt:
        return 130
    if resume:
        print(f"To continue this thread: {resume}")
    return 0


def _target(args: argparse.Namespace) -> Any:
    from ..tui.app import Target

    if not args.remote:
        return Target("embedded server")
    command = ["agent-app-server", "tui", "--remote", args.remote]
    if args.remote_auth_token_env:
        command += ["--remote-auth-token-env", args.remote_auth_token_env]
    return Target(args.remote, command)


async def _run(args: argparse.Namespace, cwd: str) -> str | None:
    from ..tui.app import ConnectionWatch, TuiApp

    watch = ConnectionWatch()
    # A conversation outlives a dropped connection: the client reconnects and replays.
    client = await open_client(
        args,
        watch.options(),
        token_env=args.remote_auth_token_env or "",
        token_flag="--remote-auth-token-env",
        reconnect=True,
    )
    app = TuiApp(
        client,
        connection=watch,
        target=_target(args),
        cwd=cwd,
        prompt=args.prompt,
        resume=args.resume,
        approval_policy=args.approval_policy,
        sandbox=args.sandbox,
    )
    try:
        return await app.run_async()
    finally:
        await client.aclose()
        if app.gone is not None:
            print(f"error: the server went away: {app.gone}", file=sys.stderr)
