"""The dashboard's security model: loopback unless a token guards it, a login or a bearer header,
POSTs only from the page's own origin with its CSRF token, no answer to a foreign ``Host``, and
the servers' tokens never on the page. The cross-site attack runs in real headless Chromium from
a page on another origin; the rest speaks HTTP to the dashboard directly."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent_app_server.dashboard.web import CSRF_HEADER, Dashboard, ServerSpec
from support.dashboard import Browser, DashboardProcess, Watched, guarded_turn, page_text, turn_completed

TOKEN = "dashboard-access-token-0123456789"
SERVER_TOKEN = "server-secret-token-never-shown"


async def test_a_cross_site_post_is_refused(
    watched: dict[str, Watched], dashboard: DashboardProcess, browser: Browser
) -> None:
    alpha = watched["alpha"]
    thread_id = await guarded_turn(alpha, "attack.txt")
    await browser.get(dashboard.url + "/#/approvals")
    await browser.until(page_text("#approvals tr.approval", "attack.txt"), message="the approval waits")
    key = await browser.script("return document.querySelector('#approvals tr.approval').dataset.key")

    # A page on another origin, in the same browser (which holds the dashboard's session cookie),
    # tries both ways a page can POST across sites: a no-cors fetch and a form.
    body = f'{{"keys": ["{key}"], "decision": "accept"}}'
    attack = f"""<!doctype html><html><body>
      <form id="f" method="post" action="{dashboard.url}/api/approvals" enctype="text/plain">
        <input name='{body[:-1]}' value='"}}'></form>
      <script>
        fetch("{dashboard.url}/api/approvals", {{method: "POST", mode: "no-cors", credentials: "include",
          headers: {{"Content-Type": "text/plain"}}, body: {body!r}}})
          .finally(() => document.getElementById("f").submit());
      </script></body></html>"""
    async with _serve_page(attack) as attacker_url:
        await browser.get(attacker_url)
        await browser.until(page_text("body", "cross-site request refused"), message="the form POST was refused")

    # Nothing was answered: the approval still waits, and the page can still decline it.
    async with aiohttp.ClientSession() as http, http.get(dashboard.url + "/api/snapshot") as response:
        approvals = (await response.json())["approvals"]
    assert [a["key"] for a in approvals if a["answeredBy"] is None] == [key]
    assert not (alpha.workspace / "attack.txt").exists()
    await browser.get(dashboard.url + "/#/approvals")
    await browser.until(page_text("#approvals tr.approval", "attack.txt"))
    await browser.click("#approvals tr.approval button.decline")
    assert (await turn_completed(alpha, thread_id))["status"] == "completed"
    assert not (alpha.workspace / "attack.txt").exists()


class _serve_page:
    """The attacker's site: one page on its own port (another origin)."""

    def __init__(self, html: str) -> None:
        async def page(request: web.Request) -> web.Response:
            return web.Response(text=html, content_type="text/html")

        self.app = web.Application()
        self.app.router.add_get("/", page)
        self.runner = web.AppRunner(self.app)

    async def __aenter__(self) -> str:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"http://localhost:{self.runner.addresses[0][1]}/"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Dashboard]:
    """A dashboard (in this process) that requires a login, watching a server that is not there."""
    dashboard = Dashboard(
        [ServerSpec("gone", "ws://user:pw@127.0.0.1:9/?token=x", SERVER_TOKEN)],
        audit_path=tmp_path / "audit.sqlite3",
        host="127.0.0.1",
        port=0,
        auth_token=TOKEN,
    )
    await dashboard.start()
    try:
        yield dashboard
    finally:
        await dashboard.stop()


async def _login(http: aiohttp.ClientSession, url: str) -> str:
    """Log in with the token; returns the page's CSRF token."""
    async with http.post(url + "/login", data={"token": TOKEN}, headers={"Origin": url}) as response:
        assert response.status == 200 and str(response.url) == url + "/"
        page = await response.text()
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
    assert match, page
    return match.group(1)


async def test_a_token_guards_every_page_and_action(guarded: Dashboard) -> None:
    url = guarded.url
    # The cookie jar of a browser: it keeps cookies of an address like 127.0.0.1 too.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url + "/", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"] == "/login"
        async with http.get(url + "/api/snapshot") as response:
            assert response.status == 401
            assert "log in first" in (await response.json())["error"]
        async with http.post(url + "/login", data={"token": "wrong"}, headers={"Origin": url}) as response:
            assert response.status == 403
            assert "wrong token" in await response.text()
        async with http.get(url + "/api/snapshot", headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200

        csrf = await _login(http, url)
        decision = {"keys": ["gone:1"], "decision": "accept"}
        async with http.post(url + "/api/approvals", json=decision, headers={"Origin": url}) as response:
            assert response.status == 403
            assert "CSRF" in (await response.json())["error"]
        async with http.post(
            url + "/api/approvals", json=decision, headers={"Origin": "http://evil.example", CSRF_HEADER: csrf}
        ) as response:
            assert response.status == 403
            assert "Origin" in (await response.json())["error"]
        async with http.post(
            url + "/api/approvals", json=decision, headers={"Origin": url, CSRF_HEADER: csrf}
        ) as response:
            assert response.status == 200
            assert await response.json() == {"results": {"gone:1": "already answered"}}


async def test_the_page_never_shows_the_servers_tokens(guarded: Dashboard) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        seen = []
        for path in ("/", "/api/snapshot", "/static/app.js", "/api/audit"):
            async with http.get(guarded.url + path) as response:
                assert response.status == 200, path
                seen.append(await response.text())
        async with http.get(guarded.url + "/api/stream") as response:
            seen.append((await response.content.readuntil(b"\n\n")).decode())
    everything = "\n".join(seen)
    assert SERVER_TOKEN not in everything
    assert "pw" not in everything and "token=x" not in everything
    assert '"url":"ws://127.0.0.1:9/"' in everything


async def test_a_foreign_host_name_is_not_answered(guarded: Dashboard) -> None:
    """DNS rebinding: a site whose name resolves to 127.0.0.1 must not reach the page."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(guarded.url + "/login", headers={"Host": f"attacker.example:{guarded.port}"}) as response,
    ):
        assert response.status == 421


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "0.0.0.0:0"], "a non-loopback address needs --auth-token-file"),
        ([], "give at least one --server NAME=URL"),
        (["--server", "a/b=ws://127.0.0.1:1"], "a server name is letters, digits"),
        (["--server", "a=http://127.0.0.1:1"], "expected a ws://, wss:// or unix:// URL"),
        (["--server", "a=ws://127.0.0.1:1", "--token-env", "b=VAR"], "no --server named b"),
        (["--server", "a=ws://127.0.0.1:1", "--token-env", "a=DASHBOARD_TEST_UNSET"], "empty or unset"),
        (["--server", "a=ws://127.0.0.1:1", "--listen", "nowhere"], "expected HOST:PORT"),
    ],
)
async def test_bad_command_lines_say_what_to_fix(args: list[str], message: str, tmp_path: Path) -> None:
    if "--server" not in args and "give at least" not in message:
        args = ["--server", "a=ws://127.0.0.1:1", *args]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        "dashboard",
        *args,
        "--audit-db",
        str(tmp_path / "audit.sqlite3"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert message in stderr.decode()
