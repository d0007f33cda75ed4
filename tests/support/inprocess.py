"""Our ``AppServer`` in the test's own event loop, on the in-memory transport pair, driven
through the same API as :class:`support.server_process.ServerProcess`.

What a process gave for free is kept: its own CODEX_HOME and config (the command line's ``-c``
and ``--idle-thread-unload-seconds`` flags are parsed by the real parser), the environment and
working directory the test asks for, start-up errors as ``error: ...`` with exit code 1, a
captured log (``stderr``), and a clean shutdown (``AppServer.close``) when the client is done.
The environment and cwd are process-wide, so they are set through the test's ``MonkeyPatch`` and
undone when the test ends; two servers in one test share them. A test whose subject is the
transport, the process (its pid, exit codes, signals) or a crash uses the real process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.cli import COMMANDS, DEFAULT_COMMAND
from agent_app_server.commands import serve as serve_command
from agent_app_server.core.config import ConfigError, load_config
from agent_app_server.server.app import AppServer
from agent_app_server.transport.memory import MemoryStream, memory_pair

from .server_process import ServerClient

#: What the process would print on stderr: every logger's warnings (asyncio's too), so a test
#: checking that no secret is logged sees all of it.
SERVER_LOGGER = ""
LOG_FORMAT = "agent-app-server %(levelname)s: %(message)s"


class InProcessServer(ServerClient):
    def __init__(self, codex_home: Path, *, patch: pytest.MonkeyPatch, **kwargs: Any) -> None:
        super().__init__(codex_home, **kwargs)
        self._patch = patch
        self.app: AppServer | None = None
        self.returncode: int | None = None
        self._client: MemoryStream | None = None
        self._server_end: MemoryStream | None = None
        self._serving: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._partial = b""
        self._log = io.StringIO()
        self._log_handler = logging.StreamHandler(self._log)
        self._log_handler.setFormatter(logging.Formatter(LOG_FORMAT))
        self._log_handler.setLevel(logging.WARNING)

    async def start(self) -> InProcessServer:
        args = _serve_args(list(self.args))
        if args is None or args.listen.kind != "stdio":
            raise ValueError(f"{self.args} needs the real process: spawn(..., process=True)")
        self._patch.setenv("CODEX_HOME", str(self.codex_home))
        for name, value in self.env.items():
            self._patch.setenv(name, value)
        if self.cwd is not None:
            self._patch.chdir(self.cwd)
        logging.getLogger(SERVER_LOGGER).addHandler(self._log_handler)
        try:
            config = load_config(self.codex_home, args.overrides)
        except ConfigError as exc:
            self._log.write(f"error: {exc}\n")
            self._exited(1)
            return self
        for warning in config.warnings:
            logging.getLogger(SERVER_LOGGER).warning("%s (%s)", warning.summary, warning.path)
        self.app = await AppServer.open(config)
        if (idle := args.idle_thread_unload_seconds) is not None:  # else the server's default
            self.app.idle_unload_after_s = None if idle <= 0 else float(idle)
        self.app.start_background()
        self._client, self._server_end = memory_pair()
        self._serving = asyncio.create_task(self.app.serve(self._server_end), name="in-process-server")
        self._reader = asyncio.create_task(self._read(self._client), name="in-process-client")
        return self

    @property
    def running(self) -> bool:
        return self.returncode is None and self._serving is not None

    @property
    def pid(self) -> int:
        return os.getpid()

    async def _read(self, client: MemoryStream) -> None:
        while (message := await client.receive()) is not None:
            self._on_line(message)
        self._on_eof()

    async def send_raw(self, data: bytes) -> None:
        """Frame like the stdio transport: one message per line, a partial line waits for its end."""
        if self._client is None or not self.running:
            raise ConnectionResetError("the in-process server is not running")
        *lines, self._partial = (self._partial + data).split(b"\n")
        await self._client.send_many([line.decode() for line in lines if line.strip()])

    async def stop(self, timeout: float = 10) -> int:
        """The client closes its side; the server drains, then closes (as the process does at EOF)."""
        if self._client is not None and self.returncode is None:
            await self._client.close()
            assert self._serving is not None
            try:
                await asyncio.wait_for(asyncio.shield(self._serving), timeout)
            except TimeoutError:
                await self._cancel_serving()
            await self._shut_down()
        return self.returncode or 0

    async def kill(self) -> None:
        """Stop serving at once (in-flight requests get no answer). The server still closes its
        store: an in-process server cannot die like a killed process; crash tests use one."""
        if self.returncode is None and self._serving is not None:
            await self._cancel_serving()
            await self._shut_down()

    async def _cancel_serving(self) -> None:
        assert self._serving is not None
        self._serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._serving

    async def _shut_down(self) -> None:
        assert self.app is not None and self._server_end is not None
        try:
            await self.app.close()
        finally:
            await self._server_end.close()
            if self._reader is not None:
                await asyncio.wait_for(self._reader, 5)
            self._exited(0)

    def _exited(self, code: int) -> None:
        self.returncode = code
        logging.getLogger(SERVER_LOGGER).removeHandler(self._log_handler)
        self.stderr = self._log.getvalue().encode()
        self._on_eof()


def _serve_args(argv: list[str]) -> argparse.Namespace | None:
    """The flags of the serving command, parsed as the real command line does; None for another
    command (which needs the real process)."""
    if argv and argv[0] in COMMANDS:
        if argv[0] != DEFAULT_COMMAND:
            return None
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="agent-app-server")
    serve_command.add_arguments(parser)
    return parser.parse_args(argv)
