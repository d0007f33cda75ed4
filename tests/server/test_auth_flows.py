"""The ChatGPT login flows through the real server against a fake OAuth issuer: the browser flow
(PKCE, state, local callback server), cancelling it, and the device-code flow."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.fake_issuer import FakeIssuer
from support.server_process import ServerProcess, Spawn


@pytest.fixture
async def issuer() -> AsyncIterator[FakeIssuer]:
    async with FakeIssuer() as fake:
        yield fake


async def start(spawn: Spawn, issuer: FakeIssuer) -> ServerProcess:
    server = await spawn(
        env={"OPENAI_API_KEY": ""}, args=("-c", f'auth_issuer="{issuer.url}"', "-c", "auth_callback_port=0")
    )
    await server.initialize()
    return server


async def browser_get(url: str) -> tuple[int, str]:
    """The user's browser following the issuer's redirect to the local callback server."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection("127.0.0.1", parts.port)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    return int(head.split(" ")[1]), body


@pytest.mark.compat("account:no-api-key-exchange")
@pytest.mark.compat("account:auth-config")
async def test_browser_login_with_pkce(spawn: Spawn, codex_home: Path, issuer: FakeIssuer) -> None:
    server = await start(spawn, issuer)
    result = await server.result("account/login/start", {"type": "chatgpt"})
    assert result["type"] == "chatgpt" and result["loginId"]
    assert result["authUrl"].startswith(f"{issuer.url}/oauth/authorize?")
    code, query = issuer.authorize(result["authUrl"])
    redirect = query["redirect_uri"]
    assert redirect.startswith("http://localhost:") and redirect.endswith("/auth/callback")

    # A request with the wrong state is refused and the login goes on.
    status, _ = await browser_get(f"{redirect}?code={code}&state=forged")
    assert status == 400

    status, body = await browser_get(f"{redirect}?code={code}&state={query['state']}")
    assert status == 200 and "Signed in" in body
    completed = await server.notification("account/login/completed")
    assert completed["params"] == {
        "loginId": result["loginId"],
        "success": True,
        "error": None,
        "onboardingEntrypoint": None,
    }
    assert (await server.notification("account/updated"))["params"] == {"authMode": "chatgpt", "planType": "pro"}
    account = await server.result("account/read", {})
    assert account["account"] == {
        "type": "chatgpt",
        "email": "dev@example.com",
        "planType": "pro",
        "workspaceName": None,
    }
    assert account["userId"] == "user-1"

    auth_file = codex_home / "auth.json"
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    saved = json.loads(auth_file.read_text())
    assert saved["auth_mode"] == "chatgpt" and saved["tokens"]["account_id"] == "acct-1"
    # The ChatGPT tokens alone: no API key was obtained in exchange for the id token.
    assert saved.get("OPENAI_API_KEY") is None
    assert not any("token-exchange" in r.body.decode(errors="replace") for r in issuer.requests)

    # account/read {refreshToken: true} uses the saved refresh token.
    await server.result("account/read", {"refreshToken": True})
    grants = [
        r.json().get("grant_type") for r in issuer.requests if r.headers.get("content-type") == "application/json"
    ]
    assert "refresh_token" in grants
    await server.stop()
    leaked = json.dumps(server.received)
    assert not any(secret in leaked or secret.encode() in server.stderr for secret in issuer.secrets_issued)


@pytest.mark.compat("account:errors")
async def test_cancel_browser_login(spawn: Spawn, issuer: FakeIssuer) -> None:
    server = await start(spawn, issuer)
    result = await server.result("account/login/start", {"type": "chatgpt"})
    assert await server.result("account/login/cancel", {"loginId": "no-such-login"}) == {"status": "notFound"}
    assert await server.result("account/login/cancel", {"loginId": result["loginId"]}) == {"status": "canceled"}
    completed = await server.notification("account/login/completed")
    assert completed["params"]["success"] is False and completed["params"]["loginId"] == result["loginId"]
    assert completed["params"]["error"]
    # The callback server is gone.
    redirect = issuer.authorize(result["authUrl"])[1]["redirect_uri"]
    with pytest.raises(OSError):
        await browser_get(f"{redirect}?code=x&state=y")


async def test_device_code_login(spawn: Spawn, codex_home: Path, issuer: FakeIssuer) -> None:
    server = await start(spawn, issuer)
    result = await server.result("account/login/start", {"type": "chatgptDeviceCode"})
    assert result["type"] == "chatgptDeviceCode"
    assert result["userCode"] == "ABCD-1234"
    assert result["verificationUrl"] == f"{issuer.url}/codex/device"
    # The server keeps polling while the user has not approved yet.
    await asyncio.wait_for(issuer.polled_twice.wait(), 20)
    issuer.device_approved = True
    completed = await server.notification("account/login/completed")
    assert completed["params"]["success"] is True and completed["params"]["loginId"] == result["loginId"]
    assert (await server.notification("account/updated"))["params"]["authMode"] == "chatgpt"
    assert (codex_home / "auth.json").exists()


async def test_unreachable_issuer_is_a_clear_error(spawn: Spawn) -> None:
    server = await spawn(args=("-c", 'auth_issuer="http://127.0.0.1:9"'))
    await server.initialize()
    response = await server.call("account/login/start", {"type": "chatgptDeviceCode"})
    assert response["error"]["code"] == -32603
    assert "127.0.0.1:9" in response["error"]["message"]
