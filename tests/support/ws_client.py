"""The real server process listening on WebSocket, and real ``websockets`` clients driving it.

Mirrors :mod:`support.server_process`: every message a client receives is parsed and checked
against the reference schema, and :meth:`WsServer.assert_clean` (run by the fixtures at teardown)
fails the test when any message did not validate. Everything listens on 127.0.0.1 (or a unix socket
in the test's directory) and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .processes import terminate
from .schema_check import SchemaChecker

BANNER = re.compile(r"listening on: (ws://\S+|unix://\S+)")
#: Notifications about one connection's own traffic: never numbered, never replayed.
PER_CONNECTION_NOTIFICATIONS = frozenset({"serverRequest/resolved"})


class WsServer:
    """``python -m agent_app_server --listen ws://127.0.0.1:0 ...``; stderr goes to a file."""

    def __init__(
        self, codex_home: Path, workdir: Path, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> None:
        self.codex_home = codex_home
        self.workdir = workdir
        self.args = args
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.clients: list[WsClient] = []
        self.stderr_path = workdir / f"server-{id(self)}.stderr"

    async def start(self, *, expect_banner: bool = True, within: float = 30) -> WsServer:
        env = {**os.environ, "CODEX_HOME": str(self.codex_home), **self.env}
        args = self.args
        if not any(arg.startswith("--listen") for arg in args):
            args = ("--listen", "ws://127.0.0.1:0", *args)
        with self.stderr_path.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agent_app_server",
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=self.workdir,
            )
        if expect_banner:
            self.url = await self._wait_for_banner(within)
        return self

    async def _wait_for_banner(self, within: float) -> str:
        return (await self.logged(BANNER, within=within, waiting_for="start listening")).group(1)

    async def logged(self, pattern: re.Pattern[str], *, within: float, waiting_for: str) -> re.Match[str]:
        """The first match of ``pattern`` in the server's stderr, once it is written (the file is
        polled: a log line has no event a client could wait on)."""
        assert self.proc is not None
        for _ in range(int(within / 0.05)):
            match = pattern.search(self.stderr)
            if match:
                return match
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"server exited {self.proc.returncode} before it did {waiting_for}:\n{self.stderr}"
                )
            await asyncio.sleep(0.05)
        raise AssertionError(f"server did not {waiting_for} within {within} s:\n{self.stderr}")

    @property
    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        """``VmRSS`` of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def hwm_kib(self) -> int:
        """``VmHWM`` (peak RSS) of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM in /proc status")

    # ------------------------------------------------------------------ clients

    async def client(
        self,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        rcvbuf: int | None = None,
        max_queue: int | None = 1024,
        name: str = "ws_test_client",
    ) -> WsClient:
        """A connected (not yet initialized) client."""
        extra = dict(headers or {})
        if token is not None:
            extra["Authorization"] = f"Bearer {token}"
        client = WsClient(name)
        await client.connect(self.url, extra, rcvbuf=rcvbuf, max_queue=max_queue)
        self.clients.append(client)
        return client

    async def upgrade_status(self, headers: dict[str, str] | None = None, path: str = "/") -> tuple[int, str]:
        """Try an upgrade: (101, "") when accepted, else the refusal's (status, body)."""
        try:
            async with connect(self.url + path, additional_headers=headers or {}, open_timeout=10) as ws:
                await ws.close()
                return 101, ""
        except InvalidStatus as refused:
            return refused.response.status_code, refused.response.body.decode()

    async def http_get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """A plain HTTP/1.1 GET on the listener (no upgrade): status, headers, body."""
        host, port = self.url.removeprefix("ws://").rsplit(":", 1)
        return await http_get(host, int(port), path, headers)

    # ------------------------------------------------------------------ lifecycle

    async def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)

    async def wait(self, within: float = 30) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), within)

    async def stop(self) -> int:
        """SIGTERM (graceful shutdown), SIGKILL if it does not exit in time; close our clients."""
        for client in self.clients:
            await client.close()
        assert self.proc is not None
        return await terminate(self.proc)

    async def kill(self) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def assert_clean(self) -> None:
        for client in self.clients:
            client.assert_schema_clean()


async def http_get(
    host: str, port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP/1.1 GET (no upgrade) on ``host:port``: status, headers, body."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in header_lines if ":" in line)}
    return int(status_line.split()[1]), parsed, body


class WsClient:
    """One WebSocket connection, used like :class:`support.server_process.ServerProcess`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ws: ClientConnection | None = None
        self.checker = SchemaChecker()
        self.event_replay = False
        #: Thread notifications this client accepts without ``seq`` although it opted in: in a
        #: fleet, a server that does not run the thread sends its own (a status on load, the goal
        #: after a resume) unnumbered, only the thread's owner numbers (docs/fleet.md).
        self.unnumbered_allowed: frozenset[str] = frozenset()
        self.received: list[dict[str, Any]] = []
        self.notifications: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.server_requests: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.problems: list[str] = []
        #: The id of every response, in arrival order (a duplicate answer shows up twice).
        self.response_ids: list[Any] = []
        self._waiters: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._methods: dict[Any, str] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""

    async def connect(
        self,
        url: str,
        headers: dict[str, str],
        *,
        rcvbuf: int | None = None,
        max_queue: int | None = 1024,
        read: bool = True,
    ) -> None:
        kwargs: dict[str, Any] = {"additional_headers": headers, "max_size": None, "max_queue": max_queue}
        if url.startswith("unix://"):
            self.ws = await unix_connect(url.removeprefix("unix://"), uri="ws://localhost/", **kwargs)
        else:
            if rcvbuf is not None:
                host, port = url.removeprefix("ws://").rsplit(":", 1)
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # Set before connecting, so the advertised window stays small: a client that
                # stops reading then backs up into the server quickly.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
                kwargs["sock"] = sock
            self.ws = await asyncio.wait_for(connect(url, **kwargs), 20)
        if read:
            self.start_reading()

    def start_reading(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read())

    async def stop_reading(self) -> None:
        """Stop consuming frames (the library's bounded buffer then stops reading the socket)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.problems.append("server sent a binary frame")
                    continue
                self._on_message(frame)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            return
        self._on_closed()

    def _on_closed(self) -> None:
        assert self.ws is not None
        close = self.ws.protocol.close_rcvd
        self.close_code = close.code if close is not None else None
        self.close_reason = close.reason if close is not None else ""
        self.closed.set()
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"connection closed ({self.close_code} {self.close_reason})"))

    def _on_message(self, frame: str) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            self.problems.append(f"not JSON: {frame[:200]!r}")
            return
        if not isinstance(message, dict):
            self.problems.append(f"not one JSON object per frame: {frame[:200]!r}")
            return
        self.received.append(message)
        if "method" not in message:
            self.response_ids.append(message.get("id"))
        request_method = self._methods.get(message.get("id")) if "method" not in message else None
        self.checker.check(message, request_method)
        if "method" in message and "id" in message:
            self.server_requests.put_nowait(message)
        elif "method" in message:
            thread_scoped = isinstance(message.get("params"), dict) and "threadId" in message["params"]
            if "seq" in message and not self.event_replay:
                self.problems.append(f"seq sent to a client that did not opt in: {frame[:200]}")
            per_connection = message["method"] in PER_CONNECTION_NOTIFICATIONS
            if message["method"] in self.unnumbered_allowed and "seq" not in message:
                per_connection = True
            if self.event_replay and thread_scoped and not per_connection and not isinstance(message.get("seq"), int):
                self.problems.append(f"thread notification without seq for an opted-in client: {frame[:200]}")
            self.notifications.put_nowait(message)
        else:
            waiter = self._waiters.pop(message.get("id"), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)

    # ------------------------------------------------------------------ writing

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def expect(self, request_id: Any, method: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        self._methods[request_id] = method
        return future

    async def call(self, method: str, params: Any = None, *, within: float = 20) -> dict[str, Any]:
        rid = self.new_id()
        future = self.expect(rid, method)
        message: dict[str, Any] = {"id": rid, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await asyncio.wait_for(future, within)

    async def result(self, method: str, params: Any = None, **kwargs: Any) -> Any:
        response = await self.call(method, params, **kwargs)
        assert "result" in response, f"{method} failed: {response}"
        return response["result"]

    async def initialize(self, *, experimental: bool = False, **caps: Any) -> Any:
        capabilities: dict[str, Any] = {"experimentalApi": experimental, **caps}
        self.checker.experimental = experimental
        self.event_replay = caps.get("eventReplay") is True
        result = await self.result(
            "initialize", {"clientInfo": {"name": self.name, "version": "1.0"}, "capabilities": capabilities}
        )
        await self.send({"method": "initialized"})
        return result

    # ------------------------------------------------------------------ reading

    async def notification(self, method: str | None = None, *, within: float = 20) -> dict[str, Any]:
        while True:
            message = await asyncio.wait_for(self.notifications.get(), within)
            if method is None or message["method"] == method:
                return message

    async def until(self, method: str, *, within: float = 30) -> list[dict[str, Any]]:
        """Every notification up to and including the next ``method``."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while True:
                message = await self.notifications.get()
                seen.append(message)
                if message["method"] == method:
                    return seen

    async def wait_closed(self, within: float = 30) -> None:
        await asyncio.wait_for(self.closed.wait(), within)

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
            if not self.ws.transport.is_closing():
                self.ws.transport.abort()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a crash or a network cut)."""
        assert self.ws is not None
        self.ws.transport.abort()

    def assert_schema_clean(self) -> None:
        assert not self.checker.violations, "messages that do not validate against the reference schema:\n" + (
            "\n".join(self.checker.violations[:10])
        )
        assert not self.problems, f"framing/seq problems: {self.problems[:5]}"


Spawner = Callable[..., Coroutine[Any, Any, WsServer]]


@contextlib.asynccontextmanager
async def ws_servers(codex_home: Path, workdir: Path) -> AsyncIterator[Spawner]:
    """Start any number of WebSocket servers; each is stopped and schema-checked at the end."""
    started: list[WsServer] = []

    async def spawn(home: Path | None = None, **kwargs: Any) -> WsServer:
        expect_banner = kwargs.pop("expect_banner", True)
        server = WsServer(home or codex_home, workdir, **kwargs)
        started.append(server)
        await server.start(expect_banner=expect_banner)
        return server

    try:
        yield spawn
    finally:
        for server in started:
            if server.proc is not None and server.proc.returncode is None:
                await server.stop()
            else:
                for client in server.clients:
                    await client.close()
    for server in started:
        server.assert_clean()
