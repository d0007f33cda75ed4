"""The dashboard following many servers: the events per second it keeps up with, its CPU, and
the page's update latency from ``item/agentMessage/delta`` at the server to the browser.

    .venv/bin/python bench/dashboard.py [--servers 20] [--turns 5] [--deltas 400] [--rate 25] [--quick] [--keep]

``--servers`` of our servers listen on ``ws://127.0.0.1:0`` (fresh CODEX_HOME each, the mock
provider pointed at one in-process fake Responses API, see bench/README.md), and
``agent-app-server dashboard`` follows all of them as an observer. Each server runs ``--turns``
threads at once, each streaming ``--deltas`` text deltas at ``--rate`` deltas/s (0: as fast as
the fake model writes). The threads' owner clients opt out of the deltas, so the servers' only
delta reader is the dashboard. Headless Chromium shows one streaming thread's page.

* **events/s followed**: notifications the dashboard folded in (``stats.events`` of
  ``/api/snapshot``) ÷ the time from the first ``turn/start`` until the dashboard has seen every
  turn complete; **offered**: the deltas the model streamed ÷ the same time.
* **catch-up lag**: from the last ``turn/completed`` an owner client read to the dashboard
  having seen it (polled every 50 ms: the snapshot is the only window into the process).
* **CPU**: the dashboard process's user+system time over that window, as % of one core.
* **update latency**: for each delta of the thread shown in the browser, its arrival in the
  page's JavaScript (``performance.timeOrigin + now()``) minus the ``emittedAtMs`` the server
  stamped on it (read by a separate observer connection to that server; same machine clock,
  millisecond resolution). p50/p95/max.

The reference is not measured: it has no observer connections (``capabilities.observeAll`` is
this project's extension), so the dashboard would see none of its turns. Every process this
script started is killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from websockets.asyncio.client import connect

import targets as target_defs
from agent_app_server.client import AsyncClient, ClientOptions
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.browser import chromium_missing, start_chromium
from ws_fanout import WsTarget, banner, cpu_seconds, kill_all, percentile, progress, reply_script

DASHBOARD_BANNER = re.compile(r"dashboard listening on: (http://\S+)")
DELTA = "item/agentMessage/delta"


class Dashboard:
    def __init__(self, run_dir: Path, servers: list[WsTarget]) -> None:
        self.run_dir = run_dir
        self.servers = servers
        self.stderr_path = run_dir / "dashboard.stderr"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> None:
        args = ["--listen", "127.0.0.1:0", "--audit-db", str(self.run_dir / "audit.sqlite3")]
        for index, server in enumerate(self.servers):
            args += ["--server", f"s{index}={server.url}"]
        with self.stderr_path.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "agent_app_server", "dashboard", *args, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        self.url = await banner(self.proc, self.stderr_path, DASHBOARD_BANNER, "the dashboard")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def snapshot(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(self.url + "/api/snapshot") as response:
            result: dict[str, Any] = await response.json()
            return result


class DeltaClock:
    """An observer on one server recording each delta's ``emittedAtMs`` for one thread."""

    def __init__(self) -> None:
        self.thread_id = ""
        self.emitted: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self, url: str) -> None:
        ws = await connect(url, max_size=None, max_queue=None)
        capabilities = {"experimentalApi": True, "observeAll": True}
        await ws.send(json.dumps({"id": 1, "method": "initialize", "params": {
            "clientInfo": {"name": "bench-clock", "version": "1"}, "capabilities": capabilities}}))  # fmt: skip
        await ws.recv()
        await ws.send(json.dumps({"method": "initialized"}))

        async def read() -> None:
            with contextlib.suppress(Exception):
                async for frame in ws:
                    message = json.loads(frame)
                    params = message.get("params") or {}
                    if message.get("method") == DELTA and params.get("threadId") == self.thread_id:
                        self.emitted[params["delta"]] = message["emittedAtMs"]

        self._task = asyncio.create_task(read())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def measure(args: argparse.Namespace, run_dir: Path, model: FakeModelServer) -> dict[str, Any]:
    target = target_defs.ours(run_dir, model.base_url)
    servers = [WsTarget(target, f"s{index}") for index in range(args.servers)]
    progress(f"starting {args.servers} servers")
    await asyncio.gather(*(server.start() for server in servers))
    dashboard = Dashboard(run_dir, servers)
    await dashboard.start()
    progress(f"dashboard on {dashboard.url}")
    options = ClientOptions(client_name="bench-owner", opt_out_notification_methods=[DELTA])
    owners = [await AsyncClient.connect(server.url, options=options, reconnect=False) for server in servers]
    async with aiohttp.ClientSession() as http:
        while True:
            snapshot = await dashboard.snapshot(http)
            if all(server["state"] == "connected" for server in snapshot["servers"]):
                break
            await asyncio.sleep(0.1)
        threads: list[tuple[AsyncClient, str]] = []
        for owner in owners:
            for _ in range(args.turns):
                started = await owner.request("thread/start", {"cwd": str(target.workspace)})
                threads.append((owner, started["thread"]["id"]))
        clock = DeltaClock()
        clock.thread_id = threads[0][1]
        await clock.start(servers[0].url)

        profile = tempfile.mkdtemp(prefix="bench-dashboard-chromium-")
        driver = await asyncio.to_thread(start_chromium, profile)
        try:
            await asyncio.to_thread(driver.get, f"{dashboard.url}/#/thread/s0%2F{clock.thread_id}")
            await asyncio.to_thread(driver.execute_script, _PROBE)
            await _until_page(driver, _TRANSCRIPT_LOADED)

            model.default_script = reply_script(args.deltas, args.rate or None)
            completions = [owner.events() for owner in owners]
            events_before = (await dashboard.snapshot(http))["stats"]["events"]
            cpu_before = cpu_seconds(dashboard.pid)
            started_at = time.perf_counter()
            progress(f"{len(threads)} turns streaming {args.deltas} deltas each")
            await asyncio.gather(
                *(owner.request("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "go"}]})
                  for owner, thread_id in threads)
            )  # fmt: skip
            await asyncio.gather(*(_completed(events, args.turns) for events in completions))
            owners_done = time.perf_counter()
            while True:
                snapshot = await dashboard.snapshot(http)
                if sum(sum(values) for values in snapshot["charts"]["turns"]["series"].values()) >= len(threads):
                    break
                await asyncio.sleep(0.05)
            caught_up = time.perf_counter()
            cpu = cpu_seconds(dashboard.pid) - cpu_before
            events = snapshot["stats"]["events"] - events_before
            await _until_page(driver, f"return window.__marks.length >= {args.deltas}", within=60)
            marks = await asyncio.to_thread(driver.execute_script, "return window.__marks")
        finally:
            await asyncio.to_thread(driver.quit)
            shutil.rmtree(profile, ignore_errors=True)
            clock.stop()
            for owner in owners:
                await owner.aclose()
    latencies = [at - clock.emitted[delta] for delta, at in marks if delta in clock.emitted]
    window = caught_up - started_at
    return {
        "servers": args.servers,
        "turns": len(threads),
        "deltas per turn": args.deltas,
        "rate per turn (deltas/s)": args.rate or "burst",
        "window (s)": round(window, 2),
        "events/s followed": round(events / window),
        "deltas/s offered": round(len(threads) * args.deltas / window),
        "catch-up lag after the last turn (ms)": round((caught_up - owners_done) * 1000),
        "dashboard CPU (% of one core)": round(100 * cpu / window),
        "update latency p50 (ms)": round(percentile(latencies, 50), 1),
        "update latency p95 (ms)": round(percentile(latencies, 95), 1),
        "update latency max (ms)": round(max(latencies), 1),
        "deltas timed in the browser": f"{len(latencies)} of {args.deltas}",
    }


_TRANSCRIPT_LOADED = "return document.querySelector('#transcript').textContent.includes('no items yet')"
_PROBE = """
window.__marks = [];
window.__dashboardProbe = (op) => window.__marks.push([op.delta, performance.timeOrigin + performance.now()]);
"""


async def _until_page(driver: Any, condition: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(driver.execute_script, condition):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page did not reach: {condition}")
        await asyncio.sleep(0.05)


async def _completed(events: Any, count: int) -> None:
    done = 0
    async with asyncio.timeout(600):
        async for event in events:
            if event.method == "turn/completed":
                done += 1
                if done == count:
                    return


async def run(args: argparse.Namespace) -> int:
    if chromium_missing():
        print(f"headless Chromium is missing: {', '.join(chromium_missing())} (scripts/dev.sh)", file=sys.stderr)
        return 2
    run_dir = target_defs.CACHE_DIR / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    model = FakeModelServer(record_requests=False)
    await model.start()
    try:
        result = await measure(args, run_dir, model)
    finally:
        await model.close()
        kill_all()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(f"# Dashboard following {args.servers} servers ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(f"- host: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs\n")
    print("| metric | value |\n|---|---|")
    for name, value in result.items():
        print(f"| {name} | {value} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5, help="streaming turns per server")
    parser.add_argument("--deltas", type=int, default=400, help="text deltas per turn")
    parser.add_argument("--rate", type=float, default=25.0, help="deltas/s per turn (0: as fast as possible)")
    parser.add_argument("--quick", action="store_true", help="3 servers, 2 turns, 100 deltas: a smoke test")
    parser.add_argument("--keep", action="store_true", help="keep CODEX_HOMEs and logs in bench/.cache")
    args = parser.parse_args(argv)
    if args.quick:
        args.servers, args.turns, args.deltas = 3, 2, 100
    if not (1 <= args.servers <= 50 and 1 <= args.turns <= 20 and 1 <= args.deltas <= 100_000):
        parser.error("--servers 1..50, --turns 1..20, --deltas 1..100000")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
