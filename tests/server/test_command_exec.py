"""``command/exec`` through the real server: buffered and streaming runs, PTYs, stdin, resize,
terminate, env, output caps, timeouts, the reference's validation errors, and processes that
die with their connection. Unsandboxed (dangerFullAccess) unless a test is about the sandbox."""

from __future__ import annotations

import asyncio
import base64
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from support.processes import alive, exited, pids_with
from support.server_process import ServerProcess, Spawn

FULL = {"type": "dangerFullAccess"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def exec_full(server: ServerProcess, command: list[str], **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = await server.result(
        "command/exec", {"command": command, "sandboxPolicy": FULL, **params}, timeout=30
    )
    return result


async def deltas_until(server: ServerProcess, process_id: str, needle: bytes) -> bytes:
    seen = b""
    while needle not in seen:
        note = await server.notification("command/exec/outputDelta")
        assert note["params"]["processId"] == process_id
        seen += base64.b64decode(note["params"]["deltaBase64"])
    return seen


async def test_buffered_run_env_and_cwd(spawn: Spawn, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    server = await spawn(cwd=tmp_path, env={"KEEP_ME": "kept", "DROP_ME": "dropped"})
    await server.initialize()
    result = await exec_full(
        server,
        ["sh", "-c", 'echo "$KEEP_ME|${DROP_ME-unset}|$NEW_VAR"; pwd; echo oops >&2; exit 7'],
        env={"DROP_ME": None, "NEW_VAR": "new"},
    )
    assert result == {"exitCode": 7, "stdout": f"kept|unset|new\n{tmp_path}\n", "stderr": "oops\n"}
    relative = await exec_full(server, ["pwd"], cwd="sub")
    assert relative["stdout"] == f"{tmp_path / 'sub'}\n"


async def test_streaming_sends_deltas_before_an_empty_reply(server: ServerProcess) -> None:
    reply = asyncio.ensure_future(
        exec_full(
            server,
            ["sh", "-c", "echo one; echo two >&2; echo three"],
            processId="s1",
            streamStdoutStderr=True,
        )
    )
    result = await asyncio.wait_for(reply, 30)
    assert result == {"exitCode": 0, "stdout": "", "stderr": ""}
    streams: dict[str, bytes] = {}
    for note in server.drain_notifications():
        assert note["method"] == "command/exec/outputDelta"
        params = note["params"]
        assert params["processId"] == "s1" and params["capReached"] is False
        streams[params["stream"]] = streams.get(params["stream"], b"") + base64.b64decode(params["deltaBase64"])
    assert streams == {"stdout": b"one\nthree\n", "stderr": b"two\n"}


async def test_stdin_streaming_write_and_close(server: ServerProcess) -> None:
    reply = asyncio.ensure_future(
        exec_full(
            server,
            ["sh", "-c", "echo ready; cat; echo done"],
            processId="cat",
            streamStdin=True,
            streamStdoutStderr=True,
        )
    )
    await deltas_until(server, "cat", b"ready")
    assert await server.result("command/exec/write", {"processId": "cat", "deltaBase64": b64(b"abc ")}) == {}
    closing = {"processId": "cat", "deltaBase64": b64(b"def"), "closeStdin": True}
    assert await server.result("command/exec/write", closing) == {}
    assert await deltas_until(server, "cat", b"done") == b"abc defdone\n"
    assert await asyncio.wait_for(reply, 30) == {"exitCode": 0, "stdout": "", "stderr": ""}


@pytest.mark.compat("exec:terminate-exit-code")
async def test_tty_echo_resize_and_terminate(server: ServerProcess) -> None:
    reply = asyncio.ensure_future(
        exec_full(
            server,
            ["sh", "-c", "stty size; read line; echo got:$line; stty size; sleep 300"],
            processId="tty1",
            tty=True,
            size={"rows": 11, "cols": 55},
        )
    )
    assert b"11 55" in await deltas_until(server, "tty1", b"11 55")
    assert await server.result("command/exec/resize", {"processId": "tty1", "size": {"rows": 12, "cols": 66}}) == {}
    assert await server.result("command/exec/write", {"processId": "tty1", "deltaBase64": b64(b"hello\n")}) == {}
    seen = await deltas_until(server, "tty1", b"12 66")
    assert b"hello\r\n" in seen and b"got:hello\r\n" in seen
    assert await server.result("command/exec/terminate", {"processId": "tty1"}) == {}
    result = await asyncio.wait_for(reply, 30)
    assert result["exitCode"] == 143 and result["stdout"] == "" and result["stderr"] == ""
    gone = await server.call("command/exec/terminate", {"processId": "tty1"})
    assert gone["error"] == {"code": -32600, "message": 'no active command/exec for process id "tty1"'}


@pytest.mark.compat("exec:cap-keeps-draining")
async def test_output_cap_and_timeout(server: ServerProcess) -> None:
    capped = await exec_full(server, ["sh", "-c", "printf 0123456789; printf abcdefghij >&2"], outputBytesCap=4)
    assert capped == {"exitCode": 0, "stdout": "0123", "stderr": "abcd"}
    # Past the cap the rest is still read (and dropped): a megabyte through a 4-byte cap does not
    # block on a full pipe until the timeout.
    chatty = await exec_full(server, ["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"], outputBytesCap=4)
    assert chatty == {"exitCode": 0, "stdout": "xxxx", "stderr": ""}
    big = await exec_full(server, ["sh", "-c", "head -c 1100000 /dev/zero | tr '\\0' x"])
    assert len(big["stdout"]) == 1024 * 1024
    uncapped = await exec_full(server, ["sh", "-c", "head -c 1100000 /dev/zero | tr '\\0' x"], disableOutputCap=True)
    assert len(uncapped["stdout"]) == 1100000

    streamed = asyncio.ensure_future(
        exec_full(server, ["sh", "-c", "printf 0123456789"], processId="cap", streamStdoutStderr=True, outputBytesCap=6)
    )
    assert (await asyncio.wait_for(streamed, 30))["stdout"] == ""
    notes = [note["params"] for note in server.drain_notifications()]
    assert b"".join(base64.b64decode(n["deltaBase64"]) for n in notes) == b"012345"
    assert notes[-1]["capReached"] is True and all(not n["capReached"] for n in notes[:-1])

    timed_out = await exec_full(server, ["sh", "-c", "echo started; sleep 300"], timeoutMs=300)
    assert timed_out == {"exitCode": 124, "stdout": "started\n", "stderr": ""}


@pytest.mark.compat("exec:terminate-exit-code")
async def test_terminate_kills_the_process_tree(server: ServerProcess, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    reply = asyncio.ensure_future(
        exec_full(
            server,
            ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; echo ready; wait"],
            processId="tree",
            streamStdoutStderr=True,
            disableTimeout=True,
        )
    )
    await deltas_until(server, "tree", b"ready")
    grandchild = int(pid_file.read_text())
    assert alive(grandchild)
    await server.result("command/exec/terminate", {"processId": "tree"})
    assert (await asyncio.wait_for(reply, 30))["exitCode"] == 143
    await exited(grandchild)


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"command": []}, -32600, "command must not be empty"),
        (
            {"command": ["true"], "tty": True},
            -32600,
            "command/exec tty or streaming requires a client-supplied processId",
        ),
        (
            {"command": ["true"], "streamStdin": True},
            -32600,
            "command/exec tty or streaming requires a client-supplied processId",
        ),
        ({"command": ["true"], "size": {"rows": 2, "cols": 2}}, -32602, "command/exec size requires tty: true"),
        (
            {"command": ["true"], "timeoutMs": 5, "disableTimeout": True},
            -32602,
            "command/exec cannot set both timeoutMs and disableTimeout",
        ),
        (
            {"command": ["true"], "outputBytesCap": 5, "disableOutputCap": True},
            -32602,
            "command/exec cannot set both outputBytesCap and disableOutputCap",
        ),
        ({"command": ["true"], "timeoutMs": -1}, -32602, "command/exec timeoutMs must be non-negative, got -1"),
        (
            {"command": ["true"], "processId": "p", "tty": True, "size": {"rows": 0, "cols": 2}},
            -32602,
            "command/exec size rows and cols must be greater than 0",
        ),
    ],
)
async def test_validation_errors(server: ServerProcess, params: dict[str, Any], code: int, message: str) -> None:
    response = await server.call("command/exec", {**params, "sandboxPolicy": FULL})
    assert response["error"] == {"code": code, "message": message}


@pytest.mark.compat("exec:permission-profile")
async def test_a_permission_profile_is_refused_not_ignored(spawn: Spawn, tmp_path: Path) -> None:
    server = await spawn()
    await server.initialize(experimental=True)
    marker = tmp_path / "ran"
    response = await server.call(
        "command/exec", {"command": ["sh", "-c", f": > {marker}"], "permissionProfile": {"fileSystem": {}}}
    )
    assert response["error"]["code"] == -32602
    assert (
        "`permissionProfile` is not supported by this server; send `sandboxPolicy` instead"
        in (response["error"]["message"])
    )
    assert not marker.exists()


async def test_control_errors(server: ServerProcess) -> None:
    assert (await server.call("command/exec/write", {"processId": "nope", "closeStdin": True}))["error"] == {
        "code": -32600,
        "message": 'no active command/exec for process id "nope"',
    }
    assert (await server.call("command/exec/write", {"processId": "nope"}))["error"] == {
        "code": -32602,
        "message": "command/exec/write requires deltaBase64 or closeStdin",
    }
    reply = asyncio.ensure_future(
        exec_full(server, ["sh", "-c", "echo up; sleep 300"], processId="busy", streamStdoutStderr=True)
    )
    await deltas_until(server, "busy", b"up")
    duplicate = await server.call(
        "command/exec", {"command": ["true"], "processId": "busy", "streamStdoutStderr": True, "sandboxPolicy": FULL}
    )
    assert duplicate["error"] == {"code": -32600, "message": 'duplicate active command/exec process id: "busy"'}
    no_stdin = await server.call("command/exec/write", {"processId": "busy", "deltaBase64": b64(b"x")})
    assert no_stdin["error"] == {"code": -32600, "message": "stdin streaming is not enabled for this command/exec"}
    not_tty = await server.call("command/exec/resize", {"processId": "busy", "size": {"rows": 3, "cols": 3}})
    assert not_tty["error"] == {"code": -32600, "message": "failed to resize PTY: process is not attached to a PTY"}
    await server.result("command/exec/terminate", {"processId": "busy"})
    assert (await asyncio.wait_for(reply, 30))["exitCode"] == 143


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (scripts/dev.sh)")
async def test_processes_die_with_their_connection(spawn: Spawn) -> None:
    server = await spawn()
    await server.initialize()
    markers = {name: f"agent-exec-{uuid.uuid4().hex}" for name in ("plain", "sandboxed")}
    replies = []
    for name, policy in (("plain", FULL), ("sandboxed", {"type": "readOnly"})):
        reply = asyncio.ensure_future(
            server.call(
                "command/exec",
                {
                    "command": ["sh", "-c", f"echo up; sleep 300; : {markers[name]}"],
                    "processId": name,
                    "streamStdoutStderr": True,
                    "disableTimeout": True,
                    "sandboxPolicy": policy,
                },
                timeout=60,
            )
        )
        replies.append(reply)
        await deltas_until(server, name, b"up")
    assert running(markers["plain"]) and running(markers["sandboxed"])
    await server.stop(timeout=20)
    await exited(*running(markers["plain"]), *running(markers["sandboxed"]))
    # Each request got its one answer (the killed command's exit) or none once stdout closed.
    for reply in replies:
        assert reply.done()


def running(marker: str) -> list[int]:
    """The processes whose command line has ``marker`` in it."""
    return pids_with(marker, anywhere=True)
