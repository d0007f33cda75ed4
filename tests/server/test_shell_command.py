"""``thread/shellCommand`` (the TUI's ``!cmd``) through the real server: a standalone turn with a
``userShell`` commandExecution item, unsandboxed, and what the model sees of it afterwards."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, text_reply
from support.model_config import write_mock_config
from support.server_process import ServerProcess, Spawn


async def until_turn_completed(server: ServerProcess) -> list[dict[str, Any]]:
    seen = []
    while True:
        message = await server.notification(timeout=30)
        seen.append(message)
        if message["method"] == "turn/completed":
            return seen


async def test_shell_command_runs_as_its_own_turn(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, tmp_path: Path
) -> None:
    write_mock_config(codex_home, model.base_url)  # sandbox_mode defaults to read-only
    server = await spawn(env={"MOCK_API_KEY": "k", "SHELL": "/bin/sh"})
    await server.initialize()
    thread_id = (await server.result("thread/start", {"cwd": str(tmp_path)}))["thread"]["id"]
    await server.notification("thread/started")

    command = "printf 'hello from bang\\n' > made.txt; cat made.txt; grep Seccomp: /proc/self/status"
    assert await server.result("thread/shellCommand", {"threadId": thread_id, "command": f"  {command}  "}) == {}
    seen = await until_turn_completed(server)
    methods = [m["method"] for m in seen]
    assert methods[:3] == ["thread/status/changed", "turn/started", "item/started"]
    assert methods[-2:] == ["thread/status/changed", "turn/completed"]
    started = seen[2]["params"]["item"]
    assert started["type"] == "commandExecution"
    assert started["source"] == "userShell" and started["status"] == "inProgress"
    assert started["command"] == shlex.join(["/bin/sh", "-lc", command])
    assert started["cwd"] == str(tmp_path)
    assert started["commandActions"] == [{"type": "unknown", "command": command}]
    deltas = "".join(m["params"]["delta"] for m in seen if m["method"] == "item/commandExecution/outputDelta")
    assert deltas == "hello from bang\nSeccomp:\t0\n"
    completed = next(m["params"]["item"] for m in seen if m["method"] == "item/completed")
    assert completed["id"] == started["id"]
    assert completed["status"] == "completed" and completed["exitCode"] == 0
    assert completed["aggregatedOutput"] == "hello from bang\nSeccomp:\t0\n"
    assert isinstance(completed["durationMs"], int)
    assert seen[-1]["params"]["turn"]["status"] == "completed"
    # Unsandboxed although the thread's policy is read-only.
    assert (tmp_path / "made.txt").read_text() == "hello from bang\n"

    failing = await server.result("thread/shellCommand", {"threadId": thread_id, "command": "echo bad >&2; exit 3"})
    assert failing == {}
    seen = await until_turn_completed(server)
    failed = next(m["params"]["item"] for m in seen if m["method"] == "item/completed")
    assert failed["status"] == "failed" and failed["exitCode"] == 3
    assert failed["aggregatedOutput"] == "bad\n"

    # The next model request carries the commands and their results.
    model.enqueue(text_reply("noted"))
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "what ran?"}]})
    await until_turn_completed(server)
    sent = json.dumps(model.requests[-1].body["input"])
    assert "<user_shell_command>" in sent
    assert "Exit code: 0" in sent and "hello from bang" in sent
    assert "Exit code: 3" in sent


@pytest.mark.compat("shell:model-output")
async def test_the_model_sees_a_bounded_head_and_tail_of_long_output(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, tmp_path: Path
) -> None:
    write_mock_config(codex_home, model.base_url)
    server = await spawn(env={"MOCK_API_KEY": "k", "SHELL": "/bin/sh"})
    await server.initialize()
    thread_id = (await server.result("thread/start", {"cwd": str(tmp_path)}))["thread"]["id"]
    # 100,000 characters: a head marker, filler, a tail marker.
    command = "printf HEAD; head -c 99992 /dev/zero | tr '\\0' x; printf TAIL"
    await server.result("thread/shellCommand", {"threadId": thread_id, "command": command})
    seen = await until_turn_completed(server)
    item = next(m["params"]["item"] for m in seen if m["method"] == "item/completed")
    assert len(item["aggregatedOutput"]) == 100_000  # the client gets all of it

    model.enqueue(text_reply("noted"))
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "and?"}]})
    await until_turn_completed(server)
    (record,) = [
        part["text"]
        for item in model.requests[-1].body["input"]
        if item.get("type") == "message"
        for part in item["content"]
        if "<user_shell_command>" in part.get("text", "")
    ]
    output = record.split("Output:\n", 1)[1].split("\n</result>", 1)[0]
    assert output.startswith("HEAD") and output.endswith("TAIL")
    assert "[... 60000 characters of output omitted ...]" in output
    assert len(output.replace("\n[... 60000 characters of output omitted ...]\n", "")) == 40_000


async def test_shell_command_errors(server: ServerProcess) -> None:
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    empty = await server.call("thread/shellCommand", {"threadId": thread_id, "command": "   "})
    assert empty["error"] == {"code": -32600, "message": "command must not be empty"}
    unknown = await server.call(
        "thread/shellCommand", {"threadId": "00000000-0000-7000-8000-000000000000", "command": "true"}
    )
    assert "error" in unknown
