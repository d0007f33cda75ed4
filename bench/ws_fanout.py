"""WebSocket fan-out: one turn streamed to many clients on one thread, and idle connections per MiB.

    .venv/bin/python bench/ws_fanout.py [--targets ours,reference] [--clients 100] [--quick] [--keep]

Both servers run with ``--listen ws://127.0.0.1:0`` (the port is read from their start-up banner),
a fresh CODEX_HOME each, the same mock provider config and the in-process fake Responses API
(see bench/README.md). Metrics (printed as a Markdown table, progress on stderr):

* **delivery delay per delta**: one client starts a turn whose reply streams ``--deltas`` text
  deltas; every one of ``--clients`` clients subscribed to the thread records, for each
  ``item/agentMessage/delta``, its arrival time minus the notification's ``emittedAtMs`` (both
  servers stamp it when they emit; same machine clock, millisecond resolution). p50/p99 over all
  (client, delta) pairs, for a paced stream (the model sends ``--rate`` deltas/s, like a real
  model) and for a burst (as fast as the fake model can write). All clients live in this one
  Python process, so part of the delay is the client's own work; it is the same for both servers.
* **connections per 100 MiB**: RSS (``VmRSS``) growth of a fresh server after opening
  ``--idle`` initialized, idle connections, extrapolated to how many fit in 100 MiB.

Every loop is bounded in count and time, everything listens on 127.0.0.1, and every process this
script started is killed at the end (SIGTERM, then SIGKILL).
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
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect

import targets as target_defs
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.fake_model import delay, text_reply
from peer import env_with, memory_mib

BANNER = re.compile(r"listening on: (ws://\S+)")
CLIENT_INFO = {"name": "agent-bench", "title": "agent-app-server bench", "version": "0.1.0"}
_LIVE: set[asyncio.subprocess.Process] = set()


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Counts:
    clients: int = 100
    deltas: int = 500
    rate: float = 200.0
    burst_deltas: int = 2000
    idle: int = 500

    @classmethod
    def quick(cls) -> Counts:
        return cls(clients=20, deltas=100, rate=200.0, burst_deltas=300, idle=100)


@dataclass
class Results:
    values: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ server process


class WsTarget:
    """One server process listening on ws://127.0.0.1:<port>."""

    def __init__(self, target: target_defs.Target, purpose: str) -> None:
        self.target = target
        self.home = target.new_home(purpose)
        self.stderr_path = target.root / "logs" / f"{purpose}.stderr"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> None:
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        env = env_with({"CODEX_HOME": str(self.home), "MOCK_API_KEY": "x"})
        with self.stderr_path.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                *self.target.argv,
                "--listen",
                "ws://127.0.0.1:0",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=self.target.workspace,
            )
        self.url = await banner(self.proc, self.stderr_path, BANNER, self.target.name)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def stop(self) -> None:
        await stop_process(self.proc, within=10)


async def stop_process(proc: asyncio.subprocess.Process | None, *, within: float) -> None:
    """SIGTERM a process we started, SIGKILL it if it is still there after ``within`` seconds."""
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
    _LIVE.discard(proc)


async def banner(
    proc: asyncio.subprocess.Process, stderr_path: Path, pattern: re.Pattern[str], what: str, *, within: float = 30
) -> str:
    """The address a process we started prints on stderr once it listens (it is killed at the end)."""
    _LIVE.add(proc)
    for _ in range(int(within / 0.05)):
        # A few hundred bytes, read while only this process starts: not worth a thread.
        match = pattern.search(stderr_path.read_text(errors="replace"))  # noqa: ASYNC240
        if match:
            return match.group(1)
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening; see {stderr_path}")


def kill_all() -> None:
    for proc in list(_LIVE):
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        _LIVE.discard(proc)


# ------------------------------------------------------------------------------ client


class RpcClient:
    """A minimal JSON-RPC client over one WebSocket: requests and their replies; what a bench
    counts of the notifications is its subclass's :meth:`on_notification`."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._next_id = 0
        self._waiters: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str) -> Self:
        ws = await asyncio.wait_for(connect(url, max_size=None, max_queue=None, compression=None), 30)
        client = cls(ws)
        await client.result("initialize", {"clientInfo": CLIENT_INFO})
        await ws.send(json.dumps({"method": "initialized"}))
        return client

    def on_frame(self, frame: str | bytes, now_ms: float) -> bool:
        """A look at each frame before it is parsed (True: taken, do not parse it)."""
        return False

    def on_notification(self, method: str, message: dict[str, Any], now_ms: float) -> None:
        """Each notification, parsed, with its arrival time."""

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for frame in self.ws:
                now_ms = time.time_ns() / 1_000_000
                if self.on_frame(frame, now_ms):
                    continue
                message = json.loads(frame)
                method = message.get("method")
                if method is not None and "id" not in message:
                    self.on_notification(method, message, now_ms)
                elif "id" in message and method is None:
                    waiter = self._waiters.pop(message["id"], None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)

    async def call(self, method: str, params: Any, within: float = 60) -> dict[str, Any]:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[self._next_id] = future
        await self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        return await asyncio.wait_for(future, within)

    async def result(self, method: str, params: Any, within: float = 60) -> Any:
        reply = await self.call(method, params, within)
        if "error" in reply:
            raise RuntimeError(f"{method} failed: {reply['error']}")
        return reply["result"]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


class Client(RpcClient):
    """Stamps delta arrivals, and notes a turn's start and end."""

    def __init__(self, ws: ClientConnection) -> None:
        self.delays_ms: list[float] = []
        self.completed = asyncio.Event()
        self.turn_started = asyncio.Event()
        super().__init__(ws)

    def on_notification(self, method: str, message: dict[str, Any], now_ms: float) -> None:
        if method == "item/agentMessage/delta":
            self.delays_ms.append(now_ms - message["emittedAtMs"])
        elif method == "turn/completed":
            self.completed.set()
        elif method == "turn/started":
            self.turn_started.set()

    def reset(self) -> None:
        self.delays_ms.clear()
        self.completed.clear()
        self.turn_started.clear()


def reply_script(count: int, rate: float | None) -> list[Any]:
    pieces = [f"w{i} " for i in range(count)]
    events = text_reply("".join(pieces), deltas=pieces)
    if rate is None:
        return events
    out: list[Any] = []
    for step in events:
        out.append(step)
        if getattr(step, "type", "") == "response.output_text.delta":
            out.append(delay(1.0 / rate))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# ------------------------------------------------------------------------------ workloads


async def fanout(target: target_defs.Target, model: FakeModelServer, counts: Counts, results: Results) -> None:
    server = WsTarget(target, "fanout")
    clients: list[Client] = []
    try:
        await server.start()
        progress(f"[{target.name}] fan-out: connecting {counts.clients} clients to {server.url} ...")
        clients = [await Client.open(server.url) for _ in range(counts.clients)]
        owner = clients[0]
        thread_id = (await owner.result("thread/start", {"cwd": str(target.workspace)}))["thread"]["id"]
        # The reference stores (and lets others resume) a thread only after its first turn.
        model.enqueue(reply_script(5, None))
        await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "warm up"}]})
        await asyncio.wait_for(owner.completed.wait(), 60)
        for client in clients[1:]:
            await client.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
        for label, deltas, rate in (
            ("paced", counts.deltas, counts.rate),
            ("burst", counts.burst_deltas, None),
        ):
            for client in clients:
                client.reset()
            model.enqueue(reply_script(deltas, rate))
            progress(f"[{target.name}] fan-out: {label} turn of {deltas} deltas to {len(clients)} clients ...")
            started = time.perf_counter()
            cpu_before = cpu_seconds(server.pid)
            await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": label}]})
            await asyncio.wait_for(asyncio.gather(*(c.completed.wait() for c in clients)), 300)
            elapsed = time.perf_counter() - started
            results.values[f"{label}_cpu_s"] = cpu_seconds(server.pid) - cpu_before
            samples = [d for c in clients for d in c.delays_ms]
            expected = deltas * len(clients)
            if len(samples) != expected:
                results.notes.append(f"{target.name} {label}: {len(samples):,} of {expected:,} deltas arrived")
            results.values[f"{label}_p50_ms"] = percentile(samples, 50)
            results.values[f"{label}_p99_ms"] = percentile(samples, 99)
            results.values[f"{label}_mean_ms"] = statistics.fmean(samples)
            results.values[f"{label}_turn_s"] = elapsed
        results.values["fanout_peak_rss_mib"] = memory_mib(server.pid, "VmHWM")
    except Exception as exc:
        results.errors["fanout"] = f"{type(exc).__name__}: {exc}"
    finally:
        for client in clients:
            await client.close()
        await server.stop()


async def idle_connections(target: target_defs.Target, counts: Counts, results: Results) -> None:
    server = WsTarget(target, "idle")
    clients: list[Client] = []
    try:
        await server.start()
        warm = await Client.open(server.url)
        clients.append(warm)
        await asyncio.sleep(0.5)
        before = memory_mib(server.pid, "VmRSS")
        progress(f"[{target.name}] idle: opening {counts.idle} connections ...")
        for _ in range(counts.idle):
            clients.append(await Client.open(server.url))
        await asyncio.sleep(1.0)
        after = memory_mib(server.pid, "VmRSS")
        per_connection_kib = max(1e-3, (after - before) * 1024 / counts.idle)
        results.values["idle_rss_before_mib"] = before
        results.values["idle_rss_after_mib"] = after
        results.values["idle_kib_per_connection"] = per_connection_kib
        results.values["idle_per_100mib"] = 100 * 1024 / per_connection_kib
    except Exception as exc:
        results.errors["idle"] = f"{type(exc).__name__}: {exc}"
    finally:
        for client in clients:
            await client.close()
        await server.stop()


# ------------------------------------------------------------------------------ report

ROWS: list[tuple[str, str, str | None]] = [
    ("paced_p50_ms", "paced stream ({rate:g} deltas/s, {deltas} deltas): delivery delay p50 (ms)", "lower"),
    ("paced_p99_ms", "paced stream: delivery delay p99 (ms)", "lower"),
    ("burst_p50_ms", "burst ({burst_deltas} deltas, no pacing): delivery delay p50 (ms)", "lower"),
    ("burst_p99_ms", "burst: delivery delay p99 (ms)", "lower"),
    ("burst_turn_s", "burst: turn/start → last client's turn/completed (s)", "lower"),
    ("paced_cpu_s", "paced stream: server CPU time (s, user+system)", "lower"),
    ("burst_cpu_s", "burst: server CPU time (s, user+system)", "lower"),
    ("fanout_peak_rss_mib", "peak RSS during fan-out (MiB, VmHWM)", "lower"),
    ("idle_kib_per_connection", "RSS per idle initialized connection (KiB)", "lower"),
    ("idle_per_100mib", "idle connections per 100 MiB of RSS", "higher"),
]


def render(results: dict[str, Results], counts: Counts, header: list[str]) -> str:
    lines = [*header, "", "Ratio > 1.0 means ours is better.", "", "| metric | ours | reference | ratio |"]
    lines.append("|---|---:|---:|---:|")
    for key, label, better in ROWS:
        cells = []
        values = []
        for name in ("ours", "reference"):
            result = results.get(name)
            if result is None:
                cells.append("not run")
                values.append(None)
                continue
            group = "idle" if key.startswith("idle") else "fanout"
            if key in result.values:
                cells.append(f"{result.values[key]:,.1f}")
                values.append(result.values[key])
            else:
                cells.append(f"error: {result.errors.get(group, 'not measured')[:80]}")
                values.append(None)
        ratio = "—"
        if better and values[0] and values[1]:
            ratio = f"{(values[1] / values[0]) if better == 'lower' else (values[0] / values[1]):.2f}"
        text = label.format(**counts.__dict__).replace("|", "\\|")
        lines.append(f"| {text} | {cells[0]} | {cells[1]} | {ratio} |")
    notes = [note for result in results.values() for note in result.notes]
    if notes:
        lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    counts = Counts.quick() if args.quick else Counts()
    if args.clients:
        counts.clients = args.clients
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    run_dir = target_defs.CACHE_DIR / f"ws-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    header = [
        f"# WebSocket fan-out: agent-app-server vs codex app-server ({'quick' if args.quick else 'full'} run, "
        f"{time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"- host: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs",
        f"- {counts.clients} clients on one thread, all in one client process; {counts.idle} idle connections",
    ]
    results: dict[str, Results] = {}
    model = FakeModelServer(record_requests=False)
    await model.start()
    try:
        for name in names:
            try:
                if name == "ours":
                    target = target_defs.ours(run_dir, model.base_url)
                elif name == "reference":
                    target = target_defs.reference(run_dir, model.base_url)
                else:
                    raise target_defs.Unavailable(f"unknown target {name!r}")
            except target_defs.Unavailable as exc:
                header.append(f"- {name}: unavailable ({exc})")
                continue
            header.append(f"- {name}: `{target.description} --listen ws://127.0.0.1:0`")
            result = results[name] = Results()
            await fanout(target, model, counts, result)
            await idle_connections(target, counts, result)
    finally:
        await model.close()
        kill_all()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(render(results, counts, header))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--targets", default="ours,reference", help="comma-separated: ours, reference")
    parser.add_argument("--clients", type=int, default=0, help="clients on the thread (default 100; quick: 20)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    parser.add_argument("--keep", action="store_true", help="keep CODEX_HOMEs and stderr logs in bench/.cache")
    args = parser.parse_args(argv)
    if args.clients < 0 or args.clients > 1000:
        parser.error("--clients must be between 1 and 1000")
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
