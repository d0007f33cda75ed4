"""A JSON-RPC client for an app server spawned as a child process speaking JSONL over stdio.

Built for measurement rather than convenience: responses are matched to futures by id in the
reader task (no per-request tasks), every response stamps its arrival time, and stderr goes to a
file so a server that logs heavily (the reference logs every dropped overload reply) can never
block on a full stderr pipe and skew the numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Replies such as a page of threads can be large; the default 64 KiB line limit would kill the reader.
_READ_LIMIT = 256 * 1024 * 1024

Message = dict[str, Any]

#: Every child process this module started and has not yet reaped, so ``kill_all`` can clean up
#: after any failure path.
_LIVE: set[asyncio.subprocess.Process] = set()


class PeerError(Exception):
    """The server exited, timed out or sent something a well-behaved server never sends."""


class RpcError(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, error: Any) -> None:
        self.error = error
        self.code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        super().__init__(f"{self.code}: {message if message is not None else error}")


class StdioPeer:
    def __init__(self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path, stderr_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.stderr_path = stderr_path
        self.proc: asyncio.subprocess.Process | None = None
        self.last_response_at = 0.0
        self.responses_received = 0
        self.notification_listeners: list[Callable[[Message], None]] = []
        self._waiters: dict[int, asyncio.Future[Message]] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None
        self._exit_error: PeerError | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("ab") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env=self.env,
                cwd=self.cwd,
                limit=_READ_LIMIT,
            )
        _LIVE.add(self.proc)
        self._reader = asyncio.create_task(self._read(), name=f"{self.name}-reader")

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise PeerError("not started")
        return self.proc.pid

    async def close(self, grace: float = 3.0) -> None:
        """EOF on stdin first (a clean shutdown), then SIGTERM, then SIGKILL."""
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()
        for stop in (None, proc.terminate, proc.kill):
            if proc.returncode is not None:
                break
            if stop is not None:
                with contextlib.suppress(ProcessLookupError):
                    stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), grace)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        _LIVE.discard(proc)

    def stderr_tail(self, limit: int = 600) -> str:
        try:
            data = self.stderr_path.read_bytes()[-limit:]
        except OSError:
            return ""
        return data.decode(errors="replace").strip()

    # ------------------------------------------------------------------ reading

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        try:
            while True:
                line = await stdout.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if "method" in message:
                    if "id" not in message:
                        for listener in list(self.notification_listeners):
                            listener(message)
                    # Server→client requests (approvals) never happen in these workloads.
                    continue
                self.last_response_at = time.perf_counter()
                self.responses_received += 1
                request_id = message.get("id")
                waiter = self._waiters.pop(request_id, None) if isinstance(request_id, int) else None
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        except (ValueError, asyncio.LimitOverrunError) as exc:
            self._exit_error = PeerError(f"{self.name}: unreadable stdout: {exc}")
        finally:
            code = await self._returncode_soon()
            if self._exit_error is None:
                tail = self.stderr_tail(300).replace("\n", " ")
                detail = f"; stderr: {tail}" if tail else ""
                self._exit_error = PeerError(f"{self.name} closed stdout (exit code {code}){detail}")
            for waiter in self._waiters.values():
                if not waiter.done():
                    waiter.set_exception(self._exit_error)
            self._waiters.clear()

    async def _returncode_soon(self) -> int | None:
        assert self.proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 1.0)
        return self.proc.returncode

    # ------------------------------------------------------------------ writing

    def _check_alive(self) -> None:
        if self._exit_error is not None:
            raise self._exit_error
        if self.proc is None or self.proc.stdin is None:
            raise PeerError("not started")

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def prepare(self, method: str, params: Any) -> tuple[int, bytes, asyncio.Future[Message]]:
        """Registers a waiter for a request and returns its encoded line, to be written later
        (lets callers batch thousands of requests into one write)."""
        request_id = self.new_id()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        line = json.dumps({"id": request_id, "method": method, "params": params}, separators=(",", ":")) + "\n"
        return request_id, line.encode(), future

    def forget(self, request_id: int) -> None:
        self._waiters.pop(request_id, None)

    async def write(self, data: bytes) -> None:
        self._check_alive()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            # The process is gone; its exit code and stderr (gathered by the reader) say why.
            if self._reader is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(self._reader), 2.0)
            raise self._exit_error or PeerError(f"{self.name}: stdin closed: {exc}") from exc

    async def call(self, method: str, params: Any, *, within: float = 30.0) -> Message:
        """Sends one request and returns its raw reply (result or error)."""
        request_id, line, future = self.prepare(method, params)
        try:
            await self.write(line)
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            raise PeerError(f"{self.name}: no reply to {method} within {within:g}s") from None
        finally:
            self.forget(request_id)

    async def request(self, method: str, params: Any, *, within: float = 30.0) -> Any:
        """Sends one request and returns its result, raising ``RpcError`` for an error reply."""
        reply = await self.call(method, params, within=within)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply.get("result")

    async def notify(self, method: str, params: Any = None) -> None:
        message: Message = {"method": method}
        if params is not None:
            message["params"] = params
        await self.write(json.dumps(message).encode() + b"\n")


def kill_all() -> None:
    """Last-resort cleanup: SIGKILL every child still running (only ones this module started)."""
    for proc in list(_LIVE):
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        _LIVE.discard(proc)


def proc_status(pid: int) -> dict[str, str]:
    """``/proc/<pid>/status`` as a dict (Linux only; empty when unavailable)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def memory_mib(pid: int, field: str) -> float:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) in MiB."""
    value = proc_status(pid).get(field)
    if value is None:
        raise PeerError(f"/proc/{pid}/status has no {field} (process gone or not Linux)")
    return int(value.split()[0]) / 1024


def env_with(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}
