"""The dashboard's connection to a server drops for real mid-turn (a TCP proxy resets both
sides): it reconnects, catches up through event replay, and the page's stream carries every delta
exactly once, in order. Read from the page's own Server-Sent Events stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from agent_app_server.testing import paced, text_reply
from support.dashboard import DashboardProcess, Watched, start_thread, start_turn
from support.tcp_proxy import TcpProxy

DELTAS = 600


async def test_a_dropped_server_connection_is_caught_up_on_the_page(
    watched: dict[str, Watched], tmp_path: Path
) -> None:
    alpha = watched["alpha"]
    proxy = await TcpProxy("127.0.0.1", alpha.server.port).start()
    args = ["--listen", "127.0.0.1:0", "--audit-db", str(tmp_path / "audit.sqlite3"), "--server", f"alpha={proxy.url}"]
    dashboard = await DashboardProcess(tmp_path, args).start()
    try:
        thread_id = await start_thread(alpha)
        words = [f"w{i} " for i in range(DELTAS)]
        alpha.model.enqueue(paced(text_reply("".join(words), deltas=words), every=20, pause=0.02))
        seen: list[str] = []
        async with aiohttp.ClientSession() as http:
            await _connected(http, dashboard.url)
            stream = await http.get(f"{dashboard.url}/api/stream", params={"thread": f"alpha/{thread_id}"})
            assert (await _next_event(stream))["type"] == "snapshot"
            await start_turn(alpha, thread_id, "stream through a drop")
            dropped = False
            completed = False
            while not completed:
                update = await _next_event(stream)
                for op in update.get("ops", []):
                    if op["op"] == "delta":
                        seen.append(op["delta"])
                    completed = completed or (op["op"] == "turn" and op["status"] == "completed")
                if not dropped and len(seen) >= DELTAS // 4:
                    assert proxy.drop_all() == 1
                    dropped = True
            stream.close()
            async with http.get(f"{dashboard.url}/api/snapshot") as response:
                (server,) = (await response.json())["servers"]
        assert seen == words, "every delta exactly once, in order"
        assert server["reconnects"] == 1 and server["state"] == "connected"
    finally:
        await dashboard.stop()
        await proxy.close()


async def _connected(http: aiohttp.ClientSession, url: str) -> None:
    """Wait, on the page's stream, until the dashboard is connected to the server."""
    async with http.get(f"{url}/api/stream") as stream:
        while True:
            event = await _next_event(stream)
            servers = event.get("servers") or event.get("rows", {}).get("servers") or []
            if any(server["state"] == "connected" for server in servers):
                return


async def _next_event(stream: aiohttp.ClientResponse) -> dict[str, Any]:
    while True:
        line = await stream.content.readline()
        assert line, "the stream ended"
        if line.startswith(b"data: "):
            event: dict[str, Any] = json.loads(line[6:])
            return event
