"""``command/exec`` round trip, sandboxed and not, for our server and the reference side by side.

    .venv/bin/python bench/exec_roundtrip.py [--runs N] [--targets ours,reference]

One server process per target; after ``initialize`` it times ``command/exec`` of ``true`` (the
request written → the response read) under ``dangerFullAccess`` (no sandbox: the process
spawn cost) and under ``readOnly`` / ``workspaceWrite`` (the whole sandbox: bubblewrap, the
seccomp helper, the command). Needs bubblewrap (``scripts/dev.sh`` installs it); the reference
comes from ``bench/.cache`` like ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import targets as target_defs
from agent_app_server.client import ClientError
from agent_app_server.testing import FakeModelServer
from peer import kill_all

POLICIES: list[tuple[str, dict[str, Any]]] = [
    ("dangerFullAccess", {"type": "dangerFullAccess"}),
    ("readOnly", {"type": "readOnly"}),
    ("workspaceWrite", {"type": "workspaceWrite"}),
]


async def measure(target: target_defs.Target, runs: int, warmups: int) -> dict[str, list[float] | str]:
    results: dict[str, list[float] | str] = {}
    async with await target.client(target.new_home("exec"), experimental=True) as client:
        for name, policy in POLICIES:
            samples: list[float] = []
            for run in range(warmups + runs):
                started = time.perf_counter()
                try:
                    reply = await asyncio.wait_for(client.command_exec(command=["true"], sandbox_policy=policy), 60)
                except ClientError as exc:
                    results[name] = f"failed: {exc}"
                    break
                elapsed = (time.perf_counter() - started) * 1000
                if reply.exit_code != 0:
                    results[name] = f"failed: exit code {reply.exit_code}: {reply.stderr[:80]}"
                    break
                if run >= warmups:
                    samples.append(elapsed)
            else:
                results[name] = samples
    return results


def cell(value: list[float] | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value[:40]
    ordered = sorted(value)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered):.1f} (p90 {p90:.1f})"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmups", type=int, default=3)
    parser.add_argument("--targets", default="ours,reference")
    args = parser.parse_args()
    wanted = args.targets.split(",")
    run_dir = Path(tempfile.mkdtemp(prefix="exec-bench-", dir=target_defs.CACHE_DIR.parent / ".cache"))
    table: dict[str, dict[str, list[float] | str]] = {}
    async with FakeModelServer() as model:
        for name in wanted:
            try:
                target = getattr(target_defs, name)(run_dir, model.base_url)
            except target_defs.Unavailable as exc:
                print(f"{name}: unavailable: {exc}", file=sys.stderr)
                continue
            print(f"[{name}] {args.runs} command/exec runs per policy ...", file=sys.stderr)
            try:
                table[name] = await measure(target, args.runs, args.warmups)
            except Exception as exc:
                table[name] = {policy: f"error: {exc}" for policy, _ in POLICIES}
    kill_all()
    print(f"\ncommand/exec round trip of `true`, ms median (p90), {args.runs} runs after {args.warmups} warm-ups\n")
    print("| policy | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for policy, _ in POLICIES:
        print(f"| {policy} | " + " | ".join(cell(table[name].get(policy)) for name in table) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
