"""The per-request path, side by side: sequential ``thread/loaded/list`` round trips on both servers.

    .venv/bin/python bench/roundtrip.py [--runs 7] [--round-trips 2000] [--targets ours,reference]

Each run spawns a fresh process of each target (alternating, so that load from other processes
on the machine falls on both alike), initializes it, warms it with 200 round trips, then times
``--round-trips`` sequential ones (one in flight at a time, the same client as ``bench/run.py``).
Printed per target: the median over runs of each run's median round trip, of its p90, and the
server's CPU time per request (user + system, from ``/proc/<pid>/stat`` around the timed part),
which is what the server itself spends, without the client's share and less disturbed by other
load than wall time. A ratio above 1.0 means ours is better (reference ÷ ours).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import targets as target_defs
from agent_app_server.testing import FakeModelServer
from peer import StdioPeer, kill_all

WARM_UP = 200


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_run(target: target_defs.Target, round_trips: int) -> tuple[float, float, float]:
    """(median µs, p90 µs, server CPU µs per request) of one fresh process."""
    peer: StdioPeer = target.peer(target.new_home("rtt"), "rtt")
    await peer.start()
    try:
        await peer.request("initialize", {"clientInfo": {"name": "bench", "version": "1"}})
        await peer.notify("initialized")
        for _ in range(WARM_UP):
            await peer.request("thread/loaded/list", {})
        samples = []
        cpu_before = cpu_seconds(peer.pid)
        for _ in range(round_trips):
            started = time.perf_counter_ns()
            await peer.request("thread/loaded/list", {})
            samples.append((time.perf_counter_ns() - started) / 1000)
        cpu = (cpu_seconds(peer.pid) - cpu_before) / round_trips * 1e6
    finally:
        await peer.close()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9)], cpu


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--targets", default="ours,reference")
    args = parser.parse_args()
    names = args.targets.split(",")
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in names}
    bench_root = target_defs.CACHE_DIR
    bench_root.mkdir(parents=True, exist_ok=True)
    try:
        async with FakeModelServer() as model:
            with tempfile.TemporaryDirectory(prefix="roundtrip-", dir=bench_root) as run_dir:
                chosen = {name: getattr(target_defs, name)(Path(run_dir), model.base_url) for name in names}
                for run in range(args.runs):
                    for name in names:
                        results[name].append(await one_run(chosen[name], args.round_trips))
                        median, p90, cpu = results[name][-1]
                        print(
                            f"run {run + 1} {name}: median {median:.0f} µs, p90 {p90:.0f}, cpu {cpu:.0f}",
                            file=sys.stderr,
                        )
    finally:
        kill_all()
    rows = {
        name: [statistics.median(run[column] for run in runs) for column in range(3)] for name, runs in results.items()
    }
    print(
        f"| {args.runs} runs x {args.round_trips} round trips (medians over runs) | " + " | ".join(names) + " | ratio |"
    )
    print("|---|" + "---:|" * (len(names) + 1))
    for column, label in enumerate(("round trip median (µs)", "round trip p90 (µs)", "server CPU per request (µs)")):
        values = [rows[name][column] for name in names]
        ratio = f"{values[1] / values[0]:.2f}" if len(values) == 2 else ""
        print(f"| {label} | " + " | ".join(f"{value:,.0f}" for value in values) + f" | {ratio} |")


if __name__ == "__main__":
    asyncio.run(main())
