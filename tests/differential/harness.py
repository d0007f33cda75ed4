"""Two app servers side by side over stdio: the reference binary and ours, fed the same requests.

Owns: spawning a *pair* (each side with a fresh CODEX_HOME holding the same ``config.toml``, its
own fake model server, an identical workspace as its cwd and an identical fake ``$HOME``), the
state a method needs (threads, turns, archived threads, running turns) created the same way on
both sides, and sending a method's cases to both with requests pipelined in a bounded window.

Homes live under ``<repo>/.cache/differential/`` (ignored by git), never under ``/tmp``: the
reference refuses to create its helper binaries there. Each side's paths are written in cases as
placeholders (``$ws``, ``$home``, ``$thread`` …) and substituted per side, so both see the same
request relative to their own world.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    RecordedRequest,
    Script,
    delay,
    function_call_reply,
    text_reply,
)
from support.model_config import write_mock_config
from support.plugin_fixtures import write_marketplace
from support.reference import REPO_ROOT

#: Replies as large as a 1 MiB echo must fit in one line.
_READ_LIMIT = 64 * 1024 * 1024
#: Requests in flight per side. The reference drops replies once its 128-slot outbound queue is
#: full (docs/compatibility.md `rpc:never-drop-replies`); notifications share that queue.
WINDOW = 16
#: Per request; a reply slower than this is recorded as ``timeout`` (a difference, never a pass).
REPLY_TIMEOUT = 30.0
#: A user message containing this keeps its turn running (the fake model stalls) until interrupted.
HOLD_MARKER = "differential-hold-turn"
#: What opens the message of a goal's continuation turn (both servers).
GOAL_MARKER = '<codex_internal_context source=\\"goal\\">'
RUNS_ROOT = REPO_ROOT / ".cache" / "differential"

Message = dict[str, Any]


def _script(request: RecordedRequest) -> Script:
    if HOLD_MARKER.encode() in request.raw_body:
        return [delay(120), *text_reply("released")]
    if _continues_a_goal(request):
        # An active goal keeps both servers starting turns until it is complete: finish it at once.
        return function_call_reply("update_goal", json.dumps({"status": "complete"}))
    return text_reply("Hello from the fake model.")


def _continues_a_goal(request: RecordedRequest) -> bool:
    items = request.body.get("input") if isinstance(request.body, dict) else None
    last = items[-1] if isinstance(items, list) and items else None
    return isinstance(last, dict) and last.get("role") == "user" and GOAL_MARKER in json.dumps(last)


@dataclass(frozen=True)
class Outcome:
    """What one side answered: ``result`` (with its shape), ``error`` (with its code) or nothing."""

    kind: str  # "result" | "error" | "timeout"
    code: int | None = None
    message: str = ""
    shape: Any = None

    def label(self) -> str:
        if self.kind == "error":
            return f"error {self.code}"
        return self.kind

    @staticmethod
    def of(reply: Message | None) -> Outcome:
        if reply is None:
            return Outcome("timeout")
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            return Outcome("error", error.get("code"), str(error.get("message", ""))[:300])
        return Outcome("result", shape=shape_of(reply.get("result")))


def shape_of(value: Any, depth: int = 2) -> Any:
    """A result's shape: key sets and JSON types, ``depth`` object levels down."""
    if isinstance(value, dict):
        if depth == 0:
            return "object"
        return {key: shape_of(item, depth - 1) for key, item in sorted(value.items())}
    # bool before int: JSON true is not a number.
    kinds = ((list, "array"), (type(None), "null"), (bool, "boolean"), ((int, float), "number"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "string")


class Side:
    """One server process over stdio: requests pipelined, replies matched by id (any JSON id)."""

    def __init__(self, name: str, argv: Sequence[str], root: Path, model: FakeModelServer) -> None:
        self.name = name
        self.argv = list(argv)
        self.root = root
        self.home = root / "home"
        self.codex_home = root / "codex-home"
        self.workspace = root / "workspace"
        self.model = model
        self.proc: asyncio.subprocess.Process | None = None
        self.notifications: list[Message] = []
        self._waiters: dict[str, asyncio.Future[Message]] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._reader: asyncio.Task[None] | None = None
        self._next_id = 0
        #: Replies nobody waited for (an id the server could not echo comes back as null).
        self.unmatched: list[Message] = []
        #: Substitutions for placeholders in case params, filled as state is created.
        self.vars: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    def prepare_dirs(self) -> None:
        for path in (self.home, self.codex_home, self.workspace):
            path.mkdir(parents=True, exist_ok=True)
        write_mock_config(self.codex_home, self.model.base_url)
        populate_workspace(self.workspace)
        # A plugin marketplace beside the workspace, for the plugin/* and marketplace/* cases.
        marketplace = write_marketplace(self.root / "marketplace", "diffmk", ["alpha"])
        self.vars.update(
            ws=str(self.workspace),
            home=str(self.home),
            codex_home=str(self.codex_home),
            root=str(self.root),
            marketplace=str(marketplace),
        )

    def sibling(self) -> Side:
        """Another process of this side, sharing its homes and workspace (a second connection)."""
        twin = Side(self.name, self.argv, self.root, self.model)
        twin.vars = dict(self.vars)
        return twin

    async def start(self, *, experimental: bool = True) -> Message:
        await self.spawn()
        reply = await self.call("initialize", initialize_params(experimental))
        if "result" not in reply:
            raise RuntimeError(f"{self.name}: initialize failed: {reply}")
        await self.write({"method": "initialized"})
        return reply

    async def spawn(self) -> None:
        """Start the process; nothing is sent yet."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CODEX_", "OPENAI_", "AGENT_", "RUST_LOG"))
        }
        env.update(CODEX_HOME=str(self.codex_home), HOME=str(self.home), MOCK_API_KEY="x")
        stderr = (self.root / "stderr.log").open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=env,
                cwd=self.workspace,
                limit=_READ_LIMIT,
            )
        finally:
            stderr.close()
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()  # end of input: both servers exit on it
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 3)

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for message in _json_objects(self.proc.stdout):
            if "method" in message:
                if "id" not in message:
                    self.notifications.append(message)
                    event = self._events.get(str(message["method"]))
                    if event is not None:
                        event.set()
                continue
            waiter = self._waiters.pop(json.dumps(message.get("id")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            else:
                self.unmatched.append(message)
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(EOFError(f"{self.name} closed stdout"))

    # ------------------------------------------------------------------ requests

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def expect(self, request_id: Any) -> asyncio.Future[Message]:
        """A future for the reply to ``request_id`` (any JSON value), to be sent by the caller."""
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[json.dumps(request_id)] = future
        return future

    def forget(self, request_id: Any) -> None:
        self._waiters.pop(json.dumps(request_id), None)

    async def write(self, message: Message) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def call(self, method: str, params: Any = None, *, request_id: Any = None, raw: bool = False) -> Message:
        """Send one request (``params`` omitted when ``raw`` and None) and wait for its reply."""
        rid = self.new_id() if request_id is None else request_id
        future = self.expect(rid)
        message: Message = {"id": rid, "method": method}
        if params is not None or not raw:
            message["params"] = params
        await self.write(message)
        return await asyncio.wait_for(future, REPLY_TIMEOUT)

    async def result(self, method: str, params: Any) -> Any:
        reply = await self.call(method, params)
        if "result" not in reply:
            raise RuntimeError(f"{self.name}: {method} {params} failed: {reply}")
        return reply["result"]

    async def outcome(self, message: Message) -> Outcome:
        """Send a whole request message (its id may be any JSON value) and wait for its reply."""
        future = self.expect(message.get("id"))
        await self.write(message)
        try:
            return Outcome.of(await asyncio.wait_for(future, REPLY_TIMEOUT))
        except TimeoutError:
            self.forget(message.get("id"))
            return Outcome("timeout")

    async def run(self, messages: Sequence[Message], window: int) -> list[Outcome]:
        """Send ``messages`` with at most ``window`` in flight; outcomes in the same order."""
        gate = asyncio.Semaphore(window)

        async def one(message: Message) -> Outcome:
            async with gate:
                return await self.outcome(message)

        return list(await asyncio.gather(*(one(m) for m in messages)))

    # ------------------------------------------------------------------ state

    async def wait_notification(self, method: str, predicate: Callable[[Message], bool]) -> Message:
        event = self._events.setdefault(method, asyncio.Event())
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:
                for message in self.notifications:
                    if message["method"] == method and predicate(message):
                        return message
                event.clear()
                await event.wait()

    async def new_thread(self) -> str:
        result = await self.result("thread/start", {"cwd": str(self.workspace)})
        return str(result["thread"]["id"])

    async def start_turn(self, thread_id: str, text: str) -> str:
        result = await self.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
        return str(result["turn"]["id"])

    async def completed_turn(self, thread_id: str) -> str:
        turn_id = await self.start_turn(thread_id, "hello")
        await self.wait_notification("turn/completed", lambda m: m["params"]["turn"]["id"] == turn_id)
        return turn_id

    async def saved_thread(self) -> tuple[str, str]:
        """A thread with one completed turn (so it is persisted); its id and the turn's."""
        thread_id = await self.new_thread()
        return thread_id, await self.completed_turn(thread_id)


async def _json_objects(stream: asyncio.StreamReader) -> AsyncIterator[Message]:
    """The JSON objects of a JSONL stream; other lines are not ours to judge here."""
    while line := await stream.readline():
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict):
            yield message


def initialize_params(experimental: bool) -> Message:
    return {
        "clientInfo": {"name": "differential", "version": "1.0"},
        "capabilities": {"experimentalApi": experimental},
    }


def populate_workspace(workspace: Path) -> None:
    """The same small tree on both sides: files to read, copy, list and search."""
    (workspace / "src").mkdir(exist_ok=True)
    (workspace / "hello.txt").write_text("hello\n")
    (workspace / "src" / "main.py").write_text("print('hi')\n")
    (workspace / "ünïcødé ✓.txt").write_text("unicode\n")
    (workspace / "to-remove.txt").write_text("bye\n")
    (workspace / "skills").mkdir(exist_ok=True)


@dataclass
class Pair:
    """The reference and ours, started with identical setups under one run directory."""

    reference_argv: Sequence[str]
    run_dir: Path = field(default_factory=lambda: RUNS_ROOT / uuid.uuid4().hex[:12])
    sides: list[Side] = field(default_factory=list)
    _models: list[FakeModelServer] = field(default_factory=list)

    @property
    def reference(self) -> Side:
        return self.sides[0]

    @property
    def ours(self) -> Side:
        return self.sides[1]

    async def start(self, *, experimental: bool = True) -> None:
        argvs = {"reference": [*self.reference_argv, "app-server"], "ours": [sys.executable, "-m", "agent_app_server"]}
        for name, argv in argvs.items():
            model = FakeModelServer(default_script=_script)
            await model.start()
            self._models.append(model)
            side = Side(name, argv, self.run_dir / name, model)
            side.prepare_dirs()
            self.sides.append(side)
        await asyncio.gather(*(side.start(experimental=experimental) for side in self.sides))

    async def close(self) -> None:
        await asyncio.gather(*(side.close() for side in self.sides), return_exceptions=True)
        for model in self._models:
            await model.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    async def each(self, make: Callable[[Side], Any]) -> list[Any]:
        """Run ``make(side)`` on both sides at once; results in side order."""
        return list(await asyncio.gather(*(make(side) for side in self.sides)))


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Replace ``$name`` placeholders (whole strings or path prefixes) in a case's params."""
    if isinstance(value, str) and value.startswith("$"):
        name, sep, rest = value[1:].partition("/")
        if name in variables:
            return variables[name] + (sep + rest if sep else "")
        return value
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    return value


def describe(outcomes: Iterable[Outcome]) -> str:
    return " / ".join(o.label() for o in outcomes)


# --------------------------------------------------------------------------- per-case state


async def make_state(side: Side, kind: str, index: int) -> dict[str, str]:
    """The variables one case needs on one side (``kind`` from its method's plan)."""
    variables = {"case": str(index)}
    if kind == "fresh":
        variables["thread"] = await side.new_thread()
    elif kind in ("saved", "archived"):
        variables["thread"], variables["turn"] = await side.saved_thread()
        if kind == "archived":
            await side.result("thread/archive", {"threadId": variables["thread"]})
    elif kind == "running":
        variables["thread"] = await side.new_thread()
        turn_id = variables["turn"] = await side.start_turn(variables["thread"], HOLD_MARKER)
        # The reference answers turn/start before its turn is active (an interrupt sent at once
        # finds "no active turn"); wait until it is.
        await side.wait_notification("turn/started", lambda m: m["params"]["turn"]["id"] == turn_id)
    elif kind == "process":
        variables["process"] = f"proc-{index}"
        command = {
            "command": ["sh", "-c", "echo ready; exec cat"],
            "processId": variables["process"],
            "tty": True,
            "sandboxPolicy": {"type": "dangerFullAccess"},
        }
        # Its reply comes when the process exits (terminated by a case, or at close).
        await side.write({"id": f"exec-{index}", "method": "command/exec", "params": command})
        await side.wait_notification(
            "command/exec/outputDelta", lambda m: m["params"]["processId"] == command["processId"]
        )
    elif kind == "spawned":
        handle = variables["process"] = f"spawned-{index}-{uuid.uuid4().hex[:8]}"
        spawn = {"command": ["sh", "-c", "echo ready; exec cat"], "processHandle": handle, "tty": True}
        await side.result("process/spawn", {**spawn, "cwd": str(side.workspace)})
        await side.wait_notification("process/outputDelta", lambda m: m["params"]["processHandle"] == handle)
    return variables


async def make_states(side: Side, kind: str, count: int, parallel: int = 8) -> list[dict[str, str]]:
    gate = asyncio.Semaphore(parallel)

    async def one(index: int) -> dict[str, str]:
        async with gate:
            return await make_state(side, kind, index)

    return list(await asyncio.gather(*(one(i) for i in range(count))))
