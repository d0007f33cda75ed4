"""``/metrics`` through the real server process: on the WebSocket listener (behind its bearer
token and its ``Origin`` refusal) and on ``--metrics-listen`` beside a stdio server. Each test
drives real traffic (requests, turns with the fake model, approvals, commands in the sandbox),
parses the exposition with ``prometheus_client``'s own parser and checks the counters moved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, function_call_reply, text_reply
from support.agent_turns import ENV, exec_args, run_turn, start_thread
from support.metrics_scrape import Samples, metrics_address, parse, value
from support.model_config import write_mock_config
from support.server_process import ServerProcess
from support.ws_client import Spawner, WsClient, WsServer, http_get, ws_servers

APPROVAL = "item/commandExecution/requestApproval"
TOKEN = "metrics-capability-token"


async def scrape(server: WsServer, headers: dict[str, str] | None = None) -> Samples:
    status, response_headers, body = await server.http_get("/metrics", headers)
    assert status == 200, body
    assert response_headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(body)


@pytest.fixture
async def ws_spawn(codex_home: Path, tmp_path: Path, model: FakeModelServer) -> AsyncIterator[Spawner]:
    write_mock_config(codex_home, model.base_url)
    async with ws_servers(codex_home, tmp_path) as spawn:
        yield spawn


def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


async def ws_thread(client: WsClient, workspace: Path, policy: str, sandbox: str) -> tuple[str, str]:
    """A new thread's id and model."""
    params = {"cwd": str(workspace), "approvalPolicy": policy, "sandbox": sandbox}
    started = await client.result("thread/start", params)
    await client.notification("thread/started")
    return started["thread"]["id"], started["model"]


async def ws_turn(client: WsClient, thread_id: str) -> None:
    await client.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})


async def test_counters_move_as_traffic_flows_over_websocket(
    ws_spawn: Spawner, model: FakeModelServer, workspace: Path
) -> None:
    server = await ws_spawn(env=ENV)
    before = await scrape(server)
    assert value(before, "requests_total", method="initialize", outcome="ok") == 0
    client = await server.client()
    await client.initialize(experimental=True)
    thread_id, model_name = await ws_thread(client, workspace, "untrusted", "workspace-write")
    assert (await client.call("thread/read", {"threadId": 5}))["error"]["code"] == -32602
    assert (await client.call("no/suchMethod", {}))["error"]["code"] == -32601

    # A command that needs approval: the approval is pending while nobody answered.
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    await ws_turn(client, thread_id)
    asked = await asyncio.wait_for(client.server_requests.get(), 30)
    waiting = await scrape(server)
    assert value(waiting, "approvals_pending", method=APPROVAL) == 1
    assert value(waiting, "turns_running") == 1
    await client.send({"id": asked["id"], "result": {"decision": "accept"}})
    assert (await client.notification("turn/completed", within=30))["params"]["turn"]["status"] == "completed"

    # A command the read-only sandbox denies (no retry under `never`).
    denied_id, _ = await ws_thread(client, workspace, "never", "read-only")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > denied.txt"), "call_2"), text_reply("ok"))
    await ws_turn(client, denied_id)
    assert (await client.notification("turn/completed", within=30))["params"]["turn"]["status"] == "completed"
    assert not (workspace / "denied.txt").exists()

    after = await scrape(server)
    assert value(after, "connections") == 1
    assert value(after, "connections_opened_total") == 1
    assert value(after, "requests_total", method="initialize", outcome="ok") == 1
    assert value(after, "requests_total", method="thread/start", outcome="ok") == 2
    assert value(after, "requests_total", method="turn/start", outcome="ok") == 2
    assert value(after, "requests_total", method="thread/read", outcome="invalid_params") == 1
    # A method name we do not serve is counted under one name, whatever the client invents.
    assert value(after, "requests_total", method="unknown", outcome="method_not_found") == 1
    assert value(after, "request_duration_seconds_count", method="thread/start") == 2
    assert value(after, "request_duration_seconds_bucket", method="thread/start", le="+Inf") == 2
    assert value(after, "turns_total", status="completed") == 2
    assert value(after, "turns_running") == 0
    assert value(after, "tokens_total", model=model_name, kind="input") > 0
    assert value(after, "tokens_total", model=model_name, kind="output") > 0
    assert value(after, "approvals_pending", method=APPROVAL) == 0
    assert value(after, "approvals_total", method=APPROVAL, decision="accept") == 1
    assert value(after, "command_executions_total", status="completed") == 1
    assert value(after, "command_executions_total", status="failed") == 1
    assert value(after, "sandbox_denials_total") == 1
    assert value(after, "overloaded_answers_total") == 0
    assert value(after, "replay_log_memory_notifications") > value(before, "replay_log_memory_notifications")
    assert value(after, "replay_log_bytes") > 0


@pytest.mark.compat("ws:metrics")
async def test_metrics_need_the_token_and_refuse_browsers(ws_spawn: Spawner, tmp_path: Path) -> None:
    token = token_file(tmp_path)
    server = await ws_spawn(env=ENV, args=("--ws-auth", "capability-token", "--ws-token-file", str(token)))
    assert (await server.http_get("/metrics"))[0::2] == (401, b"missing websocket bearer token")
    bad = {"Authorization": "Bearer wrong"}
    assert (await server.http_get("/metrics", bad))[0::2] == (401, b"invalid websocket bearer token")
    good = {"Authorization": f"Bearer {TOKEN}"}
    samples = await scrape(server, good)
    assert value(samples, "connections") == 0
    # A browser is refused like on /healthz, a valid token notwithstanding.
    assert (await server.http_get("/metrics", {**good, "Origin": "http://localhost"}))[0::2] == (403, b"")
    client = await server.client(token=TOKEN)
    await client.initialize()
    assert value(await scrape(server, good), "requests_total", method="initialize", outcome="ok") == 1


# ---------------------------------------------------------------------- --metrics-listen (stdio)


@pytest.fixture
async def stdio_server(codex_home: Path, model: FakeModelServer) -> AsyncIterator[Any]:
    """Start ``agent-app-server --metrics-listen 127.0.0.1:0 ...`` over stdio and initialize it;
    stopped at the end."""
    write_mock_config(codex_home, model.base_url)
    started: list[ServerProcess] = []

    async def start(*args: str) -> tuple[ServerProcess, str, int]:
        server = ServerProcess(codex_home, args=("--metrics-listen", "127.0.0.1:0", *args), env=ENV)
        started.append(await server.start())
        await server.initialize()
        return (server, *await metrics_address(server))

    yield start
    for server in started:
        await server.stop()
        server.assert_schema_clean()


async def test_stdio_server_serves_metrics_on_its_own_listener(
    stdio_server: Any, model: FakeModelServer, workspace: Path
) -> None:
    server, host, port = await stdio_server()
    thread_id = await start_thread(server, cwd=str(workspace), approvalPolicy="untrusted", sandbox="workspace-write")
    model.enqueue(function_call_reply("exec_command", exec_args("echo hi > out.txt"), "call_1"), text_reply("done"))
    log = await run_turn(server, thread_id, answer=["decline"])
    assert log.completed["status"] == "completed"

    status, _, body = await http_get(host, port, "/metrics")
    assert status == 200
    samples = parse(body)
    assert value(samples, "connections") == 1
    assert value(samples, "requests_total", method="initialize", outcome="ok") == 1
    assert value(samples, "requests_total", method="thread/start", outcome="ok") == 1
    assert value(samples, "turns_total", status="completed") == 1
    assert value(samples, "tokens_total", model="mock-model", kind="input") > 0
    assert value(samples, "approvals_total", method=APPROVAL, decision="decline") == 1
    assert value(samples, "command_executions_total", status="declined") == 1
    # Only /metrics here: no health routes, no WebSocket, and browsers are refused.
    assert (await http_get(host, port, "/healthz"))[0] == 404
    assert (await http_get(host, port, "/metrics", {"Origin": "http://localhost"}))[0] == 403


async def test_metrics_listener_uses_the_ws_auth_token(stdio_server: Any, tmp_path: Path) -> None:
    token = token_file(tmp_path)
    _, host, port = await stdio_server("--ws-auth", "capability-token", "--ws-token-file", str(token))
    assert (await http_get(host, port, "/metrics"))[0::2] == (401, b"missing websocket bearer token")
    status, _, body = await http_get(host, port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert value(parse(body), "requests_total", method="initialize", outcome="ok") == 1


@pytest.mark.parametrize(
    ("address", "code", "message"),
    [
        ("0.0.0.0:0", 1, "Error: refusing to serve /metrics on non-loopback address 0.0.0.0:0 without auth"),
        ("localhost:9464", 2, "invalid --metrics-listen address `localhost:9464`; expected `IP:PORT`"),
    ],
)
async def test_unusable_metrics_addresses_are_refused_before_binding(
    codex_home: Path, address: str, code: int, message: str
) -> None:
    server = await ServerProcess(codex_home, args=("--metrics-listen", address)).start()
    assert await server.stop() == code
    assert message in server.stderr.decode()
