"""What ``exec`` and ``run`` share: the ``--remote`` / ``--token-env`` / ``--sandbox`` / ``-c`` flags,
opening the embedded server or the remote one, and reporting usage and connection errors (exit 2).

Layer: entry point (imports ``client`` and ``embedded``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import AsyncClient, ClientOptions

#: Exit code for a usage or connection error (argparse uses it too).
EXIT_USAGE = 2
SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")


class UsageError(Exception):
    """Bad input or an unreachable server: printed as ``error: …``, exit code 2."""


def add_common_flags(parser: argparse.ArgumentParser, cwd_help: str) -> None:
    parser.add_argument("--cwd", metavar="DIR", help=f"{cwd_help} (default: the current directory)")
    parser.add_argument(
        "--remote",
        metavar="URL",
        help="a running server (ws://, wss://, unix://PATH) instead of an embedded one",
    )
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        help="send the bearer token in environment variable VAR (only over wss://, or ws:// to this host)",
    )
    parser.add_argument("--sandbox", choices=SANDBOX_MODES, metavar="MODE", help=f"one of {', '.join(SANDBOX_MODES)}")
    add_config_flag(parser)


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    """``-c key=value`` (repeatable): overrides for the embedded server's config.toml."""
    parser.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="key=value",
        help="override a config.toml value of the embedded server",
    )


async def open_client(
    args: argparse.Namespace,
    options: ClientOptions,
    *,
    token_env: str | None = None,
    token_flag: str = "--token-env",
    reconnect: bool = False,
) -> AsyncClient:
    """The embedded server on ``$CODEX_HOME``, or ``--remote`` with the token in the environment
    variable ``token_env`` (default ``args.token_env``, named ``token_flag`` in messages); raises
    :class:`UsageError`. One-shot commands do not ``reconnect``: a dropped connection is an error
    to report, not to paper over."""
    from ..client import ClientError

    token_env = token_env if token_env is not None else getattr(args, "token_env", None)
    try:
        if args.remote:
            from ..client import AsyncClient

            token = None
            if token_env:
                token = os.environ.get(token_env)
                if not token:
                    raise UsageError(f"{token_flag} {token_env}: that environment variable is empty or unset")
            return await AsyncClient.connect(args.remote, token=token, options=options, reconnect=reconnect)
        if token_env:
            raise UsageError(f"{token_flag} only applies with --remote")
        from ..core.config import ConfigError
        from ..embedded import connect_embedded

        try:
            return await connect_embedded(overrides=args.overrides, options=options)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    except ClientError as exc:
        raise UsageError(str(exc)) from None


def sandbox_policy(mode: str | None, cwd: str) -> dict[str, Any] | None:
    """``--sandbox`` as a ``SandboxPolicy`` (None: the server's configured default)."""
    if mode is None:
        return None
    if mode == "read-only":
        return {"type": "readOnly"}
    if mode == "workspace-write":
        return {"type": "workspaceWrite", "writableRoots": [cwd]}
    return {"type": "dangerFullAccess"}


def working_directory(args: argparse.Namespace) -> str:
    """``--cwd`` made absolute (the current directory by default); :class:`UsageError` if missing."""
    cwd = os.path.abspath(args.cwd or os.getcwd())
    if not os.path.isdir(cwd):
        raise UsageError(f"--cwd {args.cwd}: not a directory")
    return cwd


def run_to_exit_code(main: Coroutine[Any, Any, int]) -> int:
    """Run a subcommand's coroutine; usage and connection errors exit 2, Ctrl-C 130."""
    try:
        return asyncio.run(main)
    except UsageError as exc:
        return fail_usage(str(exc))
    except KeyboardInterrupt:
        return 130


def fail_usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
