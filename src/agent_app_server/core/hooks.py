"""Hooks that run: the command hooks of ``[hooks]`` (config.toml, and trusted projects' config),
executed at their events as the reference's are.

Owns: which handlers run for an event (a handler runs only when it is enabled and trusted — its
``[hooks.state."<key>"] trusted_hash`` equals the ``currentHash`` that ``hooks/list`` reports — and
its ``matcher`` matches), running each one (``/bin/sh -c COMMAND`` in the thread's cwd, the event
as one JSON object on stdin, its ``timeout`` enforced by killing its process group), the run
summaries clients see (``hook/started`` and ``hook/completed``) and the outcome the turn honours:
a block with its reason, context for the model, a rewritten tool input. A hook that fails (cannot
start, times out, exits non-zero, prints malformed JSON) is reported as ``failed`` and changes
nothing: a hook never crashes a turn.

Wire and stdin shapes follow the reference 0.169.0 as observed (docs/compatibility.md, ``hooks:run``).
Events run: ``SessionStart`` (a thread's first turn here), ``UserPromptSubmit``, ``PreToolUse`` and
``PostToolUse`` (shell commands, ``apply_patch``, MCP tools) and ``Stop``; ``async`` handlers and
the other handler types (``prompt``, ``agent``, ``mcpTool``) are listed but not run.
Layer: core (imports protocol, rpc, store).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .skills import list_hooks

#: Run ids start with the event's kebab-case name (``pre-tool-use:0:/path/config.toml:call_1``).
_RUN_ID_PREFIX = {
    "sessionStart": "session-start",
    "userPromptSubmit": "user-prompt-submit",
    "preToolUse": "pre-tool-use",
    "postToolUse": "post-tool-use",
    "stop": "stop",
}
#: The name a hook's stdin carries (``hook_event_name``), as in the config file.
_STDIN_EVENT_NAME = {
    "sessionStart": "SessionStart",
    "userPromptSubmit": "UserPromptSubmit",
    "preToolUse": "PreToolUse",
    "postToolUse": "PostToolUse",
    "stop": "Stop",
}
#: Events whose ``matcher`` is ignored (every handler of the event runs).
_UNMATCHED_EVENTS = frozenset({"userPromptSubmit", "stop"})
#: Events whose plain (non-JSON) stdout is context for the model.
_PLAIN_STDOUT_IS_CONTEXT = frozenset({"sessionStart", "userPromptSubmit"})
#: Events of the thread rather than of a turn.
_THREAD_SCOPED = frozenset({"sessionStart"})
#: Events a hook can block.
_BLOCKABLE = frozenset({"userPromptSubmit", "preToolUse", "postToolUse", "stop"})
#: What a hook may write before the rest is dropped (a runaway hook must not exhaust memory).
MAX_OUTPUT_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HookHandler:
    """One trusted, enabled command handler (from ``hooks/list``'s entries)."""

    event: str
    matcher: str | None
    command: str
    timeout_s: int
    status_message: str | None
    source_path: str
    source: str
    display_order: int

    def run_id(self, suffix: str | None) -> str:
        run_id = f"{_RUN_ID_PREFIX[self.event]}:{self.display_order}:{self.source_path}"
        return f"{run_id}:{suffix}" if suffix else run_id

    def matches(self, inputs: list[str]) -> bool:
        if self.event in _UNMATCHED_EVENTS or self.matcher in (None, "", "*"):
            return True
        try:
            pattern = re.compile(self.matcher)
        except re.error:
            return False  # reported by hooks/list; a broken matcher matches nothing
        return any(pattern.search(value) for value in inputs)


@dataclass(slots=True)
class HookOutcome:
    """What the handlers of one event decided, in configured order."""

    #: The first blocking reason (the event's action does not happen).
    block_reason: str | None = None
    #: Every blocking reason with the run that gave it (``Stop`` continues with each of them).
    blocks: list[tuple[str, str]] = field(default_factory=list)
    #: Text for the model, as developer messages.
    contexts: list[str] = field(default_factory=list)
    #: A ``PreToolUse`` rewrite of the tool's input (the last handler to finish wins).
    updated_input: Any = None


#: Emits ``hook/started`` / ``hook/completed`` params (``{"run": …, "turnId": …}``; the caller adds the thread).
Announce = Callable[[str, dict[str, Any]], None]


def load_handlers(codex_home: Path, cwd: Path) -> list[HookHandler]:
    """The handlers that may run for a thread in ``cwd`` (blocking: call off the event loop)."""
    entries, _warnings, _errors = list_hooks(codex_home, cwd)
    handlers = []
    for entry in entries:
        if (
            entry.get("handlerType") != "command"
            or entry.get("async")
            or not entry.get("enabled")
            or entry.get("trustStatus") != "trusted"
            or entry.get("eventName") not in _RUN_ID_PREFIX
        ):
            continue
        handlers.append(
            HookHandler(
                event=entry["eventName"],
                matcher=entry.get("matcher"),
                command=entry["command"],
                timeout_s=int(entry["timeoutSec"]),
                status_message=entry.get("statusMessage"),
                source_path=entry["sourcePath"],
                source=entry["source"],
                display_order=int(entry["displayOrder"]),
            )
        )
    return handlers


class Hooks:
    """The hooks of one turn: run an event's handlers and report each run."""

    def __init__(
        self,
        handlers: list[HookHandler],
        announce: Announce,
        *,
        session_id: str,
        cwd: str,
        model: str,
        permission_mode: str,
    ) -> None:
        self._handlers = handlers
        self._announce = announce
        self._session_id = session_id
        self._cwd = cwd
        self._model = model
        self._permission_mode = permission_mode

    def wants(self, event: str) -> bool:
        return any(handler.event == event for handler in self._handlers)

    async def run(
        self,
        event: str,
        fields: dict[str, Any],
        *,
        turn_id: str | None,
        matcher_inputs: list[str] | None = None,
        run_suffix: str | None = None,
    ) -> HookOutcome:
        """Run the event's matching handlers concurrently; their summaries and decisions come back
        in configured order. ``turn_id`` is announced with each run; thread-scoped events
        (``SessionStart``) do not put it on the hook's stdin."""
        outcome = HookOutcome()
        selected = [h for h in self._handlers if h.event == event and h.matches(matcher_inputs or [])]
        if not selected:
            return outcome
        # The reference's field order: a hook that reads its stdin with a line-oriented tool sees the same text.
        payload: dict[str, Any] = {"session_id": self._session_id}
        if event not in _THREAD_SCOPED:
            payload["turn_id"] = turn_id
        payload.update(
            transcript_path=None,
            cwd=self._cwd,
            hook_event_name=_STDIN_EVENT_NAME[event],
            model=self._model,
            permission_mode=self._permission_mode,
        )
        payload.update(fields)
        stdin = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        finished: list[int] = []
        results = await asyncio.gather(
            *(self._run_one(h, stdin, turn_id, run_suffix, index, finished) for index, h in enumerate(selected))
        )
        rewrites: list[tuple[int, Any]] = []
        for index, (run_id, parsed) in enumerate(results):
            if parsed.block_reason is not None:
                outcome.blocks.append((parsed.block_reason, run_id))
                if outcome.block_reason is None:
                    outcome.block_reason = parsed.block_reason
            outcome.contexts.extend(parsed.contexts)
            if parsed.updated_input is not None:
                rewrites.append((finished.index(index), parsed.updated_input))
        if rewrites and outcome.block_reason is None:
            outcome.updated_input = max(rewrites, key=lambda rewrite: rewrite[0])[1]
        return outcome

    async def _run_one(
        self,
        handler: HookHandler,
        stdin: bytes,
        turn_id: str | None,
        suffix: str | None,
        index: int,
        finished: list[int],
    ) -> tuple[str, HookOutcome]:
        run_id = handler.run_id(suffix)
        summary: dict[str, Any] = {
            "id": run_id,
            "eventName": handler.event,
            "handlerType": "command",
            "executionMode": "sync",
            "scope": "thread" if handler.event in _THREAD_SCOPED else "turn",
            "sourcePath": handler.source_path,
            "source": handler.source,
            "displayOrder": handler.display_order,
            "status": "running",
            "statusMessage": handler.status_message,
            "startedAt": int(time.time()),
            "completedAt": None,
            "durationMs": None,
            "entries": [],
        }
        self._announce("hook/started", {"turnId": turn_id, "run": dict(summary)})
        started = time.monotonic()
        try:
            result = await _run_command(handler.command, stdin, self._cwd, handler.timeout_s)
            status, entries, parsed = _interpret(handler.event, result)
        finally:
            finished.append(index)
        summary.update(
            status=status,
            completedAt=int(time.time()),
            durationMs=int((time.monotonic() - started) * 1000),
            entries=entries,
        )
        self._announce("hook/completed", {"turnId": turn_id, "run": summary})
        return run_id, parsed


@dataclass(frozen=True, slots=True)
class _CommandResult:
    exit_code: int | None
    stdout: str
    stderr: str
    error: str | None = None


async def _run_command(command: str, stdin: bytes, cwd: str, timeout_s: int) -> _CommandResult:
    try:
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # The thread's cwd; one that vanished is reported as a failed hook, not a crash.
            cwd=cwd,
            # Its own process group: a timeout kills whatever the hook started too.
            start_new_session=True,
        )
    except OSError as exc:
        return _CommandResult(None, "", "", f"failed to start hook: {exc}")
    try:
        async with asyncio.timeout(timeout_s if timeout_s > 0 else None):
            stdout, stderr = await _communicate(process, stdin)
    except TimeoutError:
        _kill_group(process)
        await process.wait()
        return _CommandResult(None, "", "", f"hook timed out after {timeout_s}s")
    except asyncio.CancelledError:
        # The turn was interrupted: the hook goes with it.
        _kill_group(process)
        with contextlib.suppress(Exception):
            await asyncio.shield(process.wait())
        raise
    return _CommandResult(process.returncode, stdout, stderr)


async def _communicate(process: asyncio.subprocess.Process, stdin: bytes) -> tuple[str, str]:
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None

    async def feed() -> None:
        assert process.stdin is not None
        # A hook that never reads its input must not block us.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(stdin)
            await process.stdin.drain()
        process.stdin.close()

    async def drain(stream: asyncio.StreamReader) -> str:
        data = await stream.read(MAX_OUTPUT_BYTES)
        while await stream.read(65536):  # keep the pipe flowing, drop the rest
            pass
        return data.decode("utf-8", errors="replace")

    _, stdout, stderr = await asyncio.gather(feed(), drain(process.stdout), drain(process.stderr))
    await process.wait()
    return stdout, stderr


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _interpret(event: str, result: _CommandResult) -> tuple[str, list[dict[str, str]], HookOutcome]:
    """(status, entries, outcome) of one run, as the reference reads a hook's exit and output."""
    outcome = HookOutcome()
    entries: list[dict[str, str]] = []
    if result.error is not None:
        return "failed", [{"kind": "error", "text": result.error}], outcome
    if result.exit_code == 2 and event in _BLOCKABLE:
        stderr = result.stderr.strip()
        if not stderr:
            name = _STDIN_EVENT_NAME[event]
            message = f"{name} hook exited with code 2 but did not write a blocking reason to stderr"
            return "failed", [{"kind": "error", "text": message}], outcome
        outcome.block_reason = stderr
        return "blocked", [{"kind": "feedback", "text": stderr}], outcome
    if result.exit_code != 0:
        return "failed", [{"kind": "error", "text": f"hook exited with code {result.exit_code}"}], outcome
    stdout = result.stdout.strip()
    if not stdout:
        return "completed", entries, outcome
    try:
        parsed = json.loads(stdout)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        if stdout.startswith(("{", "[")):
            return "failed", [{"kind": "error", "text": f"hook returned invalid {_kebab(event)} JSON output"}], outcome
        if event in _PLAIN_STDOUT_IS_CONTEXT:
            outcome.contexts.append(stdout)
            entries.append({"kind": "context", "text": stdout})
        return "completed", entries, outcome
    status = "completed"
    system_message = parsed.get("systemMessage")
    if isinstance(system_message, str):
        entries.append({"kind": "warning", "text": system_message})
    specific = parsed.get("hookSpecificOutput")
    specific = specific if isinstance(specific, dict) else {}
    context = specific.get("additionalContext")
    if isinstance(context, str) and context:
        outcome.contexts.append(context)
        entries.append({"kind": "context", "text": context})
    reason: str | None = None
    if parsed.get("decision") == "block" and event in _BLOCKABLE:
        given = parsed.get("reason")
        reason = given if isinstance(given, str) and given else f"{_STDIN_EVENT_NAME[event]} hook blocked (no reason)"
    if event == "preToolUse":
        decision = specific.get("permissionDecision")
        if decision == "deny":
            why = specific.get("permissionDecisionReason")
            reason = why if isinstance(why, str) and why else "denied by a PreToolUse hook"
        elif reason is None and "updatedInput" in specific:
            outcome.updated_input = specific["updatedInput"]
    if reason is not None:
        status = "blocked"
        outcome.block_reason = reason
        entries.append({"kind": "feedback", "text": reason})
    return status, entries, outcome


def _kebab(event: str) -> str:
    return _RUN_ID_PREFIX[event]
