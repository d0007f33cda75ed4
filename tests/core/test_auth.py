"""core/auth.py: auth.json in the reference's format (private from its creation on), the active
credentials (host tokens over the saved file), and errors that never carry a secret."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.core.auth import (
    AuthError,
    AuthManager,
    AuthState,
    auth_file,
    jwt_claims,
    read_auth_file,
    write_auth_file,
)
from support.fake_issuer import FakeIssuer, chatgpt_claims, make_jwt

SECRET = "sk-test-SECRET-0f9e8d"


def test_an_api_key_round_trips_through_a_private_auth_json(codex_home: Path) -> None:
    write_auth_file(codex_home, AuthState(mode="apikey", api_key=SECRET))
    path = auth_file(codex_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert (data["auth_mode"], data["OPENAI_API_KEY"], data["tokens"]) == ("apikey", SECRET, None)
    assert read_auth_file(codex_home) == AuthState(mode="apikey", api_key=SECRET)
    assert SECRET not in repr(read_auth_file(codex_home))
    assert [p.name for p in codex_home.iterdir()] == ["auth.json"]  # no temporary file left behind


def test_chatgpt_tokens_carry_the_identity_of_their_claims(codex_home: Path) -> None:
    access = make_jwt(chatgpt_claims(email="a@example.com", plan="plus", account="acct-9"))
    write_auth_file(codex_home, AuthState(mode="chatgpt", access_token=access, refresh_token="r-1"))
    state = read_auth_file(codex_home)
    assert state is not None and state.is_chatgpt
    assert (state.email, state.plan_type, state.account_id, state.user_id) == (
        "a@example.com",
        "plus",
        "acct-9",
        "user-1",
    )
    assert state.refresh_token == "r-1"


@pytest.mark.parametrize("content", ["not json", "[]", '{"auth_mode": "apikey"}', '{"tokens": {"access_token": 5}}'])
def test_an_unusable_auth_json_means_no_credentials(codex_home: Path, content: str) -> None:
    auth_file(codex_home).write_text(content)
    assert read_auth_file(codex_home) is None


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("abc", "three dot-separated"),
        ("a..c", "three dot-separated"),
        ("a.!!!.c", "not base64url JSON"),
        (make_jwt({}).replace(make_jwt({}).split(".")[1], "WzFd"), "not a JSON object"),
    ],
)
def test_a_token_that_is_not_a_jwt_says_why(token: str, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        jwt_claims(token)


async def test_login_and_logout_update_the_file_and_tell_listeners(codex_home: Path) -> None:
    manager = AuthManager(codex_home)
    changes: list[AuthState | None] = []
    manager.on_changed = lambda: changes.append(manager.current)
    assert manager.current is None

    await manager.login_api_key(SECRET)
    assert read_auth_file(codex_home) == AuthState(mode="apikey", api_key=SECRET)
    await manager.logout()
    assert not auth_file(codex_home).exists()
    assert changes == [AuthState(mode="apikey", api_key=SECRET), None]


async def test_host_tokens_win_over_the_saved_file_and_are_checked(codex_home: Path) -> None:
    write_auth_file(codex_home, AuthState(mode="apikey", api_key=SECRET))
    manager = AuthManager(codex_home)
    with pytest.raises(AuthError, match="chatgptAccountId must not be empty"):
        manager.login_external(make_jwt(chatgpt_claims()), " ", None)
    with pytest.raises(AuthError, match="not a JWT"):
        manager.login_external("opaque-token", "acct-1", None)

    state = manager.login_external(make_jwt(chatgpt_claims(plan="team")), "acct-1", None)
    assert manager.current is state and state.mode == "chatgptAuthTokens" and state.plan_type == "team"
    assert (await manager.reload()) is state  # the file is still there, behind the host's tokens


async def test_a_401_asks_the_host_for_new_tokens_once(codex_home: Path) -> None:
    manager = AuthManager(codex_home)
    manager.login_external(make_jwt(chatgpt_claims()), "acct-1", None)
    asked: list[Any] = []
    fresh = make_jwt(chatgpt_claims(plan="pro", account="acct-2"))

    async def host(account_id: str | None) -> tuple[str, str, str | None]:
        asked.append(account_id)
        return fresh, "acct-2", None

    manager.external_refresher = host
    assert await manager.refresh()
    assert asked == ["acct-1"]
    assert manager.current is not None and manager.current.account_id == "acct-2"


async def test_refused_host_tokens_keep_the_old_ones(codex_home: Path) -> None:
    manager = AuthManager(codex_home)
    original = manager.login_external(make_jwt(chatgpt_claims()), "acct-1", None)

    async def host(account_id: str | None) -> tuple[str, str, str | None]:
        return "not-a-jwt", "acct-1", None

    manager.external_refresher = host
    assert not await manager.refresh()
    assert manager.current is original


async def test_no_saved_chatgpt_login_means_nothing_to_refresh(codex_home: Path) -> None:
    write_auth_file(codex_home, AuthState(mode="apikey", api_key=SECRET))
    assert not await AuthManager(codex_home).refresh()


async def test_a_saved_chatgpt_login_refreshes_at_the_issuer(codex_home: Path) -> None:
    async with FakeIssuer() as issuer:
        first = issuer._tokens()
        write_auth_file(
            codex_home,
            AuthState(mode="chatgpt", access_token=first["access_token"], refresh_token=first["refresh_token"]),
        )
        manager = AuthManager(codex_home, issuer=issuer.url)
        assert await manager.refresh()
        saved = read_auth_file(codex_home)
        assert saved is not None and saved.access_token not in (None, first["access_token"])
        assert saved.access_token in issuer.secrets_issued

        # A refresh token the issuer refuses: no new credentials, and no secret in the error.
        write_auth_file(codex_home, AuthState(mode="chatgpt", access_token=first["access_token"], refresh_token="bad"))
        assert not await manager.refresh()
        assert read_auth_file(codex_home) == AuthState(
            mode="chatgpt",
            access_token=first["access_token"],
            refresh_token="bad",
            email="dev@example.com",
            plan_type="pro",
            account_id="acct-1",
            user_id="user-1",
        )
