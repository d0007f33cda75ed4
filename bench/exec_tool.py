"""``exec_command`` round trip through a whole agent turn, for our server and the reference.

    .venv/bin/python bench/exec_tool.py [--runs N] [--targets ours,reference]

One server process per target. For each sandbox mode a thread (approval policy ``never``) runs
turns in which the fake model calls ``exec_command {"cmd": "true", "login": false}`` once and
then answers; we time ``turn/start`` → ``turn/completed`` (two model round trips plus the
command) and report the ``commandExecution`` item's own ``durationMs`` (spawn, sandbox, exit).
A text-only turn is timed too, so the command's share can be read off. The reference comes
from ``bench/.cache`` like ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import targets as target_defs
from agent_app_server.client import ThreadHandle
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.fake_model import function_call_reply, text_reply
from peer import kill_all

MODES = ["danger-full-access", "read-only", "workspace-write"]
COMMAND = json.dumps({"cmd": "true", "login": False, "yield_time_ms": 10_000})


async def timed_turn(thread: ThreadHandle) -> tuple[float, list[float]]:
    """``turn/start`` written → ``turn/completed`` read (ms), and the ``durationMs`` of each
    ``commandExecution`` item of the turn."""
    started = time.perf_counter()
    turn = await thread.turn("run it")
    completed = await asyncio.wait_for(turn.wait(check=True), 60)
    elapsed = (time.perf_counter() - started) * 1000
    durations = [
        float(item["durationMs"])
        async for event in turn.events()
        if event.method == "item/completed"
        and (item := event.params["item"])["type"] == "commandExecution"
        and isinstance(item.get("durationMs"), int)
    ]
    assert completed.status == "completed"
    return elapsed, durations


async def measure(
    target: target_defs.Target, model: FakeModelServer, runs: int, warmups: int
) -> dict[str, dict[str, list[float]] | str]:
    results: dict[str, dict[str, list[float]] | str] = {}
    try:
        async with await target.client(target.new_home("exec-tool")) as client:
            for mode in ["text only", *MODES]:
                sandbox = "read-only" if mode == "text only" else mode
                thread = await client.start_thread(cwd=str(target.workspace), approval_policy="never", sandbox=sandbox)
                turns: list[float] = []
                durations: list[float] = []
                for run in range(warmups + runs):
                    if mode != "text only":
                        model.enqueue(function_call_reply("exec_command", COMMAND, f"call_{run}"))
                    model.enqueue(text_reply("done"))
                    elapsed, items = await timed_turn(thread)
                    if run >= warmups:
                        turns.append(elapsed)
                        durations.extend(items)
                results[mode] = {"turn": turns, "item": durations}
    except Exception as exc:  # one failing target must not hide the other
        results["error"] = f"{type(exc).__name__}: {exc}"
    return results


def cell(values: list[float] | None) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered):.1f} (p90 {p90:.1f})"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument("--targets", default="ours,reference")
    args = parser.parse_args()
    target_defs.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="exec-tool-bench-", dir=target_defs.CACHE_DIR))
    table: dict[str, dict[str, Any]] = {}
    async with FakeModelServer(record_requests=False) as model:
        for name in args.targets.split(","):
            try:
                target = getattr(target_defs, name)(run_dir, model.base_url)
            except target_defs.Unavailable as exc:
                print(f"{name}: unavailable: {exc}", file=sys.stderr)
                continue
            print(f"[{name}] {args.runs} exec_command turns per sandbox mode ...", file=sys.stderr)
            table[name] = await measure(target, model, args.runs, args.warmups)
    kill_all()
    print(
        f"\nexec_command of `true` through a turn (approval never), ms median (p90), {args.runs} runs after "
        f"{args.warmups} warm-ups\n"
    )
    for name, result in table.items():
        if "error" in result:
            print(f"- {name}: {result['error']}")
    columns = [f"{name}: turn" for name in table] + [f"{name}: item durationMs" for name in table]
    print("| sandbox | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for mode in ["text only", *MODES]:
        turn_cells = [cell((table[name].get(mode) or {}).get("turn")) for name in table]
        item_cells = [cell((table[name].get(mode) or {}).get("item")) for name in table]
        print(f"| {mode} | " + " | ".join(turn_cells + item_cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
