"""Network rules of the enforced sandbox, through ``command/exec`` of the real server
(security-tests.md §5 cases 4 and 5), against a 127.0.0.1 listener the test owns."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from support.server_process import Spawn

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (scripts/dev.sh)")

PROBE = """
import errno, socket, sys
port = int(sys.argv[1])
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"hello")
    s.close()
    print("connect ok")
except OSError as exc:
    print("connect failed", errno.errorcode.get(exc.errno, exc.errno))
a, b = socket.socketpair(socket.AF_UNIX)
a.sendall(b"x")
print("socketpair ok" if b.recv(1) == b"x" else "socketpair broken")
try:
    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    print("vsock ok")
except OSError as exc:
    print("vsock failed", errno.errorcode.get(exc.errno, exc.errno))
"""


class Listener:
    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    state = Listener()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


async def run_probe(spawn: Spawn, listener: Listener, policy: dict[str, Any]) -> list[str]:
    server = await spawn()
    await server.initialize()
    command = [sys.executable, "-I", "-c", PROBE, str(listener.port)]
    result = await server.result("command/exec", {"command": command, "sandboxPolicy": policy}, timeout=60)
    assert result["exitCode"] == 0, result
    lines: list[str] = result["stdout"].splitlines()
    return lines


@pytest.mark.parametrize("policy", [{"type": "readOnly"}, {"type": "workspaceWrite"}])
async def test_network_off_blocks_inet_but_not_unix_sockets(
    spawn: Spawn, listener: Listener, policy: dict[str, Any]
) -> None:
    lines = await run_probe(spawn, listener, policy)
    assert lines[0] in ("connect failed EPERM", "connect failed ENETUNREACH")
    assert lines[1:] == ["socketpair ok", "vsock failed EPERM"]
    assert listener.connections == 0


async def test_network_on_connects_but_vsock_stays_denied(spawn: Spawn, listener: Listener) -> None:
    lines = await run_probe(spawn, listener, {"type": "workspaceWrite", "networkAccess": True})
    assert lines == ["connect ok", "socketpair ok", "vsock failed EPERM"]
    assert listener.connections == 1
