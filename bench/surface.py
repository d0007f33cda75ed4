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
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
from side_by_side import median_p95, print_table
from targets import Target

CALLS: list[tuple[str, Any]] = [
    ("model/list", {}),
    ("account/read", {"refreshToken": False}),
    ("config/read", {"includeLayers": True}),
    ("configRequirements/read", None),
    ("skills/list", {}),
    ("plugin/list", {}),
    ("plugin/installed", {}),
]


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
            rows[f"{method} (median / p95)"] = median_p95(samples)
        return rows
    finally:
        await peer.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--only", choices=("ours", "reference"))
    args = parser.parse_args()
    await print_table(
        lambda target: measure(target, args.calls), only=args.only, models=("mock-model", "alpha", "beta")
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
