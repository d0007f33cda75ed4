"""``agent-app-server exec [--remote URL] [--json] [--sandbox MODE] [--approval-policy P] [--cwd DIR] PROMPT``:
one agent turn, headless.

Owns: the turn's presentation (progress on stderr, a live line per running command with its
elapsed time; the final agent message on stdout, or ``--json``: one JSON event per line) and the
exit codes: 0 completed, 1 the turn failed (its message and ``codexErrorInfo`` on stderr),
2 usage or connection error, 3 an approval was needed and nobody could give it (naming what).
Runs an embedded server unless ``--remote``. Layer: commands (client and embedded).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from ._connect import EXIT_USAGE, add_common_flags, fail_usage, open_client, run_to_exit_code, working_directory

if TYPE_CHECKING:
    from ..client import AsyncClient, Event

EXIT_OK = 0
EXIT_TURN_FAILED = 1
EXIT_APPROVAL_NEEDED = 3
APPROVAL_POLICIES = ("untrusted", "on-failure", "on-request", "never")
#: How often the live line of a running command is redrawn (only when stderr is a terminal).
TICK_S = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run one agent turn without a UI. Exit codes: 0 completed, 1 turn failed, "
        "2 usage or connection error, 3 an approval was needed and nobody could give it."
    )
    add_common_flags(parser, "working directory of the agent")
    parser.add_argument("--json", action="store_true", help="print every event as one JSON object per line")
    parser.add_argument(
        "--approval-policy",
        choices=APPROVAL_POLICIES,
        default="never",
        metavar="P",
        help=f"when to ask for approval ({', '.join(APPROVAL_POLICIES)}; default never: nobody is there to ask)",
    )
    parser.add_argument("prompt", metavar="PROMPT", help="the prompt, or - to read it from stdin")


def run(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return fail_usage("the prompt is empty; pass it as an argument or on stdin with -")
    return run_to_exit_code(_exec(args, prompt))


class _Progress:
    """Stderr: one line per command as it starts and ends; on a terminal a live line shows the
    running command's elapsed time."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._running: dict[str, tuple[str, float]] = {}
        self._ticker: asyncio.Task[None] | None = None

    def started(self, item_id: str, command: str) -> None:
        self._running[item_id] = (command, time.monotonic())
        if self._live:
            if self._ticker is None:
                self._ticker = asyncio.get_running_loop().create_task(self._tick())
        else:
            self._line(f"running: {command}")

    def completed(self, item_id: str, item: dict[str, Any]) -> None:
        command, started = self._running.pop(item_id, (str(item.get("command")), time.monotonic()))
        exit_code = item.get("exitCode")
        mark = "ok" if exit_code == 0 else "failed" if exit_code is not None else str(item.get("status"))
        self._line(f"{mark}: {command} (exit {exit_code}, {time.monotonic() - started:.1f}s)")

    def note(self, text: str) -> None:
        self._line(text)

    def _line(self, text: str) -> None:
        prefix = "\r\x1b[K" if self._live else ""
        self._out.write(f"{prefix}{text}\n")
        self._out.flush()

    async def _tick(self) -> None:
        while True:
            if self._running:
                command, started = next(reversed(self._running.values()))
                self._out.write(f"\r\x1b[Krunning: {command} ({time.monotonic() - started:.1f}s)")
                self._out.flush()
            await asyncio.sleep(TICK_S)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._out.write("\r\x1b[K")
            self._out.flush()


async def _exec(args: argparse.Namespace, prompt: str) -> int:
    from ..client import ClientError, ClientOptions

    cwd = working_directory(args)
    client = await open_client(args, ClientOptions(client_name="agent_app_server_exec"))
    try:
        return await _run_turn(client, args, prompt, cwd)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        await client.aclose()


async def _run_turn(client: AsyncClient, args: argparse.Namespace, prompt: str, cwd: str) -> int:
    refused: list[str] = []

    async def nobody_to_ask_command(params: Any) -> str:
        refused.append(f"run `{params.command}`" if params.command else f"run command {params.item_id}")
        return "cancel"

    async def nobody_to_ask_patch(params: Any) -> str:
        refused.append(f"apply the file change {params.item_id}")
        return "cancel"

    client.on_command_approval(nobody_to_ask_command)
    client.on_file_change_approval(nobody_to_ask_patch)
    started = time.monotonic()
    fields: dict[str, Any] = {"cwd": cwd, "approval_policy": args.approval_policy}
    if args.sandbox:
        fields["sandbox"] = args.sandbox
    thread = await client.start_thread(**fields)
    turn = await thread.turn(prompt)
    progress = _Progress(sys.stderr)
    try:
        async for event in turn.events():
            if args.json:
                sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                _show(progress, event)
    finally:
        await progress.close()
    completed = await turn.wait()
    elapsed = time.monotonic() - started
    if refused:
        print(
            f"error: an approval was needed to {refused[0]}, and exec has nobody to ask; rerun with "
            "--approval-policy never (and a --sandbox that allows it) or use an interactive client",
            file=sys.stderr,
        )
        return EXIT_APPROVAL_NEEDED
    if completed.status == "completed":
        if not args.json:
            message = turn.final_message()
            if message is not None:
                sys.stdout.write(message if message.endswith("\n") else message + "\n")
                sys.stdout.flush()
            print(f"turn completed in {elapsed:.1f}s", file=sys.stderr)
        return EXIT_OK
    error = completed.error
    print(f"error: turn {completed.status}: {error.message if error else 'no error reported'}", file=sys.stderr)
    if error is not None:
        if error.additional_details:
            print(f"details: {error.additional_details}", file=sys.stderr)
        info = error.model_dump(mode="json", by_alias=True).get("codexErrorInfo")
        print(f"codexErrorInfo: {json.dumps(info)}", file=sys.stderr)
    return EXIT_TURN_FAILED


def _show(progress: _Progress, event: Event) -> None:
    params = event.params
    method = event.method
    if method in ("item/started", "item/completed"):
        item = params.get("item") or {}
        if item.get("type") != "commandExecution":
            return
        if method == "item/started":
            progress.started(str(item.get("id")), str(item.get("command")))
        else:
            progress.completed(str(item.get("id")), item)
    elif method == "error":
        error = params.get("error") or {}
        retry = " (retrying)" if params.get("willRetry") else ""
        progress.note(f"model error{retry}: {error.get('message')}")
