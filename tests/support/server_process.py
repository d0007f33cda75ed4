"""Driving our server like a client would: :class:`ServerProcess` (the real process over stdio
pipes) and, in ``inprocess.py``, the same API on the in-memory transport.

Every message the server sends is parsed and checked against the reference schema; a test's
fixture fails when any message did not validate.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from .schema_check import SchemaChecker

READ_LIMIT = 256 * 1024 * 1024
#: Extra interpreter flags for the server process (e.g. a profiler), from the environment.
PYTHON_FLAGS = tuple(os.environ.get("AGENT_SERVER_PYTHON_FLAGS", "").split())


class ServerClient(abc.ABC):
    """The client side of one connection: requests and their replies, notifications, the
    server's requests, and the schema check of everything received. Subclasses own the transport
    (``send_raw``, feeding ``_on_line`` and calling ``_on_eof``) and the server's lifecycle."""

    def __init__(
        self,
        codex_home: Path,
        *,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.codex_home = codex_home
        self.args = args
        self.env = env or {}
        self.cwd = cwd
        self.checker = SchemaChecker()
        self.received: list[dict[str, Any]] = []
        self.notifications: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.server_requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.unparsable: list[bytes] = []
        #: What the server logged (a process: its stderr), complete once it stopped.
        self.stderr = b""
        self._waiters: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._methods: dict[Any, str] = {}
        #: Called with each message received, after it is recorded (e.g. a turn waiting for its end).
        self._listeners: list[Any] = []
        self._next_id = 1

    @abc.abstractmethod
    async def start(self) -> ServerClient: ...

    @property
    @abc.abstractmethod
    def running(self) -> bool: ...

    @property
    @abc.abstractmethod
    def pid(self) -> int:
        """The id of the process serving this connection."""

    def _on_line(self, line: bytes | str) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            self.unparsable.append(line.encode() if isinstance(line, str) else line)
            return
        self.received.append(message)
        request_method = self._methods.get(message.get("id")) if "method" not in message else None
        try:
            self.checker.check(message, request_method)
        except Exception as exc:  # a broken check must fail the test, not hang its reader
            self.checker.violations.append(f"schema check crashed: {exc!r}")
        if "method" in message and "id" in message:
            self.server_requests.put_nowait(message)
        elif "method" in message:
            self.notifications.put_nowait(message)
        else:
            waiter = self._waiters.pop(message.get("id"), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
        for listener in list(self._listeners):
            listener(message)

    def _on_eof(self) -> None:
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(EOFError("the server closed the connection"))

    def watch(self, predicate: Any, count: int = 1) -> asyncio.Future[list[dict[str, Any]]]:
        """A future for the first ``count`` messages received from now on for which ``predicate``
        is true."""
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        matched: list[dict[str, Any]] = []

        def listener(message: dict[str, Any]) -> None:
            if not future.done() and predicate(message):
                matched.append(message)
                if len(matched) == count:
                    future.set_result(matched)

        self._listeners.append(listener)
        future.add_done_callback(lambda _: self._listeners.remove(listener))
        return future

    # ------------------------------------------------------------------ writing

    @abc.abstractmethod
    async def send_raw(self, data: bytes) -> None: ...

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(json.dumps(message).encode() + b"\n")

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def expect(self, request_id: Any, method: str) -> asyncio.Future[dict[str, Any]]:
        """Register interest in the response to ``request_id`` (sent by the caller)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        self._methods[request_id] = method
        return future

    async def call(
        self, method: str, params: Any = None, *, request_id: Any = None, timeout: float = 20
    ) -> dict[str, Any]:
        """Send a request and return the whole response message (result or error)."""
        rid = self.new_id() if request_id is None else request_id
        future = self.expect(rid, method)
        message: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await asyncio.wait_for(future, timeout)

    async def result(self, method: str, params: Any = None, **kwargs: Any) -> Any:
        response = await self.call(method, params, **kwargs)
        assert "result" in response, f"{method} failed: {response}"
        return response["result"]

    async def initialize(self, name: str = "test_client", *, experimental: bool = False, **caps: Any) -> Any:
        capabilities: dict[str, Any] = {"experimentalApi": experimental, **caps}
        self.checker.experimental = experimental
        result = await self.result(
            "initialize", {"clientInfo": {"name": name, "version": "1.0"}, "capabilities": capabilities}
        )
        await self.send({"method": "initialized"})
        return result

    # ------------------------------------------------------------------ reading

    async def notification(self, method: str | None = None, *, timeout: float = 20) -> dict[str, Any]:
        """The next notification (of ``method``, skipping others)."""
        while True:
            message = await asyncio.wait_for(self.notifications.get(), timeout)
            if method is None or message["method"] == method:
                return message

    def drain_notifications(self) -> list[dict[str, Any]]:
        drained = []
        while not self.notifications.empty():
            drained.append(self.notifications.get_nowait())
        return drained

    async def notifications_within(self, delay: float = 0.2) -> list[dict[str, Any]]:
        """Notifications that arrive within ``delay``: only for asserting that something was NOT
        sent (an absence has no event to wait for). To wait for something, wait for its message."""
        await asyncio.sleep(delay)
        return self.drain_notifications()

    # ------------------------------------------------------------------ lifecycle

    @abc.abstractmethod
    async def stop(self, timeout: float = 10) -> int:
        """The client is done: the server shuts down; its exit code."""

    @abc.abstractmethod
    async def kill(self) -> None:
        """End the server at once."""

    def assert_schema_clean(self) -> None:
        assert not self.checker.violations, "messages that do not validate against the reference schema:\n" + (
            "\n".join(self.checker.violations[:10])
        )
        assert not self.unparsable, f"server wrote non-JSON lines to stdout: {self.unparsable[:3]}"


class ServerProcess(ServerClient):
    """The real ``agent-app-server`` process, JSONL over its stdin/stdout."""

    def __init__(self, codex_home: Path, **kwargs: Any) -> None:
        super().__init__(codex_home, **kwargs)
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    def command(self) -> list[str]:
        """The server's command line (a subclass may wrap it)."""
        return [sys.executable, *PYTHON_FLAGS, "-m", "agent_app_server", *self.args]

    async def start(self) -> ServerProcess:
        env = {**os.environ, "CODEX_HOME": str(self.codex_home), **self.env}
        self.proc = await asyncio.create_subprocess_exec(
            *self.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.cwd,
            limit=READ_LIMIT,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self._on_line(line)
        self._on_eof()

    async def send_raw(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def stop(self, timeout: float = 10) -> int:
        """Close stdin (the client is done) and wait for the server to exit."""
        assert self.proc is not None
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        if self.proc.stderr is not None:
            self.stderr = await self.proc.stderr.read()
        return self.proc.returncode or 0

    async def kill(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


#: The ``spawn`` fixture: starts a server (in-process, or ``process=True``) with these kwargs.
Spawn = Callable[..., Coroutine[Any, Any, ServerClient]]
