"""Unified exec: the ``exec_command`` and ``write_stdin`` tools.

Owns: running a model's shell command under the thread's sandbox (pipes or a PTY), streaming its
output as ``item/commandExecution/outputDelta``, waiting up to ``yield_time_ms`` and then either
reporting the exit code or keeping the process as a session the model polls and writes to with
``write_stdin``; the approval and retry-without-sandbox flow around each attempt; the bounded
text the model gets back (the reference's "Chunk ID / Wall time / Process exited with code …"
format); and killing a command's whole process tree when its turn is interrupted.

Layer: core (uses ``core.process_runner`` and ``core.sandbox``).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import secrets
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import sandbox
from ..process_runner import UNSANDBOXED, ProcessRun, spawn
from . import approvals
from .command_actions import _split, command_actions
from .output import DEFAULT_MAX_OUTPUT_TOKENS, MAX_OUTPUT_TOKENS_CAP, HeadTailBuffer, approx_tokens, truncate_for_model

if TYPE_CHECKING:
    from ..turns import TurnRunner
    from .router import ThreadTools

DEFAULT_YIELD_MS = 10_000
MIN_YIELD_MS = 250
MAX_YIELD_MS = 30_000
WRITE_YIELD_MS = 250
POLL_MIN_YIELD_MS = 5_000
POLL_MAX_YIELD_MS = 300_000
#: Running sessions a thread may keep; starting one more ends the oldest.
MAX_SESSIONS = 64

#: Set for every command: tools must not page or colour what the model reads.
COMMAND_ENV = {"NO_COLOR": "1", "PAGER": "cat", "GIT_PAGER": "cat", "GH_PAGER": "cat"}


def default_shell() -> str:
    return os.environ.get("SHELL") or "/bin/bash"


def _int_arg(args: dict[str, Any], name: str, default: int) -> int:
    value = args.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def _resolve(cwd: str, path: str) -> str:
    return os.path.normpath(os.path.join(cwd, path))


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def command_item(item_id: str, argv: list[str], cwd: str, source: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``commandExecution`` item as it starts (``inProgress``)."""
    return {
        "type": "commandExecution",
        "id": item_id,
        "command": shlex.join(argv),
        "cwd": cwd,
        "processId": None,
        "source": source,
        "status": "inProgress",
        "commandActions": actions,
        "aggregatedOutput": None,
        "exitCode": None,
        "durationMs": None,
    }


def command_ended(exit_code: int | None, output: str, started: float) -> dict[str, Any]:
    """The fields of a ``commandExecution`` item that ended (``started``: its ``time.monotonic()``)."""
    return {
        "status": "completed" if exit_code == 0 else "failed",
        "exitCode": exit_code,
        "aggregatedOutput": output or None,
        "durationMs": int((time.monotonic() - started) * 1000),
    }


@dataclass(eq=False)
class ExecSession:
    """One command the model started; lives on as a session while it runs."""

    run: ProcessRun
    runner: TurnRunner
    item: dict[str, Any]
    sandboxed: bool
    started: float
    pending: bytearray = field(default_factory=bytearray)
    aggregated: HeadTailBuffer = field(default_factory=HeadTailBuffer)
    item_completed: bool = False
    watcher: asyncio.Task[None] | None = None

    @property
    def id(self) -> int:
        return self.run.pid

    @property
    def exit_code(self) -> int | None:
        return self.run.exit_code

    def start_reader(self) -> None:
        runner = self.runner
        thread_id = runner.thread_id
        delta = {"threadId": thread_id, "turnId": runner.turn_id, "itemId": self.item["id"]}
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        emit = runner.engine.sink.emit

        async def on_output(stream: str, data: bytes) -> None:
            self.pending += data
            self.aggregated.append(data)
            text = decoder.decode(data)
            if text:
                emit(thread_id, "item/commandExecution/outputDelta", {**delta, "delta": text})

        self.run.start(on_output)

    def take_output(self) -> str:
        data = bytes(self.pending)
        self.pending.clear()
        return data.decode("utf-8", "replace")

    def complete_item(self) -> None:
        """Emit the item's ``item/completed`` once, with the final exit code and output."""
        if self.item_completed:
            return
        self.item_completed = True
        ended = command_ended(self.exit_code, self.aggregated.text(), self.started)
        item = {**self.item, **ended, "processId": str(self.id), "source": "unifiedExecStartup"}
        runner = self.runner
        if runner.thread.active is runner:
            runner.item_completed(item)
        else:
            # The turn ended while the command ran on: tell clients, nothing left to persist into.
            runner.emit(
                "item/completed",
                {"item": item, "threadId": runner.thread_id, "turnId": runner.turn_id, "completedAtMs": _now_ms()},
            )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def format_output(*, output: str, wall_s: float, exit_code: int | None, session_id: int | None, max_tokens: int) -> str:
    """The text the model gets for one exec_command / write_stdin call."""
    lines = [f"Chunk ID: {secrets.token_hex(3)}", f"Wall time: {wall_s:.4f} seconds"]
    if exit_code is not None:
        lines.append(f"Process exited with code {exit_code}")
    if session_id is not None:
        lines.append(f"Process running with session ID {session_id}")
    lines.append(f"Original token count: {approx_tokens(output)}")
    lines.append("Output:")
    lines.append(truncate_for_model(output, max_tokens))
    return "\n".join(lines)


@dataclass(frozen=True)
class _Command:
    """The checked arguments of one ``exec_command`` call."""

    cmd: str
    argv: list[str]
    cwd: str
    tty: bool
    yield_s: float
    max_tokens: int
    #: Asked to run outside the sandbox, and the approval policy lets the user grant that.
    escalated: bool
    justification: str | None


async def _command_of(args: dict[str, Any], thread_cwd: str, approval_policy: Any) -> _Command | str:
    """The call's arguments, or the text telling the model what is wrong with them."""
    cmd = args.get("cmd")
    if not isinstance(cmd, str) or not cmd.strip():
        return "exec_command failed: `cmd` is required and must be a non-empty shell command string"
    workdir = args.get("workdir")
    cwd = _resolve(thread_cwd, workdir) if isinstance(workdir, str) and workdir else thread_cwd
    if not await asyncio.to_thread(os.path.isdir, cwd):
        return f"exec_command failed: workdir {cwd} is not an existing directory"
    shell = args.get("shell") if isinstance(args.get("shell"), str) and args.get("shell") else default_shell()
    login = args.get("login") is not False
    justification = args.get("justification")
    return _Command(
        cmd=cmd,
        argv=[str(shell), "-lc" if login else "-c", cmd],
        cwd=cwd,
        tty=args.get("tty") is True,
        yield_s=_clamp(_int_arg(args, "yield_time_ms", DEFAULT_YIELD_MS), MIN_YIELD_MS, MAX_YIELD_MS) / 1000,
        max_tokens=_clamp(_int_arg(args, "max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS), 1, MAX_OUTPUT_TOKENS_CAP),
        escalated=args.get("sandbox_permissions") == "require_escalated"
        and approvals.escalation_allowed(approval_policy),
        justification=justification if isinstance(justification, str) else None,
    )


class _Approval:
    """One call's ``commandExecution`` item and its approval, asked at most twice: before it runs
    and before it is retried without the sandbox."""

    def __init__(self, runner: TurnRunner, state: ThreadTools, call_id: str, command: _Command) -> None:
        self.runner = runner
        self.state = state
        self.command = command
        self.actions = command_actions(command.cmd, command.cwd)
        simple = _split(command.cmd)
        self.amendment = list(simple[0][0]) if simple and len(simple[0][0]) > 0 else list(command.argv)
        self.item = command_item(call_id, command.argv, command.cwd, "agent", self.actions)
        self.item_started = False
        self.approved = False
        self._asked_at_ms = _now_ms()

    async def ask(self, reason: str | None) -> str | None:
        """Ask the client; None when granted, else the text for the model."""
        runner, item = self.runner, self.item
        approvals.set_waiting(runner, True)
        if not self.item_started:
            runner.item_started(item)
            self.item_started = True
        params: dict[str, Any] = {
            "kind": "command",
            "threadId": runner.thread_id,
            "turnId": runner.turn_id,
            "itemId": item["id"],
            "startedAtMs": self._asked_at_ms,
            "environmentId": "local",
        }
        if reason:
            params["reason"] = reason
        params.update(
            command=item["command"],
            cwd=self.command.cwd,
            commandActions=self.actions,
            proposedExecpolicyAmendment=self.amendment,
            availableDecisions=approvals.command_decisions(self.amendment),
        )
        decision, detail = await approvals.ask(runner, "item/commandExecution/requestApproval", params)
        if decision in ("decline", "cancel"):
            runner.item_completed(dict(item, status="declined"))
            if decision == "cancel":
                raise approvals.ApprovalCancelled()
            return approvals.COMMAND_REJECTED
        if decision == "acceptForSession":
            self.state.approvals.commands.add(tuple(self.command.argv))
        elif decision == "acceptWithExecpolicyAmendment" and detail:
            self.state.approvals.prefixes.append(tuple(detail))
        self.approved = True
        return None


class UnifiedExec:
    """``exec_command`` / ``write_stdin`` for every thread; sessions live in each thread's tools state."""

    def __init__(self, *, read_only_paths: list[str] | None = None) -> None:
        self._read_only_paths = read_only_paths or []
        #: Commands whose sandboxed run looked denied (``/metrics``).
        self.sandbox_denials = 0
        self._all: set[ExecSession] = set()

    # ------------------------------------------------------------------ exec_command

    async def exec_command(self, runner: TurnRunner, call_id: str, args: dict[str, Any], state: ThreadTools) -> str:
        settings = runner.thread.settings
        policy = settings.approval_policy
        command = await _command_of(args, settings.cwd, policy)
        if isinstance(command, str):
            return command
        approval = _Approval(runner, state, call_id, command)
        if approvals.command_needs_approval(policy, escalated=command.escalated):
            if state.approvals.command_approved(command.argv, approval.amendment):
                approval.approved = True
            else:
                refused = await approval.ask(command.justification if command.escalated else None)
                if refused is not None:
                    return refused
        use_sandbox = sandbox.needs_sandbox(settings.sandbox_policy) and not (command.escalated and approval.approved)

        t0 = time.monotonic()
        session = await self._attempt(runner, command, approval, use_sandbox=use_sandbox, state=state)
        if isinstance(session, str):
            return session
        denied = (
            session.run.done.is_set()
            and session.sandboxed
            and sandbox.looks_like_sandbox_denial(session.exit_code, session.aggregated.text())
        )
        if denied:
            self.sandbox_denials += 1
        if denied and approvals.retry_without_sandbox(policy):
            if not approval.approved:
                refused = await approval.ask(approvals.RETRY_REASON)
                if refused is not None:
                    await self._discard(session, state)
                    return refused
            await self._discard(session, state)
            session = await self._attempt(runner, command, approval, use_sandbox=False, state=state, started=t0)
            if isinstance(session, str):
                return session
        return self._report(session, state, time.monotonic() - t0, command.max_tokens)

    async def _attempt(
        self,
        runner: TurnRunner,
        command: _Command,
        approval: _Approval,
        *,
        use_sandbox: bool,
        state: ThreadTools,
        started: float | None = None,
    ) -> ExecSession | str:
        """Run the command once and wait up to its yield time; the session, or the text for the
        model when it could not start."""
        item = approval.item
        session = await self._spawn(runner, item, command, use_sandbox=use_sandbox, state=state)
        if isinstance(session, str):
            if not approval.item_started:
                runner.item_started(item)
            runner.item_completed(dict(item, status="failed", aggregatedOutput=session, exitCode=None))
            return f"exec_command failed: {session}"
        if not approval.item_started:
            item["processId"] = str(session.id)
            item["source"] = "unifiedExecStartup"
            runner.item_started(item)
            approval.item_started = True
        if started is not None:
            session.started = started
        session.start_reader()
        await self._wait(session, command.yield_s)
        return session

    async def _spawn(
        self, runner: TurnRunner, item: dict[str, Any], command: _Command, *, use_sandbox: bool, state: ThreadTools
    ) -> ExecSession | str:
        settings = runner.thread.settings
        tty = command.tty
        env = {**os.environ, **COMMAND_ENV, "TERM": "xterm-256color" if tty else "dumb"}
        policy = settings.sandbox_policy if use_sandbox else UNSANDBOXED
        try:
            run = await spawn(
                command.argv,
                policy=policy,
                cwd=command.cwd,
                env=env,
                tty=tty,
                sandbox_cwd=settings.cwd,
                read_only_paths=self._read_only_paths,
            )
        except sandbox.SandboxUnavailable as exc:
            return str(exc)
        except OSError as exc:
            return f"could not start {command.argv[0]}: {exc.strerror or exc}"
        session = ExecSession(run, runner, item, sandboxed=use_sandbox, started=time.monotonic())
        self._all.add(session)
        state.sessions[session.id] = session
        state.turn_sessions.setdefault(runner.turn_id, set()).add(session.id)
        if len(state.sessions) > MAX_SESSIONS:
            oldest = next(iter(state.sessions))
            victim = state.sessions.pop(oldest)
            asyncio.get_running_loop().create_task(self._end(victim))
        return session

    async def _wait(self, session: ExecSession, timeout_s: float) -> None:
        """Wait for output/exit; on cancellation (turn interrupted) the process tree dies."""
        try:
            await session.run.wait(timeout_s)
        except asyncio.CancelledError:
            await asyncio.shield(self._end(session))
            raise

    async def _discard(self, session: ExecSession, state: ThreadTools) -> None:
        state.sessions.pop(session.id, None)
        session.item_completed = True
        await self._end(session)

    async def _end(self, session: ExecSession) -> None:
        await session.run.kill(grace_s=0.5)
        self._all.discard(session)
        session.complete_item()

    def _report(self, session: ExecSession, state: ThreadTools, wall_s: float, max_tokens: int) -> str:
        output = session.take_output()
        if session.run.done.is_set():
            state.sessions.pop(session.id, None)
            self._all.discard(session)
            session.complete_item()
            return format_output(
                output=output, wall_s=wall_s, exit_code=session.exit_code, session_id=None, max_tokens=max_tokens
            )
        if session.watcher is None:
            session.watcher = asyncio.get_running_loop().create_task(self._watch(session))
        return format_output(output=output, wall_s=wall_s, exit_code=None, session_id=session.id, max_tokens=max_tokens)

    async def _watch(self, session: ExecSession) -> None:
        """A session left running: complete its item when it exits (the model may poll later)."""
        await session.run.done.wait()
        session.complete_item()
        self._all.discard(session)

    # ------------------------------------------------------------------ write_stdin

    async def write_stdin(self, runner: TurnRunner, args: dict[str, Any], state: ThreadTools) -> str:
        raw_id = args.get("session_id")
        session = state.sessions.get(int(raw_id)) if isinstance(raw_id, int | float) else None
        if session is None:
            return f"write_stdin failed: Unknown process id {raw_id}"
        chars = args.get("chars") if isinstance(args.get("chars"), str) else ""
        max_tokens = _clamp(_int_arg(args, "max_output_tokens", DEFAULT_MAX_OUTPUT_TOKENS), 1, MAX_OUTPUT_TOKENS_CAP)
        t0 = time.monotonic()
        if chars:
            yield_ms = _clamp(_int_arg(args, "yield_time_ms", WRITE_YIELD_MS), MIN_YIELD_MS, MAX_YIELD_MS)
            runner.emit(
                "item/commandExecution/terminalInteraction",
                {
                    "threadId": runner.thread_id,
                    "turnId": runner.turn_id,
                    "itemId": session.item["id"],
                    "processId": str(session.id),
                    "stdin": chars,
                },
            )
            if not session.run.done.is_set():
                with contextlib.suppress(BrokenPipeError):
                    await session.run.process.write(chars.encode("utf-8"))
        else:
            yield_ms = _clamp(_int_arg(args, "yield_time_ms", POLL_MIN_YIELD_MS), POLL_MIN_YIELD_MS, POLL_MAX_YIELD_MS)
        await self._wait(session, yield_ms / 1000)
        return self._report(session, state, time.monotonic() - t0, max_tokens)

    # ------------------------------------------------------------------ background terminals

    def running(self, state: ThreadTools) -> list[ExecSession]:
        """The thread's commands still running after the call that started them returned."""
        return [session for session in state.sessions.values() if not session.run.done.is_set()]

    async def terminate(self, state: ThreadTools, session_id: int) -> bool:
        """End one of the thread's running commands (its item completes); False if none runs."""
        session = state.sessions.get(session_id)
        if session is None or session.run.done.is_set():
            return False
        state.sessions.pop(session_id, None)
        for started in state.turn_sessions.values():
            started.discard(session_id)
        await self._end(session)
        return True

    # ------------------------------------------------------------------ lifecycle

    async def kill_turn(self, state: ThreadTools, turn_id: str) -> None:
        """The turn was interrupted: everything it started dies."""
        for session_id in state.turn_sessions.pop(turn_id, set()):
            session = state.sessions.pop(session_id, None)
            if session is not None:
                await self._end(session)

    def forget_turn(self, state: ThreadTools, turn_id: str) -> None:
        state.turn_sessions.pop(turn_id, None)

    async def close(self) -> None:
        """Server shutdown: no command outlives the server."""
        sessions = list(self._all)
        self._all.clear()
        await asyncio.gather(*(session.run.kill(grace_s=0.5) for session in sessions), return_exceptions=True)
