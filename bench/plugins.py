"""Plugin marketplaces, ours vs the reference: listing, reading, installing.

For each target, a fresh process and CODEX_HOME, and the same marketplaces on disk (M folders of
P plugins each, every plugin with a manifest, one skill and an ``.mcp.json``): N calls of
``plugin/list`` over all of them (``cwds``), N of ``plugin/read`` of one plugin, and N
``plugin/install`` + ``plugin/uninstall`` cycles of one plugin (the copy into the cache and the
config.toml edits). Prints milliseconds per call (median / p95).

    .venv/bin/python bench/plugins.py [--calls 50] [--marketplaces 20] [--plugins 25] [--only ours|reference]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
from side_by_side import median_p95, print_table
from targets import Target

MANIFEST = Path(".agents") / "plugins" / "marketplace.json"


def write_marketplaces(root: Path, marketplaces: int, plugins: int) -> list[Path]:
    folders = []
    for m in range(marketplaces):
        folder = root / f"market-{m:02d}"
        names = [f"plugin-{p:02d}" for p in range(plugins)]
        entries = [{"name": n, "source": {"source": "local", "path": f"./plugins/{n}"}} for n in names]
        (folder / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(json.dumps({"name": f"market-{m:02d}", "plugins": entries}))
        for name in names:
            plugin = folder / "plugins" / name
            (plugin / ".codex-plugin").mkdir(parents=True, exist_ok=True)
            manifest = {"name": name, "version": "1.0.0", "interface": {"displayName": name.title()}}
            (plugin / ".codex-plugin" / "plugin.json").write_text(json.dumps(manifest))
            (plugin / "skills" / "hello").mkdir(parents=True, exist_ok=True)
            (plugin / "skills" / "hello" / "SKILL.md").write_text("---\nname: hello\ndescription: hi\n---\nHi.\n")
            (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {name: {"command": "true"}}}))
        folders.append(folder)
    return folders


async def _timed(calls: int, one: Callable[[], Awaitable[Any]]) -> str:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        await one()
        samples.append(time.perf_counter() - started)
    return median_p95(samples)


async def measure(target: Target, calls: int, marketplaces: int, plugins: int) -> dict[str, str]:
    home = target.new_home("plugins")
    folders = write_marketplaces(target.root / "marketplaces", marketplaces, plugins)
    manifest = str(folders[0] / MANIFEST)
    peer = target.peer(home, "plugins")
    await peer.start()
    try:
        await peer.request(
            "initialize", {"clientInfo": {"name": "bench", "version": "1"}, "capabilities": {"experimentalApi": True}}
        )
        await peer.notify("initialized")
        cwds = {"cwds": [str(folder) for folder in folders]}
        read = {"pluginName": "plugin-00", "marketplacePath": manifest}

        async def cycle() -> None:
            await peer.request("plugin/install", read)
            await peer.request("plugin/uninstall", {"pluginId": "plugin-00@market-00"})

        total = marketplaces * plugins
        return {
            f"plugin/list, {marketplaces} marketplaces, {total} plugins (median / p95)": await _timed(
                calls, lambda: peer.request("plugin/list", cwds)
            ),
            "plugin/read (median / p95)": await _timed(calls, lambda: peer.request("plugin/read", read)),
            "plugin/install + plugin/uninstall (median / p95)": await _timed(calls, cycle),
        }
    finally:
        await peer.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--marketplaces", type=int, default=20)
    parser.add_argument("--plugins", type=int, default=25)
    parser.add_argument("--only", choices=("ours", "reference"))
    args = parser.parse_args()
    await print_table(lambda target: measure(target, args.calls, args.marketplaces, args.plugins), only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
