"""Account methods through the real server: API-key login saved to auth.json (0600), account/read,
logout, rate limits, the host app's ChatGPT tokens with the 401 → refresh → retry round trip, and
no secret ever appearing in the server's output."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, http_error, text_reply
from support.fake_issuer import chatgpt_claims, make_jwt
from support.model_config import write_mock_config
from support.server_process import ServerProcess, Spawn

SECRET_KEY = "sk-test-SECRET-4b1d9e0c77"


def write_openai_auth_config(codex_home: Path, base_url: str) -> None:
    """A provider that uses the account's credentials (like the built-in `openai`), pointed at the
    fake model server."""
    (codex_home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "acct"\n\n[model_providers.acct]\nname = "acct"\n'
        f'base_url = "{base_url}"\nwire_api = "responses"\nrequires_openai_auth = true\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


async def run_turn(server: ServerProcess, text: str = "hi") -> dict[str, Any]:
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}]})
    return await server.notification("turn/completed")


def assert_no_secret(server: ServerProcess, *secrets: str) -> None:
    sent = json.dumps(server.received)
    for secret in secrets:
        assert secret not in sent, "a secret appeared in a message the server sent"
        assert secret.encode() not in server.stderr, "a secret appeared in the server's stderr"


async def test_account_read_without_credentials(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    server = await spawn(env={"OPENAI_API_KEY": ""})
    await server.initialize()
    result = await server.result("account/read", {})
    assert result == {"account": None, "requiresOpenaiAuth": True, "userId": None}

    # A provider with its own env_key needs no OpenAI account.
    write_mock_config(codex_home, model.base_url)
    other = await spawn(env={"MOCK_API_KEY": "x"})
    await other.initialize()
    assert (await other.result("account/read", {"refreshToken": False}))["requiresOpenaiAuth"] is False


@pytest.mark.compat("account:api-key-checked")
@pytest.mark.compat("account:bedrock")
async def test_api_key_login_saves_auth_json_and_logout_removes_it(spawn: Spawn, codex_home: Path) -> None:
    server = await spawn(env={"OPENAI_API_KEY": ""})
    await server.initialize()

    for unusable in ("  ", "sk-two words"):
        refused = await server.call("account/login/start", {"type": "apiKey", "apiKey": unusable})
        assert refused["error"]["code"] == -32602 and "apiKey" in refused["error"]["message"]
    assert not (codex_home / "auth.json").exists()

    result = await server.result("account/login/start", {"type": "apiKey", "apiKey": SECRET_KEY})
    assert result == {"type": "apiKey"}
    completed = await server.notification("account/login/completed")
    assert completed["params"] == {"loginId": None, "success": True, "error": None, "onboardingEntrypoint": None}
    updated = await server.notification("account/updated")
    assert updated["params"] == {"authMode": "apikey", "planType": None}

    auth_file = codex_home / "auth.json"
    assert stat.S_IMODE(auth_file.stat().st_mode) == 0o600
    saved = json.loads(auth_file.read_text())
    assert saved["OPENAI_API_KEY"] == SECRET_KEY and saved["auth_mode"] == "apikey"
    assert (await server.result("account/read", {}))["account"] == {"type": "apiKey"}

    assert await server.result("account/logout") == {}
    assert (await server.notification("account/updated"))["params"] == {"authMode": None, "planType": None}
    assert not auth_file.exists()
    assert (await server.result("account/read", {}))["account"] is None

    unknown = await server.call("account/login/start", {"type": "amazonBedrock", "apiKey": "k", "region": "us"})
    assert unknown["error"]["code"] == -32602
    assert "`amazonBedrock` is not supported by this server" in unknown["error"]["message"]
    await server.stop()
    assert_no_secret(server, SECRET_KEY)


@pytest.mark.compat("account:rate-limits-local")
async def test_saved_api_key_is_used_by_the_model_provider(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    write_openai_auth_config(codex_home, model.base_url)
    server = await spawn(env={"OPENAI_API_KEY": ""})
    await server.initialize()
    await server.result("account/login/start", {"type": "apiKey", "apiKey": SECRET_KEY})
    model.enqueue(text_reply("hello"))
    completed = await run_turn(server)
    assert completed["params"]["turn"]["status"] == "completed"
    assert model.response_requests()[-1].headers["authorization"] == f"Bearer {SECRET_KEY}"

    limits = await server.result("account/rateLimits/read")
    assert limits["rateLimits"]["limitId"] == "codex"
    await server.stop()
    assert_no_secret(server, SECRET_KEY)


@pytest.mark.compat("account:errors")
@pytest.mark.compat("account:host-tokens-local")
async def test_chatgpt_auth_tokens_refresh_after_401(spawn: Spawn, codex_home: Path, model: FakeModelServer) -> None:
    write_openai_auth_config(codex_home, model.base_url)
    first = make_jwt({**chatgpt_claims(plan="plus", account="acct-1"), "n": "first-SECRET"})
    second = make_jwt({**chatgpt_claims(plan="plus", account="acct-1"), "n": "second-SECRET"})
    server = await spawn(env={"OPENAI_API_KEY": ""})
    await server.initialize()

    bad = await server.call(
        "account/login/start", {"type": "chatgptAuthTokens", "accessToken": "not-a-jwt", "chatgptAccountId": "a"}
    )
    assert bad["error"]["code"] == -32602 and "JWT" in bad["error"]["message"]

    result = await server.result(
        "account/login/start", {"type": "chatgptAuthTokens", "accessToken": first, "chatgptAccountId": "acct-1"}
    )
    assert result == {"type": "chatgptAuthTokens"}
    updated = await server.notification("account/updated")
    assert updated["params"] == {"authMode": "chatgptAuthTokens", "planType": "plus"}
    account = await server.result("account/read", {})
    assert account["account"] == {
        "type": "chatgpt",
        "email": "dev@example.com",
        "planType": "plus",
        "workspaceName": None,
    }
    assert not (codex_home / "auth.json").exists(), "host-supplied tokens stay in memory"

    # The model API rejects the first token once; the server asks the client for new tokens.
    model.enqueue(http_error(401, {"error": {"message": "token expired"}}), text_reply("after refresh"))
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]})
    request = await asyncio.wait_for(server.server_requests.get(), 20)
    assert request["method"] == "account/chatgptAuthTokens/refresh"
    assert request["params"] == {"reason": "unauthorized", "previousAccountId": "acct-1"}
    await server.send({"id": request["id"], "result": {"accessToken": second, "chatgptAccountId": "acct-1"}})
    completed = await server.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "completed"
    first_request, retried = model.response_requests()[-2:]
    assert first_request.headers["authorization"] == f"Bearer {first}"
    assert retried.headers["authorization"] == f"Bearer {second}"
    assert retried.headers["chatgpt-account-id"] == "acct-1"

    # API-key login is refused while the host application owns the credentials.
    refused = await server.call("account/login/start", {"type": "apiKey", "apiKey": SECRET_KEY})
    assert refused["error"]["code"] == -32602 and "External auth is active" in refused["error"]["message"]
    await server.stop()
    assert_no_secret(server, first, second, SECRET_KEY)


async def test_refresh_refused_by_the_client_fails_the_turn(
    spawn: Spawn, codex_home: Path, model: FakeModelServer
) -> None:
    write_openai_auth_config(codex_home, model.base_url)
    token = make_jwt(chatgpt_claims())
    server = await spawn(env={"OPENAI_API_KEY": ""})
    await server.initialize()
    await server.result(
        "account/login/start", {"type": "chatgptAuthTokens", "accessToken": token, "chatgptAccountId": "acct-1"}
    )
    model.enqueue(http_error(401, {"error": {"message": "token expired"}}))
    thread_id = (await server.result("thread/start", {}))["thread"]["id"]
    await server.result("turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": "hi"}]})
    request = await asyncio.wait_for(server.server_requests.get(), 20)
    await server.send({"id": request["id"], "error": {"code": -32000, "message": "cannot refresh"}})
    completed = await server.notification("turn/completed")
    assert completed["params"]["turn"]["status"] == "failed"
    assert len(model.response_requests()) == 1, "no retry without new tokens"


async def test_unimplemented_account_methods_are_method_not_found(spawn: Spawn) -> None:
    server = await spawn()
    await server.initialize()
    for method in ("account/gatewayOAuth/read",):
        response = await server.call(method, {})
        assert response["error"]["code"] == -32601
        assert method in response["error"]["message"]
