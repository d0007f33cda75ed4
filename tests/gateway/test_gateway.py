"""The approval gateway end to end: our server as real WebSocket processes (the fake model asks
for shell commands and patches that need approval), the gateway as a real process observing it,
a fake change-management service written here, and the audit log read back with
``agent-app-server gateway audit``. The thread's own client never answers unless a test says so:
whatever happens to the command is the gateway's doing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from agent_app_server.testing.fake_model import (
    FakeModelServer,
    custom_tool_call_reply,
    function_call_reply,
    text_reply,
)
from support.agent_turns import exec_args
from support.cli_process import cli
from support.gateway import SECRET, SECRET_ENV, ChangeManagement, GatewayProcess, StartGateway, audit_rows
from support.tcp_proxy import TcpProxy
from support.ws_client import Spawner, WsClient, WsServer

OWNER = "ide-owner"
APPROVAL = "item/commandExecution/requestApproval"


async def connect_owner(server: WsServer) -> WsClient:
    client = await server.client(name=OWNER)
    await client.initialize(experimental=True)
    return client


async def guarded_thread(owner: WsClient, cwd: Path) -> str:
    params = {"cwd": str(cwd), "approvalPolicy": "untrusted", "sandbox": "workspace-write"}
    thread_id: str = (await owner.result("thread/start", params))["thread"]["id"]
    return thread_id


async def run_command(
    owner: WsClient, thread_id: str, model: FakeModelServer, command: str, *, call: str = "call_1"
) -> dict[str, Any]:
    """A turn whose model runs ``command`` (which asks for approval); returns the completed turn."""
    model.enqueue(function_call_reply("exec_command", exec_args(command), call), text_reply("done"))
    turn_id = (await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]}))[
        "turn"
    ]["id"]
    while True:
        completed = await owner.notification("turn/completed", within=60)
        if completed["params"]["turn"]["id"] == turn_id:
            turn: dict[str, Any] = completed["params"]["turn"]
            return turn


async def start_command(owner: WsClient, thread_id: str, model: FakeModelServer, command: str) -> str:
    """Start the turn without waiting for it; returns its id once the approval is asked."""
    model.enqueue(function_call_reply("exec_command", exec_args(command), "call_1"), text_reply("done"))
    reply = await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    asked = await asyncio.wait_for(owner.server_requests.get(), 30)
    assert asked["method"] == APPROVAL
    turn_id: str = reply["turn"]["id"]
    return turn_id


async def turn_completed(owner: WsClient, turn_id: str) -> dict[str, Any]:
    while True:
        completed = await owner.notification("turn/completed", within=60)
        if completed["params"]["turn"]["id"] == turn_id:
            turn: dict[str, Any] = completed["params"]["turn"]
            return turn


ESCALATION = """
[escalation]
webhook = "{webhook}"
secret_env = "AGENT_GATEWAY_SECRET"
{extra}
"""


async def escalated_turn(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    service: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
) -> tuple[GatewayProcess, WsClient, str, str, dict[str, Any]]:
    """A gateway escalating ``touch`` and a turn whose ``touch out.txt`` it escalated:
    the gateway, the owner, the thread and turn ids, and the ticket the service received."""
    server = await ws_spawn()
    gateway = await start_gateway([f"local={server.url}"], escalating_policy(service))
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    turn_id = await start_command(owner, thread_id, model, "touch out.txt")
    return gateway, owner, thread_id, turn_id, await service.next_ticket()


def escalating_policy(service: ChangeManagement, extra: str = "", rule_extra: str = "") -> str:
    return (
        'default = "decline"\n'
        + ESCALATION.format(webhook=service.webhook, extra=extra)
        + f'\n[[rule]]\nname = "writes need a ticket"\ncommand_glob = "touch *"\naction = "escalate"\n{rule_extra}\n'
    )


# ---------------------------------------------------------------------------- policy decisions


async def test_a_rule_accepts_a_simple_command_and_the_default_declines_shell_syntax(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    policy = 'default = "decline"\n\n[[rule]]\nname = "touch is fine"\ncommand = ["touch"]\naction = "accept"\n'
    gateway = await start_gateway([f"local={server.url}"], policy)
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)

    assert (await run_command(owner, thread_id, model, "touch out.txt"))["status"] == "completed"
    assert (workspace / "out.txt").exists()
    # The same prefix followed by shell syntax is not a simple command: the rule does not apply.
    await run_command(owner, thread_id, model, "touch more.txt && touch sneaky.txt", call="call_2")
    assert not (workspace / "more.txt").exists() and not (workspace / "sneaky.txt").exists()

    rows = await audit_rows(home, database)
    assert [(r["rule"], r["action"], r["decision"], r["answered_by"]) for r in rows] == [
        ("touch is fine", "accept", "accept", "policy"),
        ("default", "decline", "decline", "policy"),
    ]
    assert rows[0]["server"] == "local" and rows[0]["thread_id"] == thread_id and rows[0]["item_id"] == "call_1"
    assert rows[0]["summary"] == "touch out.txt" and rows[0]["latency_ms"] >= 0
    text = await cli(home, "gateway", "audit", "--audit", str(database), "--since", "1h")
    assert text.code == 0 and "rule='touch is fine'" in text.stdout and "accept→accept" in text.stdout
    assert await audit_rows(home, database, "--since", "2999-01-01") == []
    assert "local command: touch out.txt → accept (rule 'touch is fine')" in gateway.log


async def test_thread_server_cwd_and_path_matchers(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    (workspace / "src").mkdir()
    policy = f"""
default = "decline"

[[rule]]
name = "another client"
client = "vscode"
action = "accept"

[[rule]]
name = "another server"
server = "staging-*"
action = "accept"

[[rule]]
name = "our ide on our model in the workspace"
kind = "command"
client = "ide-*"
model = "mock-*"
server = "prod-*"
cwd = "{workspace}"
command_regex = '^touch\\s'
workspace = "inside"
network = false
action = "accept"

[[rule]]
name = "patches to src only"
kind = "fileChange"
paths = ["src/*.txt"]
workspace = "inside"
action = "acceptForSession"
"""
    await start_gateway([f"prod-1={server.url}"], policy)
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    await run_command(owner, thread_id, model, "touch out.txt")
    assert (workspace / "out.txt").exists()

    add = "*** Begin Patch\n*** Add File: {path}\n+hi\n*** End Patch"
    model.enqueue(
        custom_tool_call_reply("apply_patch", add.format(path="src/a.txt"), "call_p1"),
        custom_tool_call_reply("apply_patch", add.format(path="b.txt"), "call_p2"),
        text_reply("done"),
    )
    reply = await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "patch"}]})
    await turn_completed(owner, reply["turn"]["id"])
    assert (workspace / "src" / "a.txt").exists()
    assert not (workspace / "b.txt").exists()

    rows = await audit_rows(home, database)
    assert [(r["kind"], r["rule"], r["decision"]) for r in rows] == [
        ("command", "our ide on our model in the workspace", "accept"),
        ("fileChange", "patches to src only", "acceptForSession"),
        ("fileChange", "default", "decline"),
    ]
    assert rows[1]["summary"] == str(workspace / "src" / "a.txt")


async def test_dry_run_answers_nothing_and_says_what_it_would_do(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    policy = 'default = "decline"\n\n[[rule]]\nname = "touch"\ncommand = ["touch"]\naction = "accept"\n'
    gateway = await start_gateway([f"local={server.url}"], policy, "--dry-run")
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    turn_id = await start_command(owner, thread_id, model, "touch out.txt")
    await gateway.line(r"dry run: local command: touch out\.txt → would accept \(rule 'touch'\)")
    # Nothing was answered: the owner's decision is the one that counts.
    pending = [m for m in owner.received if m.get("method") == APPROVAL]
    await owner.send({"id": pending[-1]["id"], "result": {"decision": "decline"}})
    await turn_completed(owner, turn_id)
    assert not (workspace / "out.txt").exists()
    await gateway.line(r"answered by another client")
    (row,) = await audit_rows(home, database)
    assert row["dry_run"] == 1 and row["decision"] is None and row["answered_by"] == "another client"
    assert row["note"] == "dry run: would accept"


async def test_sighup_with_a_broken_policy_keeps_the_old_one_and_a_good_one_replaces_it(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    server = await ws_spawn()
    policy = tmp_path / "live.toml"
    policy.write_text('default = "decline"\n')
    gateway = await start_gateway([f"local={server.url}"], policy)
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)

    policy.write_text('default = "decline"\n\n[[rule]]\nname = "typo"\ncommand = ["touch"]\naction = "acept"\n')
    gateway.signal(signal.SIGHUP)
    refused = await gateway.line(r"kept the previous policy: (.*)")
    assert (
        refused.group(1)
        == f"{policy}:6: rule 1: unknown action 'acept' (expected one of accept, acceptForSession, decline, escalate, ask)"
    )
    await run_command(owner, thread_id, model, "touch one.txt")
    assert not (workspace / "one.txt").exists()

    policy.write_text('default = "decline"\n\n[[rule]]\nname = "fixed"\ncommand = ["touch"]\naction = "accept"\n')
    mark = len(gateway.lines)
    gateway.signal(signal.SIGHUP)
    await gateway.line(r"policy reloaded from .* \(1 rules\)", after=mark)
    await run_command(owner, thread_id, model, "touch two.txt", call="call_2")
    assert (workspace / "two.txt").exists()


async def test_a_bad_policy_is_a_start_up_error_naming_the_line(
    ws_spawn: Spawner, start_gateway: StartGateway, tmp_path: Path, home: Path
) -> None:
    server = await ws_spawn()
    gateway = await start_gateway(
        [server.url],
        'default = "decline"\n\n[[rule]]\nname = "x"\ncommand_regex = "("\naction = "accept"\n',
        ready=False,
    )
    assert await gateway.wait() == 2
    assert gateway.lines[-1].startswith(f"error: {tmp_path}/policy-0.toml:5: rule 1: command_regex: ")
    checked = await cli(home, "gateway", "--check", str(tmp_path / "policy-0.toml"))
    assert checked.code == 2 and ":5: rule 1: command_regex" in checked.stderr


# ---------------------------------------------------------------------------- escalation


async def test_escalate_approved_by_a_signed_callback_and_a_forged_one_is_refused(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    change_management: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
    home: Path,
    database: Path,
) -> None:
    gateway, owner, thread_id, turn_id, ticket = await escalated_turn(
        ws_spawn, start_gateway, change_management, model, workspace
    )
    assert change_management.unsigned == [], "the gateway signs its webhook calls"
    assert {k: ticket[k] for k in ("server", "thread", "turn", "item", "kind", "command", "cwd")} == {
        "server": "local",
        "thread": thread_id,
        "turn": turn_id,
        "item": "call_1",
        "kind": "command",
        "command": "touch out.txt",
        "cwd": str(workspace),
    }
    assert ticket["decisionUrl"].startswith(f"{gateway.callback_url}/decisions/")

    status, body = await change_management.decide(ticket, "approved", "mallory", secret="guessed")
    assert status == 401 and "signature does not match" in body["error"]
    status, _ = await change_management.decide(ticket, "approved", "mallory", url=ticket["decisionUrl"] + "x")
    assert status == 404
    assert not (workspace / "out.txt").exists()

    status, body = await change_management.decide(ticket, "approved", "alice")
    assert status == 200 and body["state"] == "approved"
    assert (await turn_completed(owner, turn_id))["status"] == "completed"
    assert (workspace / "out.txt").exists()
    status, body = await change_management.decide(ticket, "rejected", "bob")
    assert status == 409 and "already" in body["error"]

    (row,) = await audit_rows(home, database)
    assert row["action"] == "escalate" and row["decision"] == "accept"
    assert row["answered_by"] == "change-management:alice" and row["ticket"] == "CHG-1"
    assert row["note"] == "approved"
    assert "refused a decision callback" in gateway.log


async def test_escalate_rejected_by_polling_the_status_url(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    async with ChangeManagement(status_urls=True) as service:
        await start_gateway([f"local={server.url}"], escalating_policy(service, "poll_interval = 0.05"))
        owner = await connect_owner(server)
        thread_id = await guarded_thread(owner, workspace)
        turn_id = await start_command(owner, thread_id, model, "touch out.txt")
        ticket = await service.next_ticket()
        service.status[ticket["ticket"]] = "rejected"
        await turn_completed(owner, turn_id)
    assert not (workspace / "out.txt").exists()
    (row,) = await audit_rows(home, database)
    assert (row["decision"], row["answered_by"], row["note"]) == ("decline", "change-management:carol", "rejected")


async def test_escalate_timeout_declines_by_default(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    change_management: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
    home: Path,
    database: Path,
) -> None:
    server = await ws_spawn()
    await start_gateway([f"local={server.url}"], escalating_policy(change_management, rule_extra="timeout = 0.2"))
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    await run_command(owner, thread_id, model, "touch out.txt")
    assert not (workspace / "out.txt").exists()
    assert len(change_management.received) == 1
    (row,) = await audit_rows(home, database)
    assert (row["decision"], row["answered_by"], row["note"]) == ("decline", "timeout", "timeout")


async def test_an_unreachable_webhook_declines_and_says_so(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    async with ChangeManagement() as gone:
        policy = escalating_policy(gone)
    gateway = await start_gateway([f"local={server.url}"], policy)
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    await run_command(owner, thread_id, model, "touch out.txt")
    assert not (workspace / "out.txt").exists()
    assert "escalation failed (cannot reach the webhook" in gateway.log
    (row,) = await audit_rows(home, database)
    assert (row["decision"], row["answered_by"]) == ("decline", "error")
    assert row["note"].startswith("escalation failed: cannot reach the webhook")


async def test_a_gateway_restart_while_an_escalation_is_open_resumes_it(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    async with ChangeManagement(status_urls=True) as service:
        policy = escalating_policy(service, "poll_interval = 0.05")
        first = await start_gateway([f"local={server.url}"], policy)
        owner = await connect_owner(server)
        thread_id = await guarded_thread(owner, workspace)
        turn_id = await start_command(owner, thread_id, model, "touch out.txt")
        ticket = await service.next_ticket()
        await first.line(r"→ escalated")  # the service's answer (its status URL) is stored
        assert await first.stop() == 0
        # Decided while no gateway runs; the next one finds out by polling the stored status URL.
        service.status[ticket["ticket"]] = "approved"
        second = await start_gateway([f"local={server.url}"], policy)
        assert (await turn_completed(owner, turn_id))["status"] == "completed"
        assert (workspace / "out.txt").exists()
        assert len(service.received) == 1, "the re-asked request maps to the ticket already open"
        assert "asked again" in second.log
    rows = await audit_rows(home, database)
    assert [(r["escalation_id"], r["decision"], r["note"]) for r in rows] == [
        (ticket["id"], None, None),
        (ticket["id"], "accept", "approved"),
    ]


async def test_a_dropped_connection_while_an_approval_waits_maps_the_re_ask_to_the_same_ticket(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    change_management: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
) -> None:
    server = await ws_spawn()
    proxy = await TcpProxy("127.0.0.1", server.port).start()
    try:
        gateway = await start_gateway([f"local={proxy.url}"], escalating_policy(change_management))
        owner = await connect_owner(server)
        thread_id = await guarded_thread(owner, workspace)
        turn_id = await start_command(owner, thread_id, model, "touch out.txt")
        ticket = await change_management.next_ticket()
        assert proxy.drop_all() == 1
        # The server asks the approval again on the new connection, with a new request id; the
        # answer the escalation gives goes to that one.
        await gateway.line(r"reconnected to local")
        status, _ = await change_management.decide(ticket, "approved")
        assert status == 200
        assert (await turn_completed(owner, turn_id))["status"] == "completed"
        assert (workspace / "out.txt").exists()
        assert len(change_management.received) == 1
    finally:
        await proxy.close()


async def test_another_client_answering_first_withdraws_the_escalation(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    change_management: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
    home: Path,
    database: Path,
) -> None:
    gateway, owner, _, turn_id, ticket = await escalated_turn(
        ws_spawn, start_gateway, change_management, model, workspace
    )
    asked = next(m for m in owner.received if m.get("method") == APPROVAL)
    await owner.send({"id": asked["id"], "result": {"decision": "accept"}})
    await turn_completed(owner, turn_id)
    await gateway.line(r"answered by another client")
    status, body = await change_management.decide(ticket, "rejected")
    assert status == 409 and "withdrawn" in body["error"]
    (row,) = await audit_rows(home, database)
    assert row["answered_by"] == "another client" and row["decision"] is None


async def test_a_server_restart_while_an_escalation_is_open_accepts_nothing_that_was_lost(
    ws_spawn: Spawner,
    start_gateway: StartGateway,
    change_management: ChangeManagement,
    model: FakeModelServer,
    workspace: Path,
    home: Path,
    database: Path,
) -> None:
    """A server process that restarts loses its running turns (ours and the reference's): the
    approval is never asked again. The gateway reconnects by itself, the stale ticket's approval
    accepts nothing, and the restarted server's new approvals are escalated and answered."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    listen = ("--listen", f"ws://127.0.0.1:{port}")
    server = await ws_spawn(args=listen)
    gateway = await start_gateway([f"local={server.url}"], escalating_policy(change_management))
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    # Only the call: the turn dies with the server, its next model request never comes.
    model.enqueue(function_call_reply("exec_command", exec_args("touch lost.txt"), "call_1"))
    await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
    stale = await change_management.next_ticket()
    await gateway.line(r"→ escalated")

    await server.kill()
    restarted = await ws_spawn(args=listen)
    await gateway.line(r"reconnected to local")
    status, _ = await change_management.decide(stale, "approved")
    assert status == 200
    await gateway.line(r"escalation .*: approved by change-management:alice")

    owner = await connect_owner(restarted)
    await owner.result(
        "thread/resume", {"threadId": thread_id, "approvalPolicy": "untrusted", "sandbox": "workspace-write"}
    )
    model.enqueue(function_call_reply("exec_command", exec_args("touch new.txt"), "call_9"), text_reply("done"))
    reply = await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "again"}]})
    fresh = await change_management.next_ticket()
    assert fresh["id"] != stale["id"] and fresh["turn"] == reply["turn"]["id"]
    status, _ = await change_management.decide(fresh, "approved")
    assert status == 200
    assert (await turn_completed(owner, reply["turn"]["id"]))["status"] == "completed"
    assert (workspace / "new.txt").exists()
    assert not (workspace / "lost.txt").exists()
    rows = await audit_rows(home, database)
    # The stale ticket's answer went to a connection that no longer exists, and says so.
    assert [(r["summary"], r["decision"]) for r in rows] == [("touch lost.txt", "accept"), ("touch new.txt", "accept")]
    assert rows[0]["note"] == "approved; asked on a connection since lost: reaches the server only if it asked again"
    assert rows[1]["note"] == "approved"


async def test_on_error_ask_leaves_the_request_to_people_when_the_webhook_is_down(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, home: Path, database: Path
) -> None:
    server = await ws_spawn()
    async with ChangeManagement() as gone:
        policy = escalating_policy(gone, 'on_error = "ask"')
    gateway = await start_gateway([f"local={server.url}"], policy)
    owner = await connect_owner(server)
    thread_id = await guarded_thread(owner, workspace)
    turn_id = await start_command(owner, thread_id, model, "touch out.txt")
    await gateway.line(r"escalation failed \(cannot reach the webhook .*\); left to people")
    asked = next(m for m in owner.received if m.get("method") == APPROVAL)
    await owner.send({"id": asked["id"], "result": {"decision": "accept"}})
    assert (await turn_completed(owner, turn_id))["status"] == "completed"
    assert (workspace / "out.txt").exists()
    await gateway.line(r"touch out.txt: answered by another client")
    (row,) = await audit_rows(home, database)
    assert (row["decision"], row["answered_by"]) == (None, "another client")
    assert row["note"].startswith("escalation failed: cannot reach the webhook") and row["note"].endswith(
        "; left to people"
    )


async def test_the_documented_change_management_service_works_with_the_gateway(
    ws_spawn: Spawner, start_gateway: StartGateway, model: FakeModelServer, workspace: Path, tmp_path: Path
) -> None:
    """The minimal service of docs/approval-gateway.md, run as written: it takes the ticket, and
    approving it through its own route sends the signed callback that accepts the command."""
    doc = (Path(__file__).parents[2] / "docs" / "approval-gateway.md").read_text()
    service_code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cm.py").write_text(service_code)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = await asyncio.create_subprocess_exec(
        sys.executable,
        str(tmp_path / "cm.py"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PORT": str(port), SECRET_ENV: SECRET, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert service.stdout is not None
        # Listening once it answers (its banner may come before its socket accepts).
        async with asyncio.timeout(30), aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as probe_answer:
                        assert probe_answer.status == 404
                        break
                except aiohttp.ClientConnectionError:
                    assert service.returncode is None, "the documented service exited"
                    await asyncio.sleep(0.05)
        server = await ws_spawn()
        policy = 'default = "decline"\n' + ESCALATION.format(webhook=f"http://127.0.0.1:{port}/tickets", extra="")
        policy += '\n[[rule]]\nname = "tickets"\ncommand = ["touch"]\naction = "escalate"\n'
        await start_gateway([f"local={server.url}"], policy)
        owner = await connect_owner(server)
        thread_id = await guarded_thread(owner, workspace)
        turn_id = await start_command(owner, thread_id, model, "touch out.txt")
        async with asyncio.timeout(30):
            while not (opened := await service.stdout.readline()).startswith(b"CHG-"):
                assert opened, "the documented service exited"
        assert opened.startswith(b"CHG-1: local wants to run touch out.txt in ")
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/tickets/CHG-1/approve?by=alice") as approved,
        ):
            assert approved.status == 200, await approved.text()
        assert (await turn_completed(owner, turn_id))["status"] == "completed"
        assert (workspace / "out.txt").exists()
    finally:
        service.terminate()
        rest, _ = await service.communicate()
        print(f"--- the documented service's output ---\n{rest.decode(errors='replace')}")
