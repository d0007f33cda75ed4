"""The first turn of a fresh process: spawn → first ``item/agentMessage/delta``, side by side.

    .venv/bin/python bench/first_turn.py [--runs N] [--warmups N] [--before REV] [--targets ...]

Each run spawns a fresh server on one CODEX_HOME (the warm-ups pay for first-use setup) and, with
the same fake Responses model for every target, times:

- **spawn → first delta**: ``initialize``, ``thread/start`` and ``turn/start`` written back to
  back (each as soon as the previous reply arrives), until the first agent-message delta;
- **turn/start → first delta, back to back**: the part of that after ``turn/start`` was written;
- **turn/start → first delta, after a pause**: the same with ``--pause`` seconds between the
  ``thread/start`` reply and ``turn/start``, as when a user types the first message.

Targets: ``ours`` (this tree), ``before`` (``src/`` of ``--before REV``, default the commit
before the SDK was preloaded at thread start, extracted with ``git archive`` into
``bench/.cache`` and run with the same interpreter), and ``reference`` (as ``bench/run.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import targets as target_defs
from agent_app_server.testing import FakeModelServer
from peer import Message, kill_all

REPO = target_defs.BENCH_DIR.parent
#: The last commit before ``preload_sdk_soon()`` (the SDK was imported by the first model request).
DEFAULT_BEFORE = "a27d724"
METRICS = ("spawn → first delta", "turn/start → first delta, back to back", "turn/start → first delta, after a pause")


def before_target(run_dir: Path, model_base_url: str, rev: str) -> target_defs.Target:
    """Our server as it was at ``rev``: its ``src/`` first on ``PYTHONPATH``."""
    src = target_defs.CACHE_DIR / f"src-{rev}"
    if not (src / "agent_app_server").is_dir():
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=False)
        if archive.returncode != 0:
            raise target_defs.Unavailable(f"git archive {rev} failed: {archive.stderr.decode().strip()}")
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(src.parent / f"tree-{rev}", filter="data")
        (src.parent / f"tree-{rev}" / "src").rename(src)
    launcher = (
        f"import runpy, sys; sys.path.insert(0, {str(src)!r}); "
        "runpy.run_module('agent_app_server', run_name='__main__')"
    )
    return target_defs.Target(
        name="before",
        argv=[sys.executable, "-c", launcher],
        root=run_dir / "before",
        model_base_url=model_base_url,
        description=f"src/ of {rev}",
    )


async def one_run(target: target_defs.Target, home: Path, label: str, pause: float) -> tuple[float, float]:
    """(spawn → first delta, turn/start → first delta) of one fresh process, in ms."""
    peer = target.peer(home, label)
    first_delta: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_notification(message: Message) -> None:
        if message.get("method") == "item/agentMessage/delta" and not first_delta.done():
            first_delta.set_result(time.perf_counter())

    listener: Callable[[Message], None] = on_notification
    peer.notification_listeners.append(listener)
    spawned = time.perf_counter()
    try:
        await peer.start()
        await peer.request("initialize", {"clientInfo": {"name": "bench", "version": "1"}})
        await peer.notify("initialized")
        thread = await peer.request("thread/start", {"cwd": str(target.workspace)}, within=60)
        if pause:
            await asyncio.sleep(pause)  # the user typing: a workload parameter, not a wait for an event
        turn_written = time.perf_counter()
        await peer.request(
            "turn/start",
            {"threadId": thread["thread"]["id"], "input": [{"type": "text", "text": "hi"}]},
            within=60,
        )
        delta_at = await asyncio.wait_for(first_delta, 60)
    finally:
        await peer.close()
    return (delta_at - spawned) * 1000, (delta_at - turn_written) * 1000


async def measure(target: target_defs.Target, runs: int, warmups: int, pause: float) -> dict[str, list[float]]:
    home = target.new_home("first-turn")
    samples: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for run in range(warmups + runs):
        total, turn = await one_run(target, home, f"back-to-back-{run}", 0.0)
        _, turn_after_pause = await one_run(target, home, f"paused-{run}", pause)
        if run >= warmups:
            samples[METRICS[0]].append(total)
            samples[METRICS[1]].append(turn)
            samples[METRICS[2]].append(turn_after_pause)
    return samples


def cell(values: list[float] | str | None) -> str:
    if values is None:
        return "-"
    if isinstance(values, str):
        return values[:60]
    return f"{statistics.median(values):.0f}"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmups", type=int, default=1)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between thread/start and turn/start")
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the revision the `before` target runs")
    parser.add_argument("--targets", default="ours,before,reference")
    args = parser.parse_args()
    target_defs.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="first-turn-", dir=target_defs.CACHE_DIR))
    table: dict[str, dict[str, list[float]] | str] = {}
    async with FakeModelServer() as model:
        for name in args.targets.split(","):
            try:
                if name == "before":
                    target = before_target(run_dir, model.base_url, args.before)
                else:
                    target = getattr(target_defs, name)(run_dir, model.base_url)
            except target_defs.Unavailable as exc:
                print(f"{name}: unavailable: {exc}", file=sys.stderr)
                continue
            print(f"[{name}] {args.warmups}+{args.runs} fresh processes ...", file=sys.stderr)
            try:
                table[name] = await measure(target, args.runs, args.warmups, args.pause)
            except Exception as exc:
                table[name] = f"error: {exc}"
    kill_all()
    print(
        f"\nFirst turn of a fresh process, ms, median of {args.runs} after {args.warmups} warm-up "
        f"(pause {args.pause:g} s; {os.cpu_count()} CPUs)\n"
    )
    print("| metric | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for metric in METRICS:
        row = [cell(values if isinstance(values, str) else values[metric]) for values in table.values()]
        print(f"| {metric} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
