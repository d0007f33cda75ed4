"""mcpServer/oauth/login through the real server, against an OAuth-protected MCP server written
with the official SDK (tests/support/mcp_oauth_server.py, its own authorization server): the
login answers the authorization URL, the browser's redirect completes it
(``mcpServer/oauthLogin/completed``), and the server's tools then work with the stored token."""

from __future__ import annotations

import asyncio
import socket
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from agent_app_server.testing.fake_model import FakeModelServer
from support.agent_turns import start_agent, start_thread
from support.server_process import ServerClient, Spawn

OAUTH_SERVER = Path(__file__).resolve().parents[1] / "support" / "mcp_oauth_server.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def oauth_server() -> AsyncIterator[str]:
    """The protected server's MCP URL, once it is listening (it says so on stderr)."""
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(OAUTH_SERVER), str(port), stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(30):
            while b"Uvicorn running on" not in (line := await process.stderr.readline()):
                assert line, "the OAuth MCP server exited before listening"
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        await process.wait()


@pytest.fixture
async def agent(spawn: Spawn, codex_home: Path, model: FakeModelServer, oauth_server: str) -> ServerClient:
    config = f'[mcp_servers.secure]\nurl = "{oauth_server}"\n\n[mcp_servers.local]\ncommand = "true"\n'
    return await start_agent(spawn, codex_home, model, extra_config=config)


@pytest.mark.compat("mcp:oauth-tokens")
async def test_login_completes_through_the_browser_redirect_and_the_token_is_used(
    agent: ServerClient, codex_home: Path, oauth_server: str, tmp_path: Path
) -> None:
    login = await agent.result("mcpServer/oauth/login", {"name": "secure", "scopes": ["mcp"]})
    authorization_url = login["authorizationUrl"]
    assert authorization_url.startswith(oauth_server.removesuffix("/mcp") + "/authorize?")
    assert "code_challenge=" in authorization_url and login["loginId"]

    # The user's browser: the authorization server approves and redirects to our callback.
    async with httpx2.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(authorization_url)
    assert page.status_code == 200 and "Signed in" in page.text

    completed = await agent.notification("mcpServer/oauthLogin/completed")
    assert completed["params"] == {
        "name": "secure",
        "success": True,
        "error": None,
        "loginId": login["loginId"],
        "threadId": None,
    }
    tokens = codex_home / "agent-app-server" / "mcp_oauth.json"
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600

    thread_id = await start_thread(agent, cwd=str(tmp_path))
    called = await agent.result(
        "mcpServer/tool/call", {"threadId": thread_id, "server": "secure", "tool": "echo", "arguments": {"text": "hi"}}
    )
    assert called["content"] == [{"type": "text", "text": "secure echo: hi"}]


async def test_logins_refused_as_the_reference_refuses_them(agent: ServerClient) -> None:
    unknown = await agent.call("mcpServer/oauth/login", {"name": "nope"})
    assert unknown["error"]["code"] == -32602
    assert unknown["error"]["message"].endswith("No MCP server named 'nope' found.")
    stdio = await agent.call("mcpServer/oauth/login", {"name": "local"})
    assert stdio["error"]["message"].endswith("OAuth login is only supported for streamable HTTP servers.")


async def test_a_login_nobody_completes_fails_when_its_time_is_up(agent: ServerClient) -> None:
    login = await agent.result("mcpServer/oauth/login", {"name": "secure", "timeoutSecs": 1})
    completed = await agent.notification("mcpServer/oauthLogin/completed")
    assert completed["params"]["loginId"] == login["loginId"]
    assert completed["params"]["success"] is False and "timed out" in completed["params"]["error"]
