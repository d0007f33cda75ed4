"""``agent-app-server run [--remote URL] [--sandbox MODE] [--timeout S] [--junit FILE] -- CMD… [-- CMD…]``:
the CI orchestrator of the protocol's documentation.

Owns: running each command with ``command/exec`` outside any thread, under the sandbox, its
output streamed to our stdout/stderr as it comes; our exit code is the command's (with several
commands, all run and the first non-zero code wins); ``--junit`` writes a JUnit XML report, one
test case per command with its output attached. Embedded server unless ``--remote``.
Layer: commands (client and embedded).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from ._connect import (
    EXIT_USAGE,
    add_common_flags,
    fail_usage,
    open_client,
    run_to_exit_code,
    sandbox_policy,
    working_directory,
)

if TYPE_CHECKING:
    from ..client import AsyncClient, Subscription

#: The server's exit code for a command it killed at the timeout.
TIMEOUT_EXIT_CODE = 124


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run each command (separate several with --) through command/exec, sandboxed. "
        "The exit code is the command's (the first non-zero one); --junit writes a JUnit XML report."
    )
    add_common_flags(parser, "working directory of the commands")
    parser.add_argument("--timeout", type=float, metavar="S", help="kill a command after S seconds (exit code 124)")
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report: one test case per command")
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command(s), after --")


def split_commands(argv: list[str]) -> list[list[str]]:
    """``["--", "a", "1", "--", "b"]`` → ``[["a", "1"], ["b"]]``."""
    commands: list[list[str]] = [[]]
    for word in argv[1:] if argv[:1] == ["--"] else argv:
        if word == "--":
            commands.append([])
        else:
            commands[-1].append(word)
    return [command for command in commands if command]


@dataclass
class CommandResult:
    argv: list[str]
    exit_code: int = 0
    seconds: float = 0.0
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    error: str | None = None


def run(args: argparse.Namespace) -> int:
    commands = split_commands(args.argv)
    if not commands:
        return fail_usage("no command given; put it after --, e.g. agent-app-server run -- make test")
    if args.timeout is not None and args.timeout <= 0:
        return fail_usage(f"--timeout must be positive, got {args.timeout}")
    return run_to_exit_code(_run_all(args, commands))


async def _run_all(args: argparse.Namespace, commands: list[list[str]]) -> int:
    from ..client import ClientError, ClientOptions

    cwd = working_directory(args)
    results = [CommandResult(command) for command in commands]
    by_process = {f"run-{os.getpid()}-{index}": result for index, result in enumerate(results)}
    client = await open_client(args, ClientOptions(client_name="agent_app_server_run"))
    streaming = asyncio.get_running_loop().create_task(_stream_output(client.events(), by_process))
    try:
        for process_id, result in by_process.items():
            started = time.monotonic()
            try:
                await _run_one(client, args, cwd, process_id, result)
            except ClientError as exc:
                result.error = str(exc)
                print(f"error: {' '.join(result.argv)}: {exc}", file=sys.stderr)
            result.seconds = time.monotonic() - started
    finally:
        # Closing ends the subscription after what already arrived: no output is cut off.
        await client.aclose()
        await streaming
    if args.junit:
        write_junit(args.junit, results)
    if any(result.error is not None for result in results):
        return EXIT_USAGE
    return next((result.exit_code for result in results if result.exit_code != 0), 0)


async def _run_one(
    client: AsyncClient, args: argparse.Namespace, cwd: str, process_id: str, result: CommandResult
) -> None:
    params: dict[str, Any] = {
        "command": result.argv,
        "process_id": process_id,
        "stream_stdout_stderr": True,
        "cwd": cwd,
    }
    policy = sandbox_policy(args.sandbox, cwd)
    if policy is not None:
        params["sandbox_policy"] = policy
    if args.timeout is not None:
        params["timeout_ms"] = int(args.timeout * 1000)
    response = await client.command_exec(**params)
    result.exit_code = response.exit_code
    # Output not streamed (e.g. a server that buffers) arrives in the response instead.
    for text, sink, out in ((response.stdout, result.stdout, sys.stdout), (response.stderr, result.stderr, sys.stderr)):
        if text:
            data = text.encode()
            sink.extend(data)
            out.buffer.write(data)
            out.flush()
    if response.exit_code == TIMEOUT_EXIT_CODE and args.timeout is not None:
        print(f"run: `{' '.join(result.argv)}` was stopped after --timeout {args.timeout:g}s", file=sys.stderr)


async def _stream_output(events: Subscription, by_process: dict[str, CommandResult]) -> None:
    async for event in events:
        if event.method != "command/exec/outputDelta":
            continue
        result = by_process.get(event.params.get("processId"))
        if result is None:
            continue
        data = base64.b64decode(event.params.get("deltaBase64") or "")
        stderr = event.params.get("stream") == "stderr"
        (result.stderr if stderr else result.stdout).extend(data)
        out = sys.stderr if stderr else sys.stdout
        out.buffer.write(data)
        out.flush()


def write_junit(path: str, results: list[CommandResult]) -> None:
    """JUnit XML as CI systems read it (the Jenkins/Surefire schema: testsuites > testsuite >
    testcase with failure/error, system-out and system-err)."""
    failures = sum(1 for r in results if r.error is None and r.exit_code != 0)
    errors = sum(1 for r in results if r.error is not None)
    total = sum(r.seconds for r in results)
    suites = ElementTree.Element(
        "testsuites", name="agent-app-server run", tests=str(len(results)), failures=str(failures), errors=str(errors)
    )
    suites.set("time", f"{total:.3f}")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name="agent-app-server run",
        tests=str(len(results)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{total:.3f}",
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
    )
    for result in results:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            name=" ".join(result.argv),
            classname="agent-app-server.run",
            time=f"{result.seconds:.3f}",
        )
        if result.error is not None:
            ElementTree.SubElement(case, "error", message=result.error, type="ClientError").text = result.error
        elif result.exit_code != 0:
            message = f"exit code {result.exit_code}"
            ElementTree.SubElement(case, "failure", message=message, type="ExitCode").text = message
        ElementTree.SubElement(case, "system-out").text = _xml_text(result.stdout)
        ElementTree.SubElement(case, "system-err").text = _xml_text(result.stderr)
    ElementTree.indent(suites)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _xml_text(data: bytes | bytearray) -> str:
    """Output as XML 1.0 can carry it: invalid UTF-8 replaced, control characters other than tab
    and newlines dropped (XML cannot represent them at all)."""
    text = bytes(data).decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)
