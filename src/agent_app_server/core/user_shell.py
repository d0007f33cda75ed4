"""The user's own shell commands in a thread (``thread/shellCommand``, the TUI's ``!cmd``).

Owns: running the command in the thread's cwd with the user's login shell, unsandboxed;
recording it as a ``commandExecution`` item with ``source: "userShell"`` (output streamed as
deltas); the record the model later sees of it; and which turn it belongs to — the running turn
if there is one (as the reference), else a turn of its own that calls no model.
Layer: core (uses ``core.turns`` and ``core.process_runner``).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import process_runner
from .ids import uuid7
from .instructions import user_message
from .tools.exec import command_ended, command_item
from .turns import TurnRunner

if TYPE_CHECKING:
    from .threads import LoadedThread
    from .turns import TurnEngine

__all__ = ["DEFAULT_TIMEOUT_MS", "UserShell", "UserShellTurn", "shell_record", "user_shell_argv"]

#: How long a ``!cmd`` may run when the client sets no timeout.
DEFAULT_TIMEOUT_MS = 60 * 60 * 1000
#: How much of a user shell command's output the model sees (head and tail kept).
MODEL_OUTPUT_LIMIT = 40_000

History = list[tuple[str, Any]]


def user_shell_argv(command: str) -> list[str]:
    """The user's shell as a login shell, so aliases and PATH are the user's own."""
    shell = os.environ.get("SHELL") or "/bin/bash"
    if not os.path.exists(shell):
        shell = "/bin/sh"
    return [shell, "-lc", command]


def _model_output(output: str) -> str:
    if len(output) <= MODEL_OUTPUT_LIMIT:
        return output
    half = MODEL_OUTPUT_LIMIT // 2
    omitted = len(output) - 2 * half
    return f"{output[:half]}\n[... {omitted} characters of output omitted ...]\n{output[-half:]}"


def shell_record(command: str, exit_code: int, duration_s: float, output: str) -> dict[str, Any]:
    """What the model later sees of a ``!cmd`` (the reference's ``<user_shell_command>`` record)."""
    text = "\n".join(
        [
            "<user_shell_command>",
            "<command>",
            command,
            "</command>",
            "<result>",
            f"Exit code: {exit_code}",
            f"Duration: {duration_s:.4f} seconds",
            "Output:",
            _model_output(output),
            "</result>",
            "</user_shell_command>",
        ]
    )
    return user_message(text)


class UserShell:
    """``!cmd`` for every thread of one server."""

    def __init__(self, engine: TurnEngine) -> None:
        self._engine = engine
        #: Commands running inside another turn (kept referenced until they finish).
        self._in_turns: set[asyncio.Task[None]] = set()

    def start(self, thread: LoadedThread, command: str, timeout_ms: int) -> Callable[[], None]:
        """Prepare ``command`` in ``thread``; returns what starts it, to call once the reply is
        queued (its notifications follow the reply)."""
        active = thread.active
        if active is not None:
            return lambda: self._run_in_turn(active, command, timeout_ms)
        turn_id = uuid7()
        runner = UserShellTurn(
            engine=self._engine,
            thread=thread,
            turn_id=turn_id,
            input=[],
            root_turn_id=turn_id,
            command=command,
            timeout_ms=timeout_ms,
        )
        self._engine.activate(runner)
        return lambda: self._engine.launch(runner)

    def _run_in_turn(self, runner: TurnRunner, command: str, timeout_ms: int) -> None:
        task = asyncio.get_running_loop().create_task(_shell_in_turn(runner, command, timeout_ms))
        self._in_turns.add(task)
        task.add_done_callback(self._in_turns.discard)


async def _shell_in_turn(runner: TurnRunner, command: str, timeout_ms: int) -> None:
    history: History = []
    record = await run_user_shell(runner, command, timeout_ms, history)
    with contextlib.suppress(Exception):
        await runner.engine.record(runner, history, [record])


@dataclass
class UserShellTurn(TurnRunner):
    """A turn that only runs one ``!cmd`` (no model call), as the reference's user-shell task."""

    command: str = ""
    timeout_ms: int = DEFAULT_TIMEOUT_MS

    async def run(self) -> None:
        engine = self.engine
        history: History = []
        try:
            await self.begin()
            record = await run_user_shell(self, self.command, self.timeout_ms, history)
            await engine.record(self, history, [record])
        except asyncio.CancelledError:
            await self.finish("interrupted", history, None)
            raise
        await self.finish("completed", history, None)


async def run_user_shell(runner: TurnRunner, command: str, timeout_ms: int, history: History) -> dict[str, Any]:
    """Run ``command`` in the thread's cwd, unsandboxed, as a ``userShell`` item of ``runner``'s
    turn; returns the model-visible record."""
    thread = runner.thread
    argv = user_shell_argv(command)
    cwd = thread.settings.cwd
    item = command_item(uuid7(), argv, cwd, "userShell", [{"type": "unknown", "command": command}])
    runner.item_started(dict(item))
    started = time.monotonic()
    output = bytearray()
    exit_code = -1
    run: process_runner.ProcessRun | None = None
    try:
        run = await process_runner.spawn(
            argv, policy=process_runner.UNSANDBOXED, cwd=cwd, env=dict(os.environ), stdin=False
        )
        # Deltas are text: a UTF-8 sequence split between two reads is held back, not mangled.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        delta = {"threadId": thread.id, "turnId": runner.turn_id, "itemId": item["id"]}

        async def on_output(stream: str, data: bytes) -> None:
            output.extend(data)
            text = decoder.decode(data)
            if text:
                runner.emit("item/commandExecution/outputDelta", {**delta, "delta": text})

        run.start(on_output)
        exit_code, timed_out = await run.finish(timeout_ms / 1000)
        text = process_runner.output_text(output)
        if timed_out:
            text += f"\ncommand timed out after {timeout_ms} ms"
    except asyncio.CancelledError:
        if run is not None:
            await asyncio.shield(run.process.terminate())
        _complete_item(runner, item, -1, started, "command aborted by user", history)
        raise
    except OSError as exc:
        text = f"execution error: {exc}"
    finally:
        if run is not None:
            await asyncio.shield(run.close())
    _complete_item(runner, item, exit_code, started, text, history)
    return shell_record(command, exit_code, time.monotonic() - started, text)


def _complete_item(
    runner: TurnRunner, item: dict[str, Any], exit_code: int, started: float, text: str, history: History
) -> None:
    if item["status"] != "inProgress":
        return
    item.update(command_ended(exit_code, text, started))
    runner.item_completed(dict(item), history)
