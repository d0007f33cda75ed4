"""Where a client's messages travel: a spawned server's stdio, a WebSocket (TCP or unix socket), or
any :class:`~agent_app_server.transport.MessageStream` handed in (the in-memory pair).

Owns: spawning an app-server command, opening WebSocket connections, and the bearer-token rule
(:func:`check_token_target`). Layer: client (imports ``transport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from ..transport import FrameTooLarge, MessageStream, StdioStream
from ..transport.websocket import WebSocketStream
from .errors import ConnectError, InsecureTokenError

#: The command spawned when none is given: this package's own server.
DEFAULT_COMMAND: tuple[str, ...] = (sys.executable, "-m", "agent_app_server")
_MAX_LINE = 256 * 1024 * 1024
_READ_CHUNK = 256 * 1024
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


# ---------------------------------------------------------------------- token rule


def check_token_target(url: str) -> None:
    """Refuse, before any connection exists, to send a bearer token where others could read it.

    Allowed: ``wss://`` anywhere (TLS), ``ws://`` only to localhost, 127.0.0.1 or ::1, and
    ``unix://`` (the socket file's permissions are the protection).
    """
    parts = urlsplit(url)
    if parts.scheme in ("wss", "unix"):
        return
    if parts.scheme != "ws":
        raise InsecureTokenError(f"refusing to send a bearer token to {url!r}: only ws://, wss:// and unix:// URLs")
    host = (parts.hostname or "").lower()
    if host in _LOOPBACK_NAMES:
        return
    with contextlib.suppress(ValueError):
        if host and ipaddress.ip_address(host) in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
            return
    raise InsecureTokenError(
        f"refusing to send a bearer token over unencrypted ws:// to {host or url!r}: anyone on the path could read "
        "it; use wss:// (TLS), or ws:// to localhost / 127.0.0.1 / ::1 (e.g. through an SSH tunnel)"
    )


# ---------------------------------------------------------------------- tracing


class TappedStream:
    """A :class:`MessageStream` that shows every message to ``tap("recv" | "send", text)`` (tracing)."""

    def __init__(self, inner: MessageStream, tap: Callable[[str, str], None]) -> None:
        self.inner = inner
        self._tap = tap

    async def receive(self) -> bytes | str | None:
        frame = await self.inner.receive()
        if frame is not None:
            self._tap("recv", frame.decode(errors="replace") if isinstance(frame, bytes) else frame)
        return frame

    async def send_many(self, messages: Sequence[str]) -> None:
        for message in messages:
            self._tap("send", message)
        await self.inner.send_many(messages)

    async def close(self, reason: str = "") -> None:
        await self.inner.close(reason)


# ---------------------------------------------------------------------- stdio


class ProcessStream(StdioStream):
    """JSONL over a spawned server's stdin/stdout; closing ends stdin and waits for the exit."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stdin is not None
        super().__init__(process.stdout, process.stdin, _MAX_LINE)
        self.process = process
        self._stdout = process.stdout
        self._partial = b""
        self._discarding = False

    async def receive(self) -> bytes | None:
        frames = await self.receive_many()
        while frames is not None and not frames:
            frames = await self.receive_many()
        if frames is None:
            return None
        if len(frames) > 1:
            # One at a time through this method: keep the rest as unread input.
            self._partial = b"\n".join(frames[1:]) + b"\n" + self._partial
        return frames[0]

    async def receive_many(self) -> list[bytes] | None:
        """Every whole line that has arrived (at least one read's worth), or None at the end.

        A server streams thousands of small messages; taking them a buffer at a time instead of a
        line at a time is most of what a client's read costs."""
        chunk = await self._stdout.read(_READ_CHUNK)
        if not chunk:
            tail, self._partial = self._partial, b""
            return [tail] if tail.strip() and not self._discarding else None
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if self._discarding:
            if not lines:
                self._partial = b""
                return []
            lines.pop(0)  # the end of the oversized line
            self._discarding = False
        if len(self._partial) > _MAX_LINE:
            self._partial = b""
            self._discarding = True
            raise FrameTooLarge(_MAX_LINE)
        return [line for line in lines if line.strip()]

    @classmethod
    async def spawn(
        cls, command: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None
    ) -> ProcessStream:
        if not command:
            raise ConnectError("the app-server command is empty; pass e.g. ['codex', 'app-server']")
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=None if env is None else {**os.environ, **env},
                cwd=cwd,
                limit=_MAX_LINE,
            )
        except OSError as exc:
            raise ConnectError(f"could not start {command[0]!r}: {exc.strerror or exc}") from None
        return cls(process)

    async def close(self, reason: str = "") -> None:
        await super().close(reason)
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


# ---------------------------------------------------------------------- WebSocket


@dataclass(frozen=True, slots=True)
class WebSocketTarget:
    url: str
    token: str | None = None
    open_timeout: float = 10.0


class WebSocketClientStream(WebSocketStream):
    """One client WebSocket: a JSON-RPC message per text frame (the transport's stream, which
    works on either end of a connection; a binary frame ends it with 1003)."""

    @classmethod
    async def open(cls, target: WebSocketTarget) -> WebSocketClientStream:
        from websockets.asyncio.client import connect, unix_connect
        from websockets.exceptions import InvalidStatus, WebSocketException

        headers: dict[str, str] = {}
        if target.token is not None:
            check_token_target(target.url)
            headers["Authorization"] = f"Bearer {target.token}"
        kwargs: dict[str, Any] = {
            "additional_headers": headers,
            "max_size": None,
            "compression": None,
            "open_timeout": target.open_timeout,
            # Our own read loop is the consumer; a bounded library queue keeps backpressure on TCP.
            "max_queue": 1024,
        }
        try:
            if target.url.startswith("unix://"):
                connection = await unix_connect(target.url.removeprefix("unix://"), uri="ws://localhost/", **kwargs)
            else:
                connection = await connect(target.url, **kwargs)
        except InvalidStatus as refused:
            body = refused.response.body.decode(errors="replace") if refused.response.body else ""
            raise ConnectError(
                f"{target.url} refused the connection: HTTP {refused.response.status_code} {body}".rstrip()
            ) from None
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise ConnectError(f"could not connect to {target.url}: {exc}") from None
        # The transport's stream only uses what both ends of a websockets connection have.
        return cls(cast("Any", connection))
