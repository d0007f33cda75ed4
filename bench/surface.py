"""Start-up surface latency, ours vs the reference: the calls a client makes when it starts.

For each target, a fresh process and CODEX_HOME (the `mock` provider pointed at a fake model server
that also serves ``GET /v1/models``): the first ``model/list`` of a new CODEX_HOME (nothing cached),
the first one of a second process on the same CODEX_HOME (our listing is cached on disk), then in a
third process N calls of each of ``model/list``, ``account/read``, ``config/read``,
``configRequirements/read``, ``skills/list``, ``plugin/list``, ``plugin/installed``. Prints
milliseconds per call (median / p95).

    .venv/bin/python bench/surface.py [--calls 200] [--only ours|reference]
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

from agent_app_server.testing.fake_model import FakeModelServer

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
from peer import kill_all
from targets import Target, Unavailable, ours, reference

CALLS: list[tuple[str, Any]] = [
    ("model/list", {}),
    ("account/read", {"refreshToken": False}),
    ("config/read", {"includeLayers": True}),
    ("configRequirements/read", None),
    ("skills/list", {}),
    ("plugin/list", {}),
    ("plugin/installed", {}),
]


def _stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:7.2f} / {p95 * 1000:7.2f}"


async def first_model_list(target: Target, home: Path, label: str) -> float:
    peer = target.peer(home, label)
    await peer.start()
    try:
        await peer.request(
            "initialize", {"clientInfo": {"name": "bench", "version": "1"}, "capabilities": {"experimentalApi": True}}
        )
        started = time.perf_counter()
        await peer.request("model/list", {})
        return time.perf_counter() - started
    finally:
        await peer.close()


async def measure(target: Target, calls: int) -> dict[str, str]:
    home = target.new_home("surface")
    rows: dict[str, str] = {}
    cold = await first_model_list(target, home, "cold")
    rows["model/list, first call of a new CODEX_HOME"] = f"{cold * 1000:7.2f}"
    restart = await first_model_list(target, home, "restart")
    rows["model/list, first call after a restart"] = f"{restart * 1000:7.2f}"
    peer = target.peer(home, "surface")
    await peer.start()
    try:
        await peer.request(
            "initialize", {"clientInfo": {"name": "bench", "version": "1"}, "capabilities": {"experimentalApi": True}}
        )
        await peer.notify("initialized")
        for method, params in CALLS:
            samples = []
            for _ in range(calls):
                started = time.perf_counter()
                await peer.request(method, params)
                samples.append(time.perf_counter() - started)
            rows[f"{method} (median / p95)"] = _stats(samples)
        return rows
    finally:
        await peer.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", choices=("ours", "reference"))
    args = parser.parse_args()
    results: dict[str, dict[str, str]] = {}
    async with FakeModelServer(models=["mock-model", "alpha", "beta"]) as model:
        with tempfile.TemporaryDirectory(dir=Path.home()) as run_dir:
            for name, make in (("ours", ours), ("reference", reference)):
                if args.only and args.only != name:
                    continue
                try:
                    target = make(Path(run_dir), model.base_url)
                except Unavailable as exc:
                    print(f"{name}: unavailable ({exc})", file=sys.stderr)
                    continue
                results[name] = await measure(target, args.calls)
    kill_all()
    names = list(results)
    keys = list(next(iter(results.values()))) if results else []
    print(f"| call (ms) | {' | '.join(names)} |")
    print("|---|" + "---|" * len(names))
    for key in keys:
        print(f"| {key} | " + " | ".join(results[name].get(key, "n/a") for name in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
