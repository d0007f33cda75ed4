"""exec_command / write_stdin through the real server: real commands in the real sandbox."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import exec_args, run_turn, start_thread, tool_outputs
from support.processes import exited, pids_with
from support.server_process import ServerProcess

OUTPUT_FORMAT = re.compile(
    r"^Chunk ID: [0-9a-f]{6}\nWall time: \d+\.\d{4} seconds\nProcess exited with code (\d+)\n"
    r"Original token count: \d+\nOutput:\n(.*)$",
    re.DOTALL,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


async def test_exec_command_runs_sandboxed_and_reports(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply("exec_command", exec_args("echo hello; cat /proc/self/status | grep ^Seccomp"), "call_1"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id)
    assert log.completed["status"] == "completed"
    sequence = [method for method in log.methods() if "commandExecution" in method]
    assert sequence[0] == "item/started:commandExecution" and sequence[-1] == "item/completed:commandExecution"
    assert set(sequence[1:-1]) == {"item/commandExecution/outputDelta"}
    started = log.items("commandExecution", "item/started")[0]
    assert started["source"] == "unifiedExecStartup" and started["processId"].isdigit()
    shell = os.environ.get("SHELL") or "/bin/bash"
    assert started["command"] == f"{shell} -c 'echo hello; cat /proc/self/status | grep ^Seccomp'"
    completed = log.items("commandExecution")[0]
    assert completed["status"] == "completed" and completed["exitCode"] == 0
    assert completed["aggregatedOutput"].startswith("hello\nSeccomp:\t2")
    assert isinstance(completed["durationMs"], int)
    deltas = "".join(
        m["params"]["delta"] for m in log.notifications if m["method"] == "item/commandExecution/outputDelta"
    )
    assert deltas == completed["aggregatedOutput"]
    output = tool_outputs(model.requests[1].body)["call_1"]
    match = OUTPUT_FORMAT.match(output)
    assert match is not None, output
    assert match.group(1) == "0" and match.group(2).startswith("hello\n")


async def test_long_running_session_and_write_stdin(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply("exec_command", exec_args("echo ready; read x; echo got $x", yield_time_ms=500), "call_1")
    )

    def second(request: Any) -> Any:
        output = tool_outputs(request.body)["call_1"]
        session = re.search(r"Process running with session ID (\d+)", output)
        assert session is not None, output
        return function_call_reply(
            "write_stdin", json.dumps({"session_id": int(session.group(1)), "chars": "hello\n"}), "call_2"
        )

    model.enqueue(second, text_reply("done"))
    log = await run_turn(agent, thread_id)
    assert log.completed["status"] == "completed"
    first = tool_outputs(model.requests[1].body)["call_1"]
    assert "Process running with session ID" in first and "ready" in first
    after = tool_outputs(model.requests[2].body)["call_2"]
    assert "Process exited with code 0" in after and "got hello" in after
    interaction = [m for m in log.notifications if m["method"] == "item/commandExecution/terminalInteraction"]
    assert interaction and interaction[0]["params"]["stdin"] == "hello\n"
    assert interaction[0]["params"]["itemId"] == "call_1"
    completed = log.items("commandExecution")
    assert len(completed) == 1 and completed[0]["exitCode"] == 0
    assert "got hello" in completed[0]["aggregatedOutput"]


@pytest.mark.compat("tools:background-completion")
async def test_a_command_outliving_its_turn_completes_when_it_exits(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    gate = workspace / "gate"
    os.mkfifo(gate)
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    script = "echo started; read line < gate; echo finished $line"
    model.enqueue(function_call_reply("exec_command", exec_args(script, yield_time_ms=500), "call_1"), text_reply("ok"))
    log = await run_turn(agent, thread_id)
    output = tool_outputs(model.requests[1].body)["call_1"]
    assert "Process running with session ID" in output and "started" in output
    assert log.completed["status"] == "completed"
    assert log.items("commandExecution") == [], "still running when the turn ended"

    def release() -> None:
        with gate.open("w") as writer:  # the command is already waiting to read
            writer.write("go\n")

    await asyncio.wait_for(asyncio.to_thread(release), 30)
    completed = await agent.notification("item/completed", timeout=30)
    item = completed["params"]["item"]
    assert item["id"] == "call_1" and item["status"] == "completed" and item["exitCode"] == 0
    assert item["aggregatedOutput"] == "started\nfinished go\n"
    assert completed["params"]["turnId"] == log.reply["turn"]["id"]


async def test_unknown_session_and_bad_arguments(agent: ServerProcess, model: FakeModelServer, workspace: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply("write_stdin", json.dumps({"session_id": 4242, "chars": ""}), "call_1"),
        function_call_reply("exec_command", "{not json", "call_2"),
        text_reply("done"),
    )
    await run_turn(agent, thread_id)
    assert tool_outputs(model.requests[1].body)["call_1"] == "write_stdin failed: Unknown process id 4242"
    assert tool_outputs(model.requests[2].body)["call_2"].startswith("failed to parse function arguments")


async def test_output_is_bounded_and_says_what_was_cut(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply("exec_command", exec_args("seq 1 20000", max_output_tokens=50), "call_1"),
        text_reply("done"),
    )
    log = await run_turn(agent, thread_id)
    output = tool_outputs(model.requests[1].body)["call_1"]
    assert "Warning: truncated output (original token count: " in output
    assert "Total output lines: 20000" in output
    assert re.search(r"…\d+ tokens truncated…", output)
    assert output.rstrip().endswith("20000") and "\n1\n2\n3\n" in output
    assert len(output) < 600
    assert log.items("commandExecution")[0]["aggregatedOutput"].endswith("19999\n20000\n")


async def test_tty_command_gets_a_terminal(agent: ServerProcess, model: FakeModelServer, workspace: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(
        function_call_reply(
            "exec_command", exec_args("test -t 0 && test -t 1 && echo on-a-terminal", tty=True), "call_1"
        ),
        text_reply("done"),
    )
    await run_turn(agent, thread_id)
    assert "on-a-terminal\r\n" in tool_outputs(model.requests[1].body)["call_1"]


async def _poll_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Nothing signals that a process has appeared: look every 50 ms."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


@pytest.mark.parametrize("sandbox", ["workspace-write", "danger-full-access"])
async def test_interrupt_kills_the_whole_process_tree(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, sandbox: str
) -> None:
    marker = str(900_000 + os.getpid() % 10_000 + (7 if sandbox == "danger-full-access" else 3))
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox=sandbox)
    model.enqueue(
        function_call_reply(
            "exec_command", exec_args(f"sleep {marker} & sleep {marker}; echo never", yield_time_ms=30_000), "call_1"
        )
    )
    reply = await agent.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    await agent.notification("item/started")  # the user message
    started = await agent.notification("item/started")
    assert started["params"]["item"]["type"] == "commandExecution"
    await _poll_until(lambda: len(pids_with(marker)) >= 2)
    await agent.result("turn/interrupt", {"threadId": thread_id, "turnId": reply["turn"]["id"]})
    completed = await agent.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "interrupted"
    await exited(*pids_with(marker))
    assert len(model.requests) == 1
