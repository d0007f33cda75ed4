"""The dashboard following the reference ``codex app-server`` 0.169.0 beside ours: the reference has
no observer connections, so the page shows what it can know (reachable, version, its threads,
re-listed as they come), and ours in full. Skipped when the pinned reference binary is missing."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agent_app_server.testing import FakeModelServer, text_reply
from support.agent_turns import ENV
from support.dashboard import DashboardProcess, Watched
from support.model_config import write_mock_config
from support.processes import terminate
from support.reference import reference_binary
from support.ws_client import WsClient

BANNER = re.compile(r"listening on: (ws://\S+)")


@pytest.fixture
async def reference_url(tmp_path: Path) -> AsyncIterator[tuple[str, FakeModelServer, Path]]:
    binary, why = reference_binary()
    if binary is None:
        pytest.skip(why)
    async with FakeModelServer() as model:
        home = tmp_path / "home-reference"
        home.mkdir()
        write_mock_config(home, model.base_url)
        stderr_path = tmp_path / "reference.stderr"
        with stderr_path.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                str(binary), "app-server", "--listen", "ws://127.0.0.1:0",
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
                env={**ENV, "CODEX_HOME": str(home), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
            )  # fmt: skip
        try:
            async with asyncio.timeout(30):
                while not (match := BANNER.search(stderr_path.read_text(errors="replace"))):
                    assert proc.returncode is None, stderr_path.read_text()
                    await asyncio.sleep(0.05)
            yield match.group(1), model, tmp_path
        finally:
            await terminate(proc)


async def test_a_reference_server_shows_what_is_known(
    watched: dict[str, Watched], reference_url: tuple[str, FakeModelServer, Path], tmp_path: Path
) -> None:
    url, model, workdir = reference_url
    ours = watched["alpha"]
    args = ["--listen", "127.0.0.1:0", "--audit-db", str(tmp_path / "audit.sqlite3"), "--poll-interval", "0.2"]
    args += ["--server", f"reference={url}", "--server", f"ours={ours.server.url}"]
    dashboard = await DashboardProcess(tmp_path, args).start()
    owner = WsClient("owner-reference")
    await owner.connect(url, {})
    try:
        await owner.initialize()
        workspace = workdir / "ws-reference"
        workspace.mkdir()
        thread_id = (await owner.result("thread/start", {"cwd": str(workspace)}))["thread"]["id"]
        model.enqueue(text_reply("hello from the reference"))
        await owner.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]})
        await owner.notification("turn/completed", within=60)

        async with aiohttp.ClientSession() as http:
            servers, threads = await _until(
                http, dashboard.url, lambda s, t: any(row["id"] == thread_id and row["cwd"] for row in t)
            )
        reference = next(row for row in servers if row["name"] == "reference")
        assert reference["state"] == "connected" and reference["version"]
        (row,) = [row for row in threads if row["id"] == thread_id]
        assert row["server"] == "reference" and row["cwd"] == str(workspace)
        owner.assert_schema_clean()
    finally:
        await owner.close()
        await dashboard.stop()


async def _until(http: aiohttp.ClientSession, url: str, done: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read the page's stream until ``done(servers, threads)`` holds."""
    servers: dict[str, dict[str, Any]] = {}
    threads: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(60), http.get(f"{url}/api/stream") as stream:
        while True:
            line = await stream.content.readline()
            assert line, "the stream ended"
            if not line.startswith(b"data: "):
                continue
            event = json.loads(line[6:])
            rows = event.get("rows", {})
            for row in event.get("servers", []) + rows.get("servers", []):
                servers[row["key"]] = row
            for row in event.get("threads", []) + rows.get("threads", []):
                threads[row["key"]] = row
            if done(list(servers.values()), list(threads.values())):
                return list(servers.values()), list(threads.values())
