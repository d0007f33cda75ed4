"""Kill -9 an app server at chosen moments of a turn and check what survived the crash.

Owns: the crash scenarios (where in a turn the kill lands: before any output, mid-stream, after
each item, during an approval wait, during a running command, at the n-th notification), the
small stdio client that drives a server through them and kills it the moment it reads the
triggering message, and the check after each restart on the same CODEX_HOME:

* every item the client was told is complete (``item/completed``, including those still in the
  pipe when the process died) is in ``thread/read {includeTurns: true}``;
* the cut turn reads ``interrupted`` (or, when its ``turn/completed`` had already been sent, the
  status it announced);
* the next turn runs: its model request answers every tool call and carries the text of every
  agent message announced before the kill.

Every scenario runs on one thread: each restarted server resumes it and runs the next scenario's
turn, so each kill costs one server start. Stdlib only and server-agnostic, so ``bench/`` runs
the same scenarios against the reference ``codex app-server``.

Layer: testing (drives any server over stdio; imports nothing of the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fake_model import Delay, FakeModelServer, RecordedRequest, Script, function_call_reply, text_reply

__all__ = ["CrashReport", "CrashRun", "Scenario", "StdioServer", "scenarios"]

Message = dict[str, Any]
Trigger = Callable[[Message], bool]

#: How long a stalled model stream holds still; the kill always lands long before.
STALL_S = 60.0
#: Upper bound for one step (a reply, a kill, a restart) before the run reports a hang.
STEP_TIMEOUT_S = 60.0
_READ_LIMIT = 64 * 1024 * 1024


class StdioServer:
    """An app server child process over JSONL stdio that can be SIGKILLed by what it says.

    ``kill_when`` arms a trigger: the reader kills the process right after reading the first
    message that matches, before reading on, so the moment of death follows the protocol rather
    than the clock. Everything read (also after the trigger, up to EOF) is in ``received``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        observer: Callable[[Message, str | None], None] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.observer = observer
        self.received: list[Message] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.approvals: str | None = None
        self._trigger: Trigger | None = None
        self.killed = asyncio.Event()
        self._waiters: dict[int, asyncio.Future[Message]] = {}
        self._methods: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Condition()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            limit=_READ_LIMIT,
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())

    def kill_when(self, trigger: Trigger | None) -> None:
        self._trigger = trigger

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while line := await self.proc.stdout.readline():
                message = _parse(line)
                if message is None:
                    continue
                self.received.append(message)
                answered = self._methods.pop(message["id"], None) if "method" not in message else None
                if self.observer is not None:
                    self.observer(message, answered)
                if self._trigger is not None and self._trigger(message):
                    self._trigger = None
                    self.kill_now()
                if "method" in message and "id" in message and self.approvals is not None:
                    await self._send({"id": message["id"], "result": {"decision": self.approvals}})
                waiter = self._waiters.pop(message["id"], None) if answered is not None else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
                async with self._arrived:
                    self._arrived.notify_all()
        except (ConnectionError, ValueError):
            pass
        finally:
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(EOFError("the server closed stdout"))

    def kill_now(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.killed.set()

    async def _send(self, message: Message) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            await self.proc.stdin.drain()

    def send_request(self, method: str, params: Any) -> asyncio.Future[Message]:
        """Write a request without waiting; the future gets its reply (or EOFError)."""
        request_id = next(self._ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        self._methods[request_id] = method
        asyncio.get_running_loop().create_task(self._send({"id": request_id, "method": method, "params": params}))
        return future

    async def result(self, method: str, params: Any) -> Any:
        reply = await asyncio.wait_for(self.send_request(method, params), STEP_TIMEOUT_S)
        if "result" not in reply:
            raise RuntimeError(f"{method} failed: {reply.get('error')}")
        return reply["result"]

    async def wait_for(self, predicate: Trigger, start: int = 0) -> Message:
        """The first message from index ``start`` on that matches, waiting for it to arrive."""

        def found() -> Message | None:
            return next((m for m in self.received[start:] if predicate(m)), None)

        async def arrival() -> Message:
            async with self._arrived:
                await self._arrived.wait_for(lambda: found() is not None)
            message = found()
            assert message is not None
            return message

        return await asyncio.wait_for(arrival(), STEP_TIMEOUT_S)

    async def initialize(self) -> None:
        await self.result("initialize", {"clientInfo": {"name": "crash_harness", "version": "1.0"}})
        await self._send({"method": "initialized"})

    async def wait_dead(self) -> None:
        """Until the process exited and everything it wrote is read."""
        assert self.proc is not None
        await asyncio.wait_for(self.proc.wait(), STEP_TIMEOUT_S)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, STEP_TIMEOUT_S)

    async def close(self) -> None:
        """EOF on stdin, then SIGKILL if the server lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 10)


def _parse(line: bytes) -> Message | None:
    """A JSON object, or None for anything else on stdout (the check is about messages)."""
    with contextlib.suppress(ValueError):
        message = json.loads(line)
        if isinstance(message, dict):
            return message
    return None


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """One turn, and the message after which the server is killed (None: the turn runs to its end)."""

    name: str
    #: The model's responses to the turn's requests, in order (a text reply after they run out).
    replies: tuple[Script, ...]
    trigger: Trigger | None
    approval_policy: str = "never"
    #: How the client answers approval requests; None leaves them unanswered.
    approvals: str | None = None


def _is(method: str, item_type: str | None = None) -> Trigger:
    def match(message: Message) -> bool:
        if message.get("method") != method:
            return False
        return item_type is None or message.get("params", {}).get("item", {}).get("type") == item_type

    return match


def _nth(n: int, trigger: Trigger) -> Trigger:
    seen = 0

    def match(message: Message) -> bool:
        nonlocal seen
        if trigger(message):
            seen += 1
        return seen == n

    return match


def _any_notification(message: Message) -> bool:
    return "method" in message and "id" not in message


def _stalled(script: Script, after: int, event_type: str) -> Script:
    """``script`` that holds still after its ``after``-th event of ``event_type`` (0: before any event)."""
    if after == 0:
        return [Delay(STALL_S), *script]
    positions = [i for i, step in enumerate(script) if getattr(step, "type", "") == event_type]
    cut = positions[after - 1] + 1
    return [*script[:cut], Delay(STALL_S), *script[cut:]]


def _exec_call(command: str, *, preface: str | None = None, reasoning: str | None = None) -> Script:
    """An ``exec_command`` call, after reasoning and an agent message when given."""
    return function_call_reply(
        "exec_command", json.dumps({"cmd": command}), reasoning_summary=reasoning, preface=preface
    )


def _streamed(tag: str) -> Script:
    """Reasoning, then a 400-delta message."""
    return text_reply("x" * 400, deltas=["x"] * 400, reasoning_summary=f"thinking {tag}")


def _tool_turn(tag: str) -> tuple[Script, ...]:
    """Reasoning, a message and a command, then reasoning and a final message: six items."""
    return (
        _exec_call(f"echo {tag}", preface=f"checking {tag}", reasoning=f"plan {tag}"),
        text_reply(f"done {tag}", reasoning_summary=f"review {tag}"),
    )


def scenarios(
    *,
    rounds: int = 1,
    item_points: Sequence[int] = (1, 2, 3, 4, 5, 6),
    notification_points: Sequence[int] = (2, 5, 9, 14, 20, 27),
) -> list[Scenario]:
    """The kill points, ``rounds`` times over (each scenario is one kill): after the listed
    items of a six-item tool turn, and at the listed notifications of such a turn."""
    out: list[Scenario] = []
    for round_no in range(rounds):
        tag = f"r{round_no}"
        out += [
            Scenario(
                f"{tag} before any model output",
                (_stalled(text_reply(f"late {tag}"), 0, ""),),
                _is("item/completed", "userMessage"),
            ),
            Scenario(
                f"{tag} mid-stream, stalled after the first delta",
                (
                    _stalled(
                        text_reply(f"half {tag} answer", deltas=[f"half {tag} ", "answer"]),
                        1,
                        "response.output_text.delta",
                    ),
                ),
                _is("item/agentMessage/delta"),
            ),
            Scenario(
                f"{tag} mid-stream, right after reasoning", (_streamed(f"{tag}a"),), _is("item/completed", "reasoning")
            ),
            Scenario(
                f"{tag} mid-stream, stalled at delta 50 of 400",
                (_stalled(_streamed(f"{tag}b"), 50, "response.output_text.delta"),),
                _nth(50, _is("item/agentMessage/delta")),
            ),
        ]
        for index in item_points:
            out.append(
                Scenario(
                    f"{tag} after item {index} of 6 completed",
                    _tool_turn(f"{tag}i{index}"),
                    _nth(index, _is("item/completed")),
                )
            )
        out += [
            Scenario(
                f"{tag} during an approval wait",
                (_exec_call(f"echo approve {tag}", preface=f"asking {tag}"),),
                _is("item/commandExecution/requestApproval"),
                approval_policy="untrusted",
            ),
            Scenario(
                f"{tag} after an approval, the command running",
                (_exec_call(f"echo approved {tag}; cat", preface=f"running {tag}"),),
                _is("item/started", "commandExecution"),
                approval_policy="untrusted",
                approvals="accept",
            ),
            Scenario(
                f"{tag} during a running command",
                (_exec_call(f"echo started {tag}; cat"),),
                _is("item/started", "commandExecution"),
            ),
        ]
        out += [
            Scenario(f"{tag} at notification {n}", _tool_turn(f"{tag}n{n}"), _nth(n, _any_notification))
            for n in notification_points
        ]
    return out


# --------------------------------------------------------------------------- the run


@dataclass
class CrashReport:
    kills: int = 0
    #: Items announced by ``item/completed`` before a kill, and those missing after the restart.
    announced: int = 0
    lost: list[str] = field(default_factory=list)
    #: Agent messages announced before a kill whose text the next model request did not carry.
    context_missing: list[str] = field(default_factory=list)
    #: Anything else that went wrong (a turn status, a dangling tool call, a failed turn).
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.kills} kills, {self.announced} items announced completed, {len(self.lost)} lost, "
            f"{len(self.context_missing)} missing from the next model request, {len(self.problems)} other problems"
        )


def item_key(item: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies an item across servers that rebuild history differently (the reference
    renumbers message ids when it reads a thread back)."""
    kind = item.get("type")
    if kind == "agentMessage":
        return (kind, item.get("text"))
    if kind == "userMessage":
        return (kind, tuple(part.get("text") for part in item.get("content") or []))
    if kind == "reasoning":
        return (kind, tuple(item.get("summary") or ()))
    return (kind, item.get("id"))


class CrashRun:
    """Runs scenarios against one server command on one CODEX_HOME (config written by the caller)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        model: FakeModelServer,
        observer: Callable[[Message, str | None], None] | None = None,
        exact: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.model = model
        self.observer = observer
        #: Also require the stored item to carry every announced field unchanged (our own server
        #: keeps ids; the reference renumbers some).
        self.exact = exact
        self.report = CrashReport()
        self._replies: deque[Script] = deque()
        self._servers: list[StdioServer] = []

    def script_source(self, _request: RecordedRequest) -> Script:
        """The fake model's script source: the current scenario's replies, then short answers."""
        return self._replies.popleft() if self._replies else text_reply("ok")

    async def run(self, plan: Sequence[Scenario]) -> CrashReport:
        server = await self._start()
        thread_id = (await server.result("thread/start", {"sandbox": "danger-full-access"}))["thread"]["id"]
        # Cuts whose announced messages no model request has been checked for yet (a turn
        # killed before it asked the model checks nothing).
        unchecked: list[_Cut] = []
        try:
            for scenario in [*plan, Scenario("final turn, not killed", (text_reply("all good"),), None)]:
                first_request = len(self.model.requests)
                cut = await self._turn(server, thread_id, scenario)
                if self._check_next_request(unchecked, first_request):
                    unchecked.clear()
                if cut is None:
                    break
                unchecked.append(cut)
                self.report.kills += 1
                server = await self._start()
                await self._check_history(server, thread_id, cut)
                await server.result("thread/resume", {"threadId": thread_id})
            if unchecked:
                self.report.problems.append(f"no model request after {unchecked[-1].name}")
        finally:
            for started in self._servers:
                await started.close()
        return self.report

    async def _start(self) -> StdioServer:
        server = StdioServer(self.argv, env=self.env, cwd=self.cwd, observer=self.observer)
        self._servers.append(server)
        await server.start()
        await server.initialize()
        return server

    async def _turn(self, server: StdioServer, thread_id: str, scenario: Scenario) -> _Cut | None:
        """Run the scenario's turn; the cut it left (None when it was not killed)."""
        self._replies = deque(scenario.replies)
        start = len(server.received)
        server.approvals = scenario.approvals
        server.kill_when(scenario.trigger)
        params = {
            "threadId": thread_id,
            "input": [{"type": "text", "text": f"task: {scenario.name}"}],
            "approvalPolicy": scenario.approval_policy,
        }
        reply = server.send_request("turn/start", params)
        if scenario.trigger is None:
            await asyncio.wait_for(reply, STEP_TIMEOUT_S)
            completed = await self._wait_turn_completed(server, start)
            if completed.get("status") != "completed":
                self.report.problems.append(f"{scenario.name}: the turn ended {completed.get('status')}")
            return None
        try:
            await asyncio.wait_for(server.killed.wait(), STEP_TIMEOUT_S)
        except TimeoutError:
            self.report.problems.append(f"{scenario.name}: the kill trigger never fired")
            server.kill_now()
        await server.wait_dead()
        if reply.done() and not reply.cancelled():
            reply.exception()  # an EOFError when the kill came first: expected, not an error
        self._replies.clear()
        return _Cut(scenario.name, server.received[start:])

    async def _wait_turn_completed(self, server: StdioServer, start: int) -> Message:
        message = await server.wait_for(lambda m: m.get("method") == "turn/completed", start)
        turn: Message = message["params"]["turn"]
        return turn

    async def _check_history(self, server: StdioServer, thread_id: str, cut: _Cut) -> None:
        read = await server.result("thread/read", {"threadId": thread_id, "includeTurns": True})
        turns = {turn["id"]: turn for turn in read["thread"]["turns"]}
        turn_id = cut.turn_id
        if turn_id is None:
            return  # killed before the turn was announced: nothing to look for
        turn = turns.get(turn_id)
        stored = turn["items"] if turn is not None else []
        stored_keys = {item_key(item) for item in stored}
        stored_by_id = {item.get("id"): item for item in stored}
        for item in cut.announced:
            self.report.announced += 1
            missing = item_key(item) not in stored_keys
            if not missing and self.exact:
                # thread/read may add fields the announcement left out (as null); none may differ.
                kept = stored_by_id.get(item.get("id")) or {}
                missing = any(kept.get(name) != value for name, value in item.items())
            if missing:
                self.report.lost.append(f"{cut.name}: {item.get('type')} {item.get('id')}")
        # Unless the client saw the turn end, it reads interrupted — or, when the server stored
        # its end but died before sending it, the status it stored.
        status = turn.get("status") if turn is not None else None
        announced = cut.announced_status
        allowed = {announced} if announced is not None else {"interrupted", "completed", "failed"}
        if status not in allowed:
            self.report.problems.append(f"{cut.name}: the turn reads {status!r} after the restart, not {allowed}")

    def _check_next_request(self, cuts: list[_Cut], first_request: int) -> bool:
        """Check the turn's first model request against the cuts before it; False: it sent none."""
        requests = [r for r in self.model.requests[first_request:] if r.route.endswith("/responses")]
        if not requests:
            return False
        body = requests[0].body if isinstance(requests[0].body, dict) else {}
        items = body.get("input") or []
        outputs = {item.get("call_id") for item in items if str(item.get("type", "")).endswith("_call_output")}
        for item in items:
            if item.get("type") in ("function_call", "custom_tool_call") and item.get("call_id") not in outputs:
                self.report.problems.append(f"a model request has call {item.get('call_id')} without its output")
        texts = {
            part.get("text")
            for item in items
            if item.get("type") == "message" and item.get("role") == "assistant"
            for part in item.get("content") or []
        }
        for cut in cuts:
            for item in cut.announced:
                if item.get("type") == "agentMessage" and item.get("text") not in texts:
                    self.report.context_missing.append(f"{cut.name}: {item.get('text')!r}")
        return True


@dataclass
class _Cut:
    """What the client read of a turn before the server died."""

    name: str
    messages: list[Message]

    def _first(self, method: str) -> Message | None:
        return next((message for message in self.messages if message.get("method") == method), None)

    @property
    def turn_id(self) -> str | None:
        started = self._first("turn/started")
        return None if started is None else str(started["params"]["turn"]["id"])

    @property
    def announced(self) -> list[Message]:
        turn_id = self.turn_id
        return [
            message["params"]["item"]
            for message in self.messages
            if message.get("method") == "item/completed" and message["params"].get("turnId") == turn_id
        ]

    @property
    def announced_status(self) -> str | None:
        completed = self._first("turn/completed")
        return None if completed is None else str(completed["params"]["turn"]["status"])
