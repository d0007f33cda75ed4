"""The approval gateway as a real process, and a fake change-management service for it.

:class:`GatewayProcess` runs ``python -m agent_app_server gateway ...`` and reads its log as it is
written (tests wait for a line, never for time). :class:`ChangeManagement` is a small aiohttp
service on 127.0.0.1: it takes the gateway's tickets (checking their signature), answers status
polls, and sends decisions to the gateway's callback URL, signed with the shared secret or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from agent_app_server.gateway.escalation import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature, signed_headers

SECRET = "s3cret-for-tests"
SECRET_ENV = "AGENT_GATEWAY_SECRET"
CALLBACKS = re.compile(r"callbacks on (http://\S+)")


class GatewayProcess:
    """One gateway process; stderr is read line by line into :attr:`lines`."""

    def __init__(self, workdir: Path, servers: list[str], policy: Path, database: Path, *extra: str) -> None:
        self.args = [
            "gateway",
            *(arg for server in servers for arg in ("--server", server)),
            "--policy",
            str(policy),
            "--audit",
            str(database),
            *extra,
        ]
        self.workdir = workdir
        self.database = database
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.callback_url: str | None = None

    async def start(self, *, ready: bool = True) -> GatewayProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_app_server",
            *self.args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, SECRET_ENV: SECRET},
            cwd=self.workdir,
        )
        self._reader = asyncio.create_task(self._read())
        if ready:
            await self.line(r"^gateway: ready")
            found = next((CALLBACKS.search(line) for line in self.lines if CALLBACKS.search(line)), None)
            self.callback_url = found.group(1) if found else None
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while raw := await self.proc.stderr.readline():
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    async def line(self, pattern: str, *, after: int = 0, within: float = 30) -> re.Match[str]:
        """The first log line from index ``after`` on that matches ``pattern`` (waits for it)."""
        compiled = re.compile(pattern)
        async with asyncio.timeout(within):
            seen = after
            while True:
                for index in range(seen, len(self.lines)):
                    match = compiled.search(self.lines[index])
                    if match:
                        return match
                seen = len(self.lines)
                if self.proc is not None and self.proc.returncode is not None and self._reader and self._reader.done():
                    raise AssertionError(f"the gateway exited {self.proc.returncode}:\n" + "\n".join(self.lines))
                self._changed.clear()
                await self._changed.wait()

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        return self.proc.returncode or 0

    async def wait(self, within: float = 30) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), within)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return code

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


class ChangeManagement:
    """A change-management service: ``POST /tickets`` opens a ticket (the gateway's webhook),
    ``GET /status/{ticket}`` tells its state (for polling)."""

    def __init__(self, *, status_urls: bool = False) -> None:
        self.status_urls = status_urls
        self.tickets: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received: list[dict[str, Any]] = []
        self.status: dict[str, str] = {}
        self.unsigned: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> ChangeManagement:
        app = web.Application()
        app.router.add_post("/tickets", self._open)
        app.router.add_get("/status/{ticket}", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def webhook(self) -> str:
        return f"{self.url}/tickets"

    async def _open(self, request: web.Request) -> web.Response:
        body = await request.read()
        problem = check_signature(
            SECRET.encode(), request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER), body
        )
        payload = json.loads(body)
        if problem is not None:
            self.unsigned.append(problem)
        ticket = f"CHG-{len(self.received) + 1}"
        payload["ticket"] = ticket
        self.received.append(payload)
        self.status[ticket] = "pending"
        self.tickets.put_nowait(payload)
        reply: dict[str, Any] = {"ticket": ticket}
        if self.status_urls:
            reply["statusUrl"] = f"{self.url}/status/{ticket}"
        return web.json_response(reply, status=201)

    async def _status(self, request: web.Request) -> web.Response:
        ticket = request.match_info["ticket"]
        return web.json_response({"status": self.status.get(ticket, "unknown"), "by": "carol"})

    async def next_ticket(self, within: float = 30) -> dict[str, Any]:
        return await asyncio.wait_for(self.tickets.get(), within)

    async def decide(
        self, ticket: dict[str, Any], decision: str, by: str = "alice", *, secret: str = SECRET, url: str | None = None
    ) -> tuple[int, Any]:
        """Send the decision to the gateway's callback (``url`` overrides the ticket's
        decisionUrl), signed with ``secret``."""
        body = json.dumps({"decision": decision, "by": by}).encode()
        headers = {"Content-Type": "application/json", **signed_headers(secret.encode(), body)}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or ticket["decisionUrl"], data=body, headers=headers) as response,
        ):
            return response.status, await response.json()


async def audit_rows(home: Path, database: Path, *args: str) -> list[dict[str, Any]]:
    """``agent-app-server gateway audit --json`` over ``database``."""
    from support.cli_process import cli

    ran = await cli(home, "gateway", "audit", "--json", "--audit", str(database), *args)
    assert ran.code == 0, ran.stderr
    return [json.loads(line) for line in ran.stdout.splitlines()]


#: The ``start_gateway`` fixture: ``start(servers, policy_text_or_path, *flags, ready=True)``.
StartGateway = Callable[..., Awaitable[GatewayProcess]]
