"""The approval gateway's cost: decisions per second by policy, and the latency a policy decision
adds compared with a client answering directly.

    .venv/bin/python bench/gateway.py [--approvals 1000] [--threads 10] [--latency-rounds 40]

1. **Decisions/s**: 1,000 approval requests (``item/commandExecution/requestApproval`` params as
   our server sends them, spread over 10 threads) all pending at once, answered through the
   gateway's own decision path (normalizing the request, the policy, the SQLite audit row) for
   three policies: one rule, the worked policy of docs/approval-gateway.md (answering rules only),
   and 50 rules where only the last matches. "policy alone" is the matching without the audit.
   No server is involved: this is the gateway's own throughput (a server asks one approval at a
   time per turn).
2. **Added latency**: our server over WebSocket and the fake model; one turn runs N commands that
   each need approval. The thread's own client measures, per approval, from receiving the request
   to receiving ``serverRequest/resolved``: once answering itself at once, once leaving it to a
   gateway process (an accept rule). Medians and p95 over N approvals each.

The reference server has no observer connections, so a gateway cannot serve it: there is no
reference column. Everything listens on 127.0.0.1; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_app_server.client import AsyncClient, ClientOptions, Event
from agent_app_server.gateway.policy import parse_policy
from agent_app_server.gateway.requests import COMMAND_APPROVAL, ApprovalRequest
from agent_app_server.gateway.service import Gateway, ServerTarget
from agent_app_server.gateway.store import GatewayStore
from agent_app_server.testing import FakeModelServer, function_call_reply, text_reply

COMMANDS = ["git status", "npm test", "pytest -q tests", "touch src/a.py", "rm -rf build", "ls -la", "cat README.md"]
WORKSPACE = "/srv/app"

ONE_RULE = 'default = "decline"\n[[rule]]\nname = "all"\naction = "accept"\n'
WORKED = """
default = "decline"
[[rule]]
name = "reading the repository"
command = ["git", "status"]
action = "accept"
[[rule]]
name = "tests in the workspace"
command_glob = ["pytest *", "npm test*"]
workspace = "inside"
action = "acceptForSession"
[[rule]]
name = "no network from CI"
server = "ci"
network = true
action = "decline"
[[rule]]
name = "deleting things"
command_regex = '^rm\\s+(-[a-zA-Z]*r[a-zA-Z]*f|-[a-zA-Z]*f[a-zA-Z]*r)\\s'
action = "decline"
[[rule]]
name = "edits outside the workspace"
kind = ["fileChange", "permissions"]
workspace = "outside"
action = "decline"
[[rule]]
name = "source edits from the IDE"
client = "vscode"
cwd = "/srv/*"
action = "accept"
"""
FIFTY = (
    'default = "decline"\n'
    + "".join(f'[[rule]]\nname = "r{i}"\ncommand_regex = "^never{i} "\naction = "decline"\n' for i in range(49))
    + '[[rule]]\nname = "last"\ncommand_glob = "*"\naction = "accept"\n'
)
POLICIES = [("1 rule", ONE_RULE), ("worked policy (6 rules)", WORKED), ("50 rules, the last matches", FIFTY)]


def approval_params(approvals: int, threads: int) -> list[dict[str, Any]]:
    params = []
    for n in range(approvals):
        thread = n % threads
        command = COMMANDS[n % len(COMMANDS)]
        params.append(
            {
                "threadId": f"thread-{thread}",
                "turnId": f"turn-{thread}",
                "itemId": f"call_{n}",
                "startedAtMs": 1_764_000_000_000 + n,
                "kind": "command",
                "command": f"/bin/bash -lc {json.dumps(command)}",
                "cwd": WORKSPACE,
                "commandActions": [{"type": "unknown", "command": command}],
            }
        )
    return params


async def decisions_per_second(
    policy_text: str, params: list[dict[str, Any]], threads: int, db: Path
) -> tuple[float, float]:
    """(through the gateway with its audit, policy alone) decisions/s."""
    policy = parse_policy(policy_text)
    store = await GatewayStore.open(db)
    gateway = Gateway([ServerTarget("prod", "ws://127.0.0.1:9")], policy, store)
    observed = gateway.servers[0]
    for thread in range(threads):
        thread_record = {
            "id": f"thread-{thread}",
            "originator": "vscode",
            "source": "vscode",
            "model": "gpt-5",
            "cwd": WORKSPACE,
        }
        observed.absorb(Event("thread/started", {"thread": thread_record}))
    try:
        started = time.perf_counter()
        answers = await asyncio.gather(*(gateway.handle(observed, COMMAND_APPROVAL, p) for p in params))
        through_gateway = len(params) / (time.perf_counter() - started)
        assert all(isinstance(answer, dict) and "decision" in answer for answer in answers)
        assert len(await store.audit_rows()) == len(params)
    finally:
        await store.close()
    requests = [
        ApprovalRequest(COMMAND_APPROVAL, "command", "prod", p, observed.threads[p["threadId"]]) for p in params
    ]
    started = time.perf_counter()
    for request in requests:
        policy.decide(request)
    alone = len(requests) / (time.perf_counter() - started)
    return through_gateway, alone


# ---------------------------------------------------------------------------- latency


async def spawn_server(home: Path, workdir: Path) -> tuple[asyncio.subprocess.Process, str]:
    stderr = workdir / "server.stderr"
    with stderr.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_app_server",
            "--listen",
            "ws://127.0.0.1:0",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "CODEX_HOME": str(home), "MOCK_API_KEY": "x"},
            cwd=workdir,
        )
    async with asyncio.timeout(60):
        while not (found := re.search(r"listening on: (ws://\S+)", stderr.read_text())):
            if process.returncode is not None:
                raise RuntimeError(f"the server exited: {stderr.read_text()}")
            await asyncio.sleep(0.05)
    return process, found.group(1)


async def spawn_gateway(url: str, workdir: Path) -> asyncio.subprocess.Process:
    policy = workdir / "accept.toml"
    policy.write_text('default = "decline"\n[[rule]]\nname = "touch"\ncommand = ["touch"]\naction = "accept"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        "gateway",
        "--server",
        f"bench={url}",
        "--policy",
        str(policy),
        "--audit",
        str(workdir / "gateway.sqlite3"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    async with asyncio.timeout(60):
        while line := await process.stderr.readline():
            if b"gateway: ready" in line:
                break
        else:
            raise RuntimeError("the gateway exited before it was ready")
    # Keep draining its log so that it never blocks on a full pipe.
    asyncio.get_running_loop().create_task(_drain(process.stderr))
    return process


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def approval_latencies(
    url: str, fake: FakeModelServer, workspace: Path, rounds: int, *, answer: bool
) -> tuple[list[float], float]:
    """Per approval: ms from the owner reading the request off the wire to reading its
    ``serverRequest/resolved``; and the turn's wall time per approval (ms)."""
    asked: dict[Any, float] = {}
    resolved: dict[Any, float] = {}

    def tap(direction: str, text: str) -> None:
        if direction != "recv":
            return
        now = time.perf_counter()
        message = json.loads(text)
        if message.get("method") == COMMAND_APPROVAL:
            asked[message["id"]] = now
        elif message.get("method") == "serverRequest/resolved":
            resolved[message["params"]["requestId"]] = now

    async def on_approval(params: Any) -> Any:
        if answer:
            return {"decision": "accept"}
        await asyncio.get_running_loop().create_future()  # the gateway answers; we are withdrawn

    options = ClientOptions(
        client_name="bench_owner",
        experimental_api=True,
        request_handlers={COMMAND_APPROVAL: on_approval},
        withdrawable=frozenset({COMMAND_APPROVAL}),
        wire_tap=tap,
    )
    async with await AsyncClient.connect(url, options=options, reconnect=False) as owner:
        thread = await owner.start_thread(cwd=str(workspace), approval_policy="untrusted", sandbox="workspace-write")
        calls = [
            function_call_reply("exec_command", json.dumps({"cmd": f"touch f{i}", "login": False}), f"c{i}")
            for i in range(rounds)
        ]
        fake.enqueue(*calls, text_reply("done"))
        started = time.perf_counter()
        turn = await thread.turn("go")
        await asyncio.wait_for(turn.wait(), 300)
        per_approval = (time.perf_counter() - started) * 1000 / rounds
    assert len(asked) == rounds, f"{len(asked)} approvals asked, {rounds} expected"
    return [(resolved[request_id] - at) * 1000 for request_id, at in asked.items()], per_approval


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--latency-rounds", type=int, default=40)
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        root = Path(tmp)
        params = approval_params(args.approvals, args.threads)
        for index, (name, text) in enumerate(POLICIES):
            through, alone = await decisions_per_second(text, params, args.threads, root / f"db-{index}.sqlite3")
            rows.append((f"decisions/s, {name}: gateway path with audit", f"{through:,.0f}"))
            rows.append((f"decisions/s, {name}: policy alone", f"{alone:,.0f}"))
            print(f"{name}: {through:,.0f}/s with audit, {alone:,.0f}/s policy alone", file=sys.stderr)

        home = root / "home"
        home.mkdir()
        workspace = root / "ws"
        workspace.mkdir()
        async with FakeModelServer() as fake:
            (home / "config.toml").write_text(
                'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
                f'base_url = "{fake.base_url}"\nwire_api = "responses"\nenv_key = "MOCK_API_KEY"\n'
                "request_max_retries = 0\nstream_max_retries = 0\n"
            )
            server, url = await spawn_server(home, root)
            gateway: asyncio.subprocess.Process | None = None
            try:
                await approval_latencies(url, fake, workspace, 3, answer=True)  # warm-up
                direct, direct_turn = await approval_latencies(url, fake, workspace, args.latency_rounds, answer=True)
                gateway = await spawn_gateway(url, root)
                await approval_latencies(url, fake, workspace, 3, answer=False)  # warm-up
                through, through_turn = await approval_latencies(
                    url, fake, workspace, args.latency_rounds, answer=False
                )
            finally:
                for process in (gateway, server):
                    if process is not None and process.returncode is None:
                        process.send_signal(signal.SIGTERM)
                        try:
                            await asyncio.wait_for(process.wait(), 20)
                        except TimeoutError:
                            process.kill()
                            await process.wait()
    d50, g50 = statistics.median(direct), statistics.median(through)
    rows.append(("approval → resolved, the client answers (median / p95 ms)", f"{d50:.2f} / {p95(direct):.2f}"))
    rows.append(("approval → resolved, the gateway answers (median / p95 ms)", f"{g50:.2f} / {p95(through):.2f}"))
    rows.append(("added by the gateway, seen by the thread's client (median ms)", f"{g50 - d50:.2f}"))
    rows.append(("turn wall time per approval, the client answers (ms)", f"{direct_turn:.2f}"))
    rows.append(("turn wall time per approval, the gateway answers (ms)", f"{through_turn:.2f}"))
    rows.append(("added by the gateway per approval, turn wall time (ms)", f"{through_turn - direct_turn:.2f}"))
    print("| metric | ours |\n|---|---|")
    for metric, value in rows:
        print(f"| {metric} | {value} |")


if __name__ == "__main__":
    asyncio.run(main())
