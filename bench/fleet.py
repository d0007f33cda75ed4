"""Fleet mode: SQLite vs PostgreSQL, one server vs three on one database.

    .venv/bin/python bench/fleet.py [--threads 100000] [--deltas 20000] [--lease 10] [--quick] [--keep]
    .venv/bin/python bench/fleet.py --stream-only [--deltas 20000]   # only the cross-server stream

The reference has no fleet mode (each of its threads belongs to one process), so there is no
reference column: the comparisons are our own configurations side by side, as ratios.

* **stores**: ``--threads`` threads are written straight through ``ThreadStore`` (SQLite file, or
  a database of a throw-away PostgreSQL cluster started here: ``initdb`` + ``pg_ctl``, unix
  socket, stopped at the end), then servers (``--listen ws://127.0.0.1:0``) are started on them.
* **thread/list page of 25** and **thread/read**: median and p99 of ``--calls`` calls, spread
  round-robin over the configuration's servers, one call in flight per server.
* **cross-server delta latency**: on PostgreSQL with two servers or more, a client on server A
  starts a turn whose reply is ``--deltas`` one-character text deltas while a client on server B
  follows the thread. Per delta: arrival at B's client minus the notification's ``emittedAtMs``
  (stamped by A when it emitted it; same machine clock, millisecond resolution); deltas/s at B
  from its first delta to its last. Goal: ≥ 10,000 deltas/s at B, p99 ≤ 50 ms.
* **failover after kill -9**: A runs a turn (held by the fake model), B follows it, A gets
  SIGKILL; the time until B's client sees ``turn/completed`` (interrupted). Bounded below by the
  lease (``--lease``, default 10 s, the server's default) and above by lease + a heartbeat.

Everything listens on 127.0.0.1; every process started here is killed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from agent_app_server.store import ThreadRecord, ThreadStore
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.fake_model import Hold, SseEvent, paced, text_reply
from agent_app_server.testing.pg_cluster import TempCluster
from ws_fanout import _LIVE, BANNER, CLIENT_INFO, RpcClient, banner, kill_all, progress, stop_process


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank, ``q`` a fraction."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# ------------------------------------------------------------------------------ processes


class Server:
    def __init__(self, home: Path, workspace: Path, args: list[str]) -> None:
        self.home = home
        self.workspace = workspace
        self.args = args
        self.stderr_path = home / "server.stderr"
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self) -> Server:
        env = {**os.environ, "CODEX_HOME": str(self.home), "MOCK_API_KEY": "x"}
        with self.stderr_path.open("wb") as stderr:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "agent_app_server",
                "--listen",
                "ws://127.0.0.1:0",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=self.workspace,
            )
        # A server on a fresh PostgreSQL database migrates it first: allow a minute.
        self.url = await banner(self.proc, self.stderr_path, BANNER, "server", within=60)
        return self

    async def stop(self) -> None:
        await stop_process(self.proc, within=20)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()
        _LIVE.discard(self.proc)


_DELTA_PREFIX = '{"method":"item/agentMessage/delta",'
#: The top-level stamp comes after the params (where a quote inside a string is escaped).
_STAMP = '"emittedAtMs":'
_DIGITS = re.compile(r"\d+")


class Client(RpcClient):
    """Stamps delta arrivals (reading only the stamp of a delta frame) and resolves each turn's
    ``turn/completed``."""

    def __init__(self, ws: ClientConnection) -> None:
        self.delays_ms: list[float] = []
        self.arrivals: list[float] = []
        self.first_delta = asyncio.Event()
        #: turn id → its ``turn/completed`` turn.
        self._completed: dict[str, asyncio.Future[dict[str, Any]]] = {}
        super().__init__(ws)

    def on_frame(self, frame: str | bytes, now_ms: float) -> bool:
        if not (isinstance(frame, str) and frame.startswith(_DELTA_PREFIX)):
            return False
        # Tens of thousands of these arrive in a burst, in this one process with the other
        # client and the fake model: reading only the stamp keeps this process's own queueing
        # out of the latencies it measures.
        stamp = _DIGITS.match(frame, frame.rindex(_STAMP) + len(_STAMP))
        assert stamp is not None
        self._delta(now_ms, int(stamp.group()))
        return True

    def on_notification(self, method: str, message: dict[str, Any], now_ms: float) -> None:
        if method == "item/agentMessage/delta":
            self._delta(now_ms, message["emittedAtMs"])
        elif method == "turn/completed":
            turn = message["params"]["turn"]
            future = self._future(turn["id"])
            if not future.done():
                future.set_result(turn)

    def _delta(self, now_ms: float, emitted_ms: float) -> None:
        self.delays_ms.append(now_ms - emitted_ms)
        self.arrivals.append(now_ms)
        self.first_delta.set()

    async def result(self, method: str, params: Any, within: float = 120) -> Any:
        return await super().result(method, params, within)

    def _future(self, turn_id: str) -> asyncio.Future[dict[str, Any]]:
        if turn_id not in self._completed:
            self._completed[turn_id] = asyncio.get_running_loop().create_future()
        return self._completed[turn_id]

    async def completed(self, turn_id: str, within: float) -> dict[str, Any]:
        return await asyncio.wait_for(asyncio.shield(self._future(turn_id)), within)

    async def start_turn(self, thread_id: str, text: str) -> str:
        started = await self.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
        return str(started["turn"]["id"])

    def reset(self) -> None:
        self.delays_ms.clear()
        self.arrivals.clear()
        self.first_delta.clear()


# ------------------------------------------------------------------------------ workloads


@dataclass
class Config:
    name: str
    #: Directory names: ``<slug>-<n>`` per server's CODEX_HOME.
    slug: str
    store_url: str | None
    servers: int
    lease_s: float


@dataclass
class Row:
    values: dict[str, str] = field(default_factory=dict)


def uuid7(unix_ms: int, rng: random.Random) -> str:
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def thread_records(workspace: Path, count: int) -> list[ThreadRecord]:
    rng = random.Random(1)
    now = int(time.time())
    return [
        ThreadRecord(
            id=uuid7((now - count + index) * 1000, rng),
            created_at=now - count + index,
            updated_at=now - count + index,
            cwd=str(workspace),
            model_provider="mock",
            source_kind="vscode",
            source="vscode",
            originator=CLIENT_INFO["name"],
            preview=f"bench thread {index}",
            model="mock-model",
            cli_version="0.169.0",
        )
        for index in range(count)
    ]


async def seed(location: Path | str, records: list[ThreadRecord]) -> None:
    """The threads written through the store, 64 writes in flight; then, on PostgreSQL, the
    planner's statistics refreshed, as autovacuum soon would after a bulk load (plans made from
    an empty table's statistics are not what a running fleet meets)."""
    count = len(records)
    store = await ThreadStore.open(location)
    try:
        for start in range(0, count, 64):
            await asyncio.gather(*(store.put_thread(record) for record in records[start : start + 64]))
    finally:
        await store.close()
    if isinstance(location, str):
        import psycopg

        async with await psycopg.AsyncConnection.connect(location, autocommit=True) as conn:
            await conn.execute("ANALYZE")


def home_for(root: Path, name: str, model_url: str, config: Config) -> Path:
    home = root / name
    home.mkdir(parents=True, exist_ok=True)
    store = f'[store]\nurl = "{config.store_url}"\nlease_seconds = {config.lease_s}\n' if config.store_url else ""
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "mock"\n'
        f"{store}"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{model_url}"\n'
        'wire_api = "responses"\nenv_key = "MOCK_API_KEY"\nrequest_max_retries = 0\nstream_max_retries = 0\n'
    )
    return home


async def timed_calls(clients: list[Client], method: str, params_of: Any, calls: int) -> list[float]:
    """``calls`` calls spread round-robin over the clients, one in flight per client; ms each."""
    samples: list[float] = []

    async def worker(index: int, client: Client) -> None:
        for call in range(index, calls, len(clients)):
            started = time.perf_counter()
            await client.result(method, params_of(call))
            samples.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker(index, client) for index, client in enumerate(clients)))
    return samples


def fmt(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} / {percentile(samples, 0.99):.2f}"


def held_after_first_delta(script: list[Any], release: asyncio.Event) -> list[Any]:
    first = next(
        i for i, step in enumerate(script) if isinstance(step, SseEvent) and step.type == "response.output_text.delta"
    )
    return [*script[: first + 1], Hold(release), *script[first + 1 :]]


async def measure(
    config: Config, root: Path, workspace: Path, model: FakeModelServer, ids: list[str], args: argparse.Namespace
) -> Row:
    row = Row()
    servers = [
        await Server(home_for(root, f"{config.slug}-{i}", model.base_url, config), workspace, []).start()
        for i in range(config.servers)
    ]
    clients: list[Client] = []
    try:
        clients = [await Client.open(server.url) for server in servers]
        # Warm-up: each server's first list and read load their code and caches.
        for client in clients:
            await client.result("thread/list", {"limit": 25})
            await client.result("thread/read", {"threadId": ids[0]})
        if not args.stream_only:
            rng = random.Random(2)
            samples = await timed_calls(clients, "thread/list", lambda _i: {"limit": 25}, args.calls)
            row.values["thread/list page of 25, ms median / p99"] = fmt(samples)
            samples = await timed_calls(clients, "thread/read", lambda _i: {"threadId": rng.choice(ids)}, args.calls)
            row.values["thread/read, ms median / p99"] = fmt(samples)
        if config.store_url and config.servers >= 2:
            progress(f"  {config.name}: {args.deltas}-delta turn on A, followed on B")
            await cross_server_stream(clients[0], clients[1], model, workspace, args.deltas, row)
            if args.failover:
                progress(f"  {config.name}: kill -9 of the owner mid-turn (lease {config.lease_s:g} s)")
                await failover(servers[0], clients[0], clients[1], model, workspace, row)
    finally:
        for client in clients:
            await client.close()
        for server in servers:
            await server.stop()
    return row


async def cross_server_stream(
    a: Client, b: Client, model: FakeModelServer, workspace: Path, deltas: int, row: Row
) -> None:
    thread_id = (await a.result("thread/start", {"cwd": str(workspace)}))["thread"]["id"]
    model.enqueue(text_reply("warm"))
    await a.completed(await a.start_turn(thread_id, "warm up"), 60)
    # Warm-up of both sides: B follows a turn of A's and runs one of its own (which loads its
    # model SDK: a server loads it once, in a thread, and a burst must not compete with that).
    await b.result("thread/resume", {"threadId": thread_id, "excludeTurns": True})
    for owner in (b, a):
        model.enqueue(text_reply("warm"))
        turn_id = await handed_over(owner, thread_id, "warm up")
        await a.completed(turn_id, 60)
        await b.completed(turn_id, 60)
    a.reset()
    b.reset()
    progress(f"  the {deltas}-delta burst")
    model.enqueue(text_reply("x" * deltas, deltas=["x"] * deltas))
    await b.completed(await a.start_turn(thread_id, "stream"), 300)
    count = len(b.arrivals)
    span_s = (b.arrivals[-1] - b.arrivals[0]) / 1000 if count > 1 else float("nan")
    row.values["deltas/s at a client on another server"] = f"{count / span_s:,.0f}" + (
        "" if count == deltas else f" (only {count} of {deltas} arrived)"
    )
    row.values["cross-server delta latency, ms p50 / p99"] = (
        f"{percentile(b.delays_ms, 0.5):.0f} / {percentile(b.delays_ms, 0.99):.0f}"
    )
    local = a.delays_ms
    row.values["same-server delta latency (A's own client), ms p50 / p99"] = (
        f"{percentile(local, 0.5):.0f} / {percentile(local, 0.99):.0f}"
    )
    # What the relay adds: delta i at B's client minus delta i at A's (both clients in this process).
    added = [b_at - a_at for a_at, b_at in zip(a.arrivals, b.arrivals, strict=False)]
    row.values["added by the relay (B's arrival - A's, same delta), ms p50 / p99"] = (
        f"{percentile(added, 0.5):.0f} / {percentile(added, 0.99):.0f}"
    )
    # The same at a model's pace (1,000 deltas/s in steps of 10): latency without a burst's queue.
    paced_count = min(deltas, 2000)
    a.reset()
    b.reset()
    model.enqueue(paced(text_reply("y" * paced_count, deltas=["y"] * paced_count), every=10, pause=0.01))
    await b.completed(await a.start_turn(thread_id, "paced"), 300)
    added = [b_at - a_at for a_at, b_at in zip(a.arrivals, b.arrivals, strict=False)]
    row.values["paced 1,000 deltas/s: latency at B, ms p50 / p99"] = (
        f"{percentile(b.delays_ms, 0.5):.0f} / {percentile(b.delays_ms, 0.99):.0f}"
    )
    row.values["paced 1,000 deltas/s: added by the relay, ms p50 / p99"] = (
        f"{percentile(added, 0.5):.0f} / {percentile(added, 0.99):.0f}"
    )
    row.values["_thread"] = thread_id


async def handed_over(client: Client, thread_id: str, text: str) -> str:
    """``turn/start`` on a thread whose last turn ran on another server: that server releases
    the lease just after its client saw ``turn/completed``, so a start may come too early."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await client.start_turn(thread_id, text)
        except RuntimeError as error:
            if "on another server" not in str(error) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def failover(owner: Server, a: Client, b: Client, model: FakeModelServer, workspace: Path, row: Row) -> None:
    thread_id = row.values.pop("_thread")
    release = asyncio.Event()
    model.enqueue(held_after_first_delta(text_reply("never finished"), release))
    a.reset()
    b.reset()
    turn_id = await a.start_turn(thread_id, "hold")
    await asyncio.wait_for(b.first_delta.wait(), 60)
    killed = time.perf_counter()
    await owner.kill()
    turn = await b.completed(turn_id, 120)
    elapsed = time.perf_counter() - killed
    release.set()
    row.values["failover: kill -9 → turn/completed at another server, s"] = f"{elapsed:.2f} ({turn['status']})"


def render(configs: list[Config], rows: dict[str, Row], args: argparse.Namespace) -> str:
    keys: list[str] = []
    for row in rows.values():
        keys += [key for key in row.values if key not in keys and not key.startswith("_")]
    lines = [
        f"Fleet bench: {args.threads:,} stored threads, {args.calls} calls per metric, {args.deltas:,}-delta turn",
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()),
        "",
        "| metric | " + " | ".join(config.name for config in configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for key in keys:
        cells = [rows[config.name].values.get(key, "—") for config in configs]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="agent-bench-fleet-"))
    workspace = root / "workspace"
    workspace.mkdir()
    cluster = TempCluster()
    try:
        cluster.start()
        async with FakeModelServer() as model:
            progress(f"seeding {args.threads:,} threads in SQLite and in PostgreSQL")
            sqlite_home_state = root / "sqlite-0" / "agent-app-server"
            records = thread_records(workspace, args.threads)
            ids = [record.id for record in records]
            await seed(sqlite_home_state / "state.sqlite3", records)
            pg_url = cluster.create_database("bench")
            await seed(pg_url, records)
            configs = [
                Config("SQLite, 1 server", "sqlite", None, 1, args.lease),
                Config("PostgreSQL, 1 server", "pg1", pg_url, 1, args.lease),
                Config("PostgreSQL, 3 servers", "pg3", pg_url, 3, args.lease),
            ]
            if args.stream_only:
                configs = configs[2:]
            rows: dict[str, Row] = {}
            for config in configs:
                progress(f"{config.name}")
                rows[config.name] = await measure(config, root, workspace, model, ids, args)
        print(render(configs, rows, args))
        return 0
    finally:
        kill_all()
        cluster.stop()
        if args.keep:
            progress(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--deltas", type=int, default=20_000)
    parser.add_argument("--lease", type=float, default=10.0, help="lease seconds (default: the server's, 10)")
    parser.add_argument("--no-failover", dest="failover", action="store_false")
    parser.add_argument("--quick", action="store_true", help="2,000 threads, 50 calls, 2,000 deltas, 2 s lease")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--stream-only",
        action="store_true",
        help="only the cross-server stream on 3 servers (100 stored threads, no list/read calls, no failover)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.threads, args.calls, args.deltas, args.lease = 2_000, 50, 2_000, 2.0
    if args.stream_only:
        args.threads, args.failover = 100, False
    try:
        return asyncio.run(run(args))
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
