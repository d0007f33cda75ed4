"""Approvals through the real server: each decision, the retry rules after a sandbox denial
(security-tests.md §5 cases 8-10), and what a waiting approval does to the thread."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args, run_turn, start_agent, start_thread, tool_outputs
from support.model_config import write_mock_config
from support.server_process import ServerClient, ServerProcess, Spawn

REJECTED = 'exec_command failed: CreateProcess { message: "Rejected(\\"rejected by user\\")" }'
GRANULAR = {"granular": {"sandbox_approval": True, "rules": True, "mcp_elicitations": True}}
NOISE = ("thread/tokenUsage/updated", "account/rateLimits/updated", "item/commandExecution/outputDelta")


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> ServerClient:
    return await start_agent(spawn, codex_home, model, experimental=True)


def enqueue_commands(model: FakeModelServer, *commands: str) -> None:
    """The model runs each command in turn (call ids ``call_1``, ``call_2``...), then says done."""
    calls = [function_call_reply("exec_command", exec_args(c), f"call_{n}") for n, c in enumerate(commands, 1)]
    model.enqueue(*calls, text_reply("done"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def statuses(log: Any) -> list[list[str]]:
    return [
        m["params"]["status"].get("activeFlags", [])
        for m in log.notifications
        if m["method"] == "thread/status/changed" and m["params"]["status"]["type"] == "active"
    ]


@pytest.mark.compat("tools:available-decisions")
async def test_untrusted_accept_asks_first_with_the_reference_order(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    log = await run_turn(agent, thread_id, answer=["accept"])
    assert (workspace / "out.txt").read_text() == "hi\n"
    methods = log.methods(skip=NOISE)
    at = methods.index("item/started:commandExecution")
    assert methods[at - 1 : at + 6] == [
        "thread/status/changed",
        "item/started:commandExecution",
        "item/commandExecution/requestApproval",
        "serverRequest/resolved",
        "thread/status/changed",
        "item/completed:commandExecution",
        "item/started:agentMessage",
    ]
    assert statuses(log)[:3] == [[], ["waitingOnApproval"], []]
    started = log.items("commandExecution", "item/started")[0]
    assert started["processId"] is None and started["source"] == "agent"
    request = log.requests[0]["params"]
    assert request["kind"] == "command" and request["itemId"] == "call_1" and "reason" not in request
    assert request["commandActions"] == [{"type": "unknown", "command": "echo hi > out.txt"}]
    assert request["proposedExecpolicyAmendment"] == [started["command"].split(" ")[0], "-c", "echo hi > out.txt"]
    assert {"decline", "acceptForSession", "accept", "cancel"} <= {
        d for d in request["availableDecisions"] if isinstance(d, str)
    }
    resolved = next(m for m in log.notifications if m["method"] == "serverRequest/resolved")
    assert resolved["params"] == {"threadId": thread_id, "requestId": log.requests[0]["id"]}
    completed = log.items("commandExecution")[0]
    assert completed["status"] == "completed" and completed["source"] == "unifiedExecStartup"


async def test_decline_tells_the_model_and_the_turn_goes_on(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("ok"))
    log = await run_turn(agent, thread_id, answer=["decline"])
    assert log.items("commandExecution")[0]["status"] == "declined"
    assert not (workspace / "out.txt").exists()
    assert tool_outputs(model.requests[1].body)["call_1"] == REJECTED
    assert log.completed["status"] == "completed"


async def test_cancel_ends_the_turn_interrupted(agent: ServerProcess, model: FakeModelServer, workspace: Path) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("never"))
    log = await run_turn(agent, thread_id, answer=["cancel"])
    assert log.items("commandExecution")[0]["status"] == "declined"
    assert log.completed["status"] == "interrupted"
    assert len(model.requests) == 1 and not (workspace / "out.txt").exists()


async def test_accept_for_session_stops_asking_for_the_same_command(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    enqueue_commands(model, "echo one >> log.txt", "echo one >> log.txt", "echo two >> log.txt")
    log = await run_turn(agent, thread_id, answer=["acceptForSession", "decline"])
    assert [r["params"]["itemId"] for r in log.requests] == ["call_1", "call_3"]
    assert (workspace / "log.txt").read_text() == "one\none\n"
    assert [item["status"] for item in log.items("commandExecution")] == ["completed", "completed", "declined"]


@pytest.mark.compat("tools:execpolicy-amendment")
async def test_an_execpolicy_amendment_is_remembered_for_the_thread_only(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, codex_home: Path
) -> None:
    amend = {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["touch"]}}
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    enqueue_commands(model, "touch one.txt", "touch two.txt", "mkdir sub")
    log = await run_turn(agent, thread_id, answer=[amend, "decline"])
    assert log.requests[0]["params"]["proposedExecpolicyAmendment"] == ["touch", "one.txt"]
    # `touch two.txt` starts with the accepted prefix and runs unprompted; `mkdir` still asks.
    assert [r["params"]["itemId"] for r in log.requests] == ["call_1", "call_3"]
    assert (workspace / "two.txt").exists() and not (workspace / "sub").exists()
    # No exec-policy rules file is written (the reference's go to $CODEX_HOME/rules), and another
    # thread asks again.
    assert not (codex_home / "rules").exists()
    other = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("touch three.txt"), "call_4"), text_reply("ok"))
    log = await run_turn(agent, other, answer=["decline"])
    assert [r["params"]["itemId"] for r in log.requests] == ["call_4"]


async def test_granular_sandbox_denial_asks_to_retry_and_decline_keeps_the_file_unwritten(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    # security-tests.md §5 case 8
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy=GRANULAR, sandbox="read-only")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("ok"))
    log = await run_turn(agent, thread_id, answer=["decline"])
    assert len(log.requests) == 1
    assert log.requests[0]["method"] == "item/commandExecution/requestApproval"
    assert log.requests[0]["params"]["reason"] == "command failed; retry without sandbox?"
    assert log.items("commandExecution")[0]["status"] == "declined"
    assert not (workspace / "out.txt").exists()
    assert tool_outputs(model.requests[1].body)["call_1"] == REJECTED


@pytest.mark.parametrize("policy", ["on-request", "never"])
@pytest.mark.compat("tools:denied-item")
async def test_no_retry_prompt_under_on_request_and_never(
    agent: ServerProcess, model: FakeModelServer, workspace: Path, policy: str
) -> None:
    # security-tests.md §5 case 9 (we do emit the failed item: docs/compatibility.md)
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy=policy, sandbox="read-only")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("ok"))
    log = await run_turn(agent, thread_id)
    assert log.requests == []
    output = tool_outputs(model.requests[1].body)["call_1"]
    assert "Read-only file system" in output and "Process exited with code 1" in output
    item = log.items("commandExecution")[0]
    assert item["status"] == "failed" and item["exitCode"] == 1
    assert not (workspace / "out.txt").exists()


async def test_untrusted_accept_retries_unsandboxed_without_a_second_prompt(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    # security-tests.md §5 case 10
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="read-only")
    model.enqueue(
        function_call_reply(
            "exec_command", exec_args("echo hi > out.txt && grep '^Seccomp:' /proc/self/status"), "call_1"
        ),
        text_reply("ok"),
    )
    log = await run_turn(agent, thread_id, answer=["accept"])
    assert len(log.requests) == 1 and "reason" not in log.requests[0]["params"]
    assert (workspace / "out.txt").read_text() == "hi\n"
    item = log.items("commandExecution")[0]
    assert item["status"] == "completed" and item["aggregatedOutput"] == "Seccomp:\t0\n"
    assert "Process exited with code 0" in tool_outputs(model.requests[1].body)["call_1"]


async def test_escalation_on_request_asks_with_the_justification(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    thread_id = await start_thread(agent, cwd=str(workspace), approvalPolicy="on-request", sandbox="read-only")
    arguments = json.loads(exec_args("echo hi > out.txt"))
    arguments.update(sandbox_permissions="require_escalated", justification="Need to write out.txt")
    model.enqueue(function_call_reply("exec_command", json.dumps(arguments), "call_1"), text_reply("ok"))
    log = await run_turn(agent, thread_id, answer=["accept"])
    assert log.requests[0]["params"]["reason"] == "Need to write out.txt"
    assert (workspace / "out.txt").read_text() == "hi\n"


async def test_a_client_that_never_answers_blocks_only_its_turn(
    agent: ServerProcess, model: FakeModelServer, workspace: Path
) -> None:
    waiting = await start_thread(agent, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    other = await start_thread(agent, cwd=str(workspace), approvalPolicy="never", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"))
    reply = await agent.result("turn/start", {"threadId": waiting, "input": [{"type": "text", "text": "go"}]})
    request = await asyncio.wait_for(agent.server_requests.get(), 20)
    assert request["params"]["threadId"] == waiting
    read = await agent.result("thread/read", {"threadId": waiting})
    assert read["thread"]["status"] == {"type": "active", "activeFlags": ["waitingOnApproval"]}

    model.enqueue(text_reply("meanwhile"))
    log = await run_turn(agent, other, "hello")
    assert log.completed["status"] == "completed"

    await agent.result("turn/interrupt", {"threadId": waiting, "turnId": reply["turn"]["id"]})
    resolved = await agent.notification("serverRequest/resolved")
    assert resolved["params"] == {"threadId": waiting, "requestId": request["id"]}
    completed = await agent.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "interrupted"
    assert not (workspace / "out.txt").exists()
    # A late answer to the withdrawn request is ignored.
    await agent.send({"id": request["id"], "result": {"decision": "accept"}})
    await asyncio.sleep(0.3)  # an absence: time for a wrongly honoured answer to run the command
    assert not (workspace / "out.txt").exists()


async def test_first_answer_wins_and_every_connection_is_told(
    codex_home: Path, tmp_path: Path, model: FakeModelServer, workspace: Path
) -> None:
    from support.ws_client import ws_servers

    write_mock_config(codex_home, model.base_url)
    async with ws_servers(codex_home, tmp_path) as spawn:
        server = await spawn(env=ENV)
        first, second = await server.client(name="first"), await server.client(name="second")
        await first.initialize()
        await second.initialize()
        started = await first.result(
            "thread/start", {"cwd": str(workspace), "approvalPolicy": "untrusted", "sandbox": "workspace-write"}
        )
        thread_id = started["thread"]["id"]
        await second.result("thread/resume", {"threadId": thread_id})
        model.enqueue(function_call_reply("exec_command", exec_args("echo hi >> out.txt"), "call_1"), text_reply("ok"))
        await first.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
        asked_first = await asyncio.wait_for(first.server_requests.get(), 20)
        asked_second = await asyncio.wait_for(second.server_requests.get(), 20)
        assert asked_first["params"] == asked_second["params"]

        await second.send({"id": asked_second["id"], "result": {"decision": "accept"}})
        for client, asked in ((first, asked_first), (second, asked_second)):
            resolved = await client.notification("serverRequest/resolved")
            assert resolved["params"] == {"threadId": thread_id, "requestId": asked["id"]}
        await first.send({"id": asked_first["id"], "result": {"decision": "decline"}})  # too late: ignored
        completed = [m for m in await first.until("turn/completed") if m["method"] == "item/completed"]
        assert [
            m["params"]["item"]["status"] for m in completed if m["params"]["item"]["type"] == "commandExecution"
        ] == ["completed"]
        assert (workspace / "out.txt").read_text() == "hi\n"
