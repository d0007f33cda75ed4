"""Command line: ``agent-app-server [COMMAND] [flags]``; without a command, ``app-server``.

Owns: the table of subcommands and dispatching to one. Each command lives in its own module,
imported only when that command runs, so that spawning the server (the default command) loads
nothing another command needs. Flags mirror ``codex`` so we are a drop-in for clients that spawn it.

To add a command: a module with ``add_arguments(parser)`` and ``run(args) -> int``, and a row in
:data:`COMMANDS`.
Layer: entry point (imports the root package; a subcommand's module in ``commands`` loads when it runs).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, NamedTuple

from . import PROTOCOL_VERSION, __version__

if TYPE_CHECKING:
    pass


class Command(NamedTuple):
    #: Defines ``add_arguments(parser: argparse.ArgumentParser) -> None`` and
    #: ``run(args: argparse.Namespace) -> int`` (``args.command`` is the command's name).
    module: str
    help: str


COMMANDS: dict[str, Command] = {
    "app-server": Command("agent_app_server.commands.serve", "serve the protocol (the default command)"),
    "generate-json-schema": Command(
        "agent_app_server.commands.generate", "write the protocol's JSON Schema to a directory"
    ),
    "generate-ts": Command(
        "agent_app_server.commands.generate", "write the protocol's TypeScript types to a directory"
    ),
    "exec": Command(
        "agent_app_server.commands.exec_cmd",
        "run one agent turn headless: progress on stderr, the final message on stdout",
    ),
    "run": Command(
        "agent_app_server.commands.run_cmd",
        "run commands sandboxed through the server (CI): output streamed, their exit code ours",
    ),
    "tui": Command(
        "agent_app_server.commands.tui_cmd",
        "the terminal UI: our server in-process, or any app server with --remote",
    ),
    "dashboard": Command(
        "agent_app_server.commands.dashboard_cmd",
        "a web page watching app servers: threads, live turns, charts, approvals, audit log",
    ),
    "gateway": Command(
        "agent_app_server.commands.gateway_cmd",
        "answer app servers' approval requests by a policy file (escalation, audit log)",
    ),
}
DEFAULT_COMMAND = "app-server"


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    named = bool(argv) and argv[0] in COMMANDS
    name = argv[0] if named else DEFAULT_COMMAND
    listing = "\n".join(f"  {command:<22}{spec.help}" for command, spec in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog=f"agent-app-server {name}" if named else "agent-app-server",
        description=f"Codex App Server protocol server (wire-compatible with codex app-server {PROTOCOL_VERSION}).",
        epilog=None if named else f"commands (default: {DEFAULT_COMMAND}):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"agent-app-server {__version__}")
    module = importlib.import_module(COMMANDS[name].module)
    module.add_arguments(parser)
    parser.set_defaults(command=name)
    args = parser.parse_args(argv[1:] if named else argv)
    code: int = module.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
