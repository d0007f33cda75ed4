"""process/spawn, process/writeStdin, process/resizePty and process/kill (experimental) through
the real server: the reply first, then output and exit as notifications; buffered and streamed
output, stdin, a PTY resized and killed, caps, timeouts, handles reused, the reference's errors,
the configured sandbox, and processes that die with their connection (stdio, in-process and
WebSocket). The server is configured
``danger-full-access`` unless a test is about the sandbox (process/spawn has no per-request policy)."""

from __future__ import annotations

import base64
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.processes import exited, pids_with
from support.server_process import ServerClient, Spawn
from support.ws_client import ws_servers


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def started(spawn: Spawn, codex_home: Path, *, sandbox_mode: str = "danger-full-access", **kwargs: Any) -> Any:
    (codex_home / "config.toml").write_text(f'sandbox_mode = "{sandbox_mode}"\n')
    server = await spawn(**kwargs)
    await server.initialize(experimental=True)
    return server


async def spawned(server: ServerClient, handle: str, command: list[str], cwd: Path, **params: Any) -> None:
    reply = await server.result(
        "process/spawn", {"command": command, "processHandle": handle, "cwd": str(cwd), **params}
    )
    assert reply == {}


async def exit_of(server: ServerClient, handle: str) -> dict[str, Any]:
    while True:
        note = await server.notification("process/exited", timeout=30)
        if note["params"]["processHandle"] == handle:
            params: dict[str, Any] = note["params"]
            return params


async def output_until(server: ServerClient, handle: str, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        note = await server.notification("process/outputDelta", timeout=30)
        assert note["params"]["processHandle"] == handle and note["params"]["stream"] == "stdout"
        seen += base64.b64decode(note["params"]["deltaBase64"])
    return seen


async def test_output_buffered_or_streamed_after_the_reply(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home, env={"DROP_ME": "dropped"})
    script = 'echo "$NEW|${DROP_ME-unset}"; pwd; echo oops >&2; exit 3'
    await spawned(server, "buffered", ["sh", "-c", script], tmp_path, env={"NEW": "new", "DROP_ME": None})
    assert await exit_of(server, "buffered") == {
        "processHandle": "buffered",
        "exitCode": 3,
        "stdout": f"new|unset\n{tmp_path}\n",
        "stderr": "oops\n",
        "stdoutCapReached": False,
        "stderrCapReached": False,
        "outputDrainTimedOut": False,
    }

    first = len(server.received)
    await spawned(
        server, "streamed", ["sh", "-c", "echo one; echo two >&2; echo three"], tmp_path, streamStdoutStderr=True
    )
    ended = await exit_of(server, "streamed")
    assert (ended["exitCode"], ended["stdout"], ended["stderr"]) == (0, "", "")
    # The reply came first; the exit last, after every chunk.
    messages = server.received[first:]
    assert "result" in messages[0]
    methods = [message.get("method") for message in messages[1:]]
    assert methods[-1] == "process/exited" and set(methods[:-1]) == {"process/outputDelta"}
    streams: dict[str, bytes] = {}
    for message in messages[1:-1]:
        params = message["params"]
        streams[params["stream"]] = streams.get(params["stream"], b"") + base64.b64decode(params["deltaBase64"])
    assert streams == {"stdout": b"one\nthree\n", "stderr": b"two\n"}


@pytest.mark.subprocess
async def test_a_pty_is_resized_written_to_and_killed(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home)
    script = "stty size; read line; echo got:$line; stty size; sleep 300"
    await spawned(server, "tty", ["sh", "-c", script], tmp_path, tty=True, size={"rows": 11, "cols": 55})
    assert b"11 55" in await output_until(server, "tty", b"11 55")
    assert await server.result("process/resizePty", {"processHandle": "tty", "size": {"rows": 12, "cols": 66}}) == {}
    # tty implies stdin streaming.
    assert await server.result("process/writeStdin", {"processHandle": "tty", "deltaBase64": b64(b"hello\n")}) == {}
    seen = await output_until(server, "tty", b"12 66")
    assert b"got:hello\r\n" in seen
    assert await server.result("process/kill", {"processHandle": "tty"}) == {}
    # Killed outright, as the reference (SIGKILL: 128 + 9).
    ended = await exit_of(server, "tty")
    assert (ended["exitCode"], ended["stdout"], ended["stderr"]) == (137, "", "")
    gone = await server.call("process/kill", {"processHandle": "tty"})
    assert gone["error"] == {"code": -32600, "message": 'no active process for process handle "tty"'}


async def test_stdin_caps_timeouts_and_handle_reuse(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home)
    await spawned(server, "cat", ["cat"], tmp_path, streamStdin=True, streamStdoutStderr=True)
    duplicate = await server.call("process/spawn", {"command": ["true"], "processHandle": "cat", "cwd": str(tmp_path)})
    assert duplicate["error"] == {"code": -32600, "message": 'duplicate active process handle: "cat"'}
    await server.result("process/writeStdin", {"processHandle": "cat", "deltaBase64": b64(b"abc ")})
    await server.result("process/writeStdin", {"processHandle": "cat", "deltaBase64": b64(b"def"), "closeStdin": True})
    assert await output_until(server, "cat", b"abc def") == b"abc def"
    assert (await exit_of(server, "cat"))["exitCode"] == 0
    # The handle is free again once its process exited.
    await spawned(server, "cat", ["true"], tmp_path)
    assert (await exit_of(server, "cat"))["exitCode"] == 0

    zeros = ["sh", "-c", "head -c 100 /dev/zero"]
    await spawned(server, "capped", zeros, tmp_path, outputBytesCap=10)
    capped = await exit_of(server, "capped")
    assert capped["stdout"] == "\0" * 10 and capped["stdoutCapReached"] is True
    await spawned(server, "capped-stream", zeros, tmp_path, outputBytesCap=10, streamStdoutStderr=True)
    delta = (await server.notification("process/outputDelta"))["params"]
    assert base64.b64decode(delta["deltaBase64"]) == b"\0" * 10 and delta["capReached"] is True
    assert (await exit_of(server, "capped-stream"))["stdoutCapReached"] is True
    # null: no cap at all.
    await spawned(server, "uncapped", ["sh", "-c", "head -c 2000000 /dev/zero"], tmp_path, outputBytesCap=None)
    uncapped = await exit_of(server, "uncapped")
    assert len(uncapped["stdout"]) == 2_000_000 and uncapped["stdoutCapReached"] is False

    await spawned(server, "slow", ["sleep", "300"], tmp_path, timeoutMs=200)
    assert (await exit_of(server, "slow"))["exitCode"] == 124


async def test_errors_are_the_references(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home)
    cwd = str(tmp_path)

    async def error(method: str, params: dict[str, Any]) -> dict[str, Any]:
        response = await server.call(method, params)
        assert "error" in response, response
        found: dict[str, Any] = response["error"]
        return found

    spawn_params = {"processHandle": "e", "cwd": cwd}
    assert await error("process/spawn", {**spawn_params, "command": []}) == {
        "code": -32600,
        "message": "command must not be empty",
    }
    assert await error("process/spawn", {**spawn_params, "command": ["true"], "processHandle": ""}) == {
        "code": -32600,
        "message": "processHandle must not be empty",
    }
    assert await error("process/spawn", {**spawn_params, "command": ["true"], "size": {"rows": 1, "cols": 1}}) == {
        "code": -32602,
        "message": "process/spawn size requires tty: true",
    }
    zero = {**spawn_params, "command": ["true"], "tty": True, "size": {"rows": 0, "cols": 1}}
    assert await error("process/spawn", zero) == {
        "code": -32602,
        "message": "process size rows and cols must be greater than 0",
    }
    assert await error("process/spawn", {**spawn_params, "command": ["true"], "timeoutMs": -1}) == {
        "code": -32602,
        "message": "process/spawn timeoutMs must be non-negative, got -1",
    }
    missing = await error("process/spawn", {**spawn_params, "command": [f"no-such-program-{uuid.uuid4().hex}"]})
    assert missing["code"] == -32603 and missing["message"].startswith("failed to spawn process: ")
    relative = await error("process/spawn", {**spawn_params, "command": ["true"], "cwd": "relative"})
    assert "absolute path" in relative["message"]

    await spawned(server, "quiet", ["sleep", "300"], tmp_path)
    assert await error("process/writeStdin", {"processHandle": "quiet"}) == {
        "code": -32602,
        "message": "process/writeStdin requires deltaBase64 or closeStdin",
    }
    bad = await error("process/writeStdin", {"processHandle": "quiet", "deltaBase64": "!!"})
    assert bad["code"] == -32602 and bad["message"].startswith("invalid deltaBase64")
    assert await error("process/writeStdin", {"processHandle": "quiet", "deltaBase64": b64(b"x")}) == {
        "code": -32600,
        "message": "stdin streaming is not enabled for this process",
    }
    assert await error("process/resizePty", {"processHandle": "quiet", "size": {"rows": 3, "cols": 3}}) == {
        "code": -32600,
        "message": "failed to resize PTY: process is not attached to a PTY",
    }
    assert await error("process/resizePty", {"processHandle": "nope", "size": {"rows": 3, "cols": 3}}) == {
        "code": -32600,
        "message": 'no active process for process handle "nope"',
    }
    await server.result("process/kill", {"processHandle": "quiet"})
    assert (await exit_of(server, "quiet"))["exitCode"] == 137


@pytest.mark.compat("process:spawn-sandboxed")
@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (scripts/dev.sh)")
async def test_the_configured_sandbox_applies(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home, sandbox_mode="read-only")
    target = tmp_path / "written"
    await spawned(server, "w", ["sh", "-c", f"echo readable; touch {target}"], tmp_path)
    ended = await exit_of(server, "w")
    assert ended["stdout"] == "readable\n" and ended["exitCode"] != 0
    assert not target.exists()


async def test_processes_die_with_their_connection(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await started(spawn, codex_home)
    marker = f"agent-process-{uuid.uuid4().hex}"
    await spawned(server, "bg", ["sh", "-c", f"echo up; sleep 300; : {marker}"], tmp_path, streamStdoutStderr=True)
    await output_until(server, "bg", b"up")
    pids = pids_with(marker, anywhere=True)
    assert pids
    await server.stop(timeout=20)
    await exited(*pids)


async def test_the_methods_need_the_experimental_opt_in(spawn: Spawn, tmp_path: Path) -> None:
    server = await spawn()
    await server.initialize()
    refused = await server.call("process/spawn", {"command": ["true"], "processHandle": "x", "cwd": str(tmp_path)})
    assert refused["error"]["code"] == -32600 and "experimentalApi" in refused["error"]["message"]


async def test_handles_belong_to_their_websocket_connection(codex_home: Path, tmp_path: Path) -> None:
    (codex_home / "config.toml").write_text('sandbox_mode = "danger-full-access"\n')
    marker = f"agent-process-{uuid.uuid4().hex}"
    async with ws_servers(codex_home, tmp_path) as ws_spawn:
        server = await ws_spawn()
        owner, other = await server.client(name="owner"), await server.client(name="other")
        for client in (owner, other):
            await client.initialize(experimental=True)
        script = f"stty size; read line; echo got:$line; sleep 300; : {marker}"
        params = {"command": ["sh", "-c", script], "processHandle": "tty", "cwd": str(tmp_path), "tty": True}
        assert await owner.result("process/spawn", params) == {}
        seen = b""
        while b"24 80" not in seen:
            note = await owner.notification("process/outputDelta")
            seen += base64.b64decode(note["params"]["deltaBase64"])
        # The other connection has no such handle (and may use the same name for its own).
        refused = await other.call("process/kill", {"processHandle": "tty"})
        assert refused["error"] == {"code": -32600, "message": 'no active process for process handle "tty"'}
        assert await owner.result("process/writeStdin", {"processHandle": "tty", "deltaBase64": b64(b"hi\n")}) == {}
        while b"got:hi" not in seen:
            note = await owner.notification("process/outputDelta")
            seen += base64.b64decode(note["params"]["deltaBase64"])
        pids = pids_with(marker, anywhere=True)
        assert pids
        # Closing the owner's connection kills what it spawned; the other saw none of it.
        await owner.close()
        await exited(*pids)
        assert not any(m.get("method", "").startswith("process/") for m in other.received)
