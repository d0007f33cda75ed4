"""Account methods: ``account/read``, ``account/login/start`` / ``cancel``, ``account/logout``,
``account/rateLimits/read``, and the ``account/login/completed`` / ``account/updated``
notifications every client receives when the credentials change.

The credentials themselves live in ``core.auth`` (owned by the process's ``ModelClients``); this
module turns them into wire answers and wires the host application's token refresh
(``account/chatgptAuthTokens/refresh``) to the connection that supplied the tokens.
Layer: server.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from ...core.auth import AuthError, AuthManager, AuthState
from ...core.config import ConfigError
from ...core.providers import uses_openai_auth
from ...protocol import (
    AmazonBedrockAccessKeysLoginAccountParams,
    AmazonBedrockLoginAccountParams,
    ApiKeyLoginAccountParams,
    ApiKeyLoginAccountResponse,
    CancelLoginAccountParams,
    CancelLoginAccountResponse,
    ChatgptAuthTokensLoginAccountParams,
    ChatgptAuthTokensLoginAccountResponse,
    ChatgptAuthTokensRefreshResponse,
    ChatgptDeviceCodeLoginAccountResponse,
    ChatgptLoginAccountParams,
    ChatgptLoginAccountResponse,
    GetAccountParams,
    GetAccountRateLimitsParams,
    GetAccountRateLimitsResponse,
    GetAccountResponse,
    LoginAccountParams,
    LogoutAccountResponse,
)
from ...rpc import InternalError, InvalidParams, Reply
from ..connection import Connection
from . import handler

if TYPE_CHECKING:
    from ..app import AppServer

#: How long the host application has to answer ``account/chatgptAuthTokens/refresh``.
REFRESH_ANSWER_TIMEOUT_S = 60.0
EXTERNAL_AUTH_ACTIVE = (
    "External auth is active. Use account/login/start (chatgptAuthTokens) to update it or account/logout to clear it."
)


def _auth(conn: Connection) -> AuthManager:
    return conn.app.model_clients.auth


def _announce_logins(app: AppServer, auth: AuthManager) -> None:
    """A browser or device login that completes later is announced to every client."""

    def completed(login_id: str, error: str | None) -> None:
        app.emit(
            None,
            "account/login/completed",
            {"loginId": login_id, "success": error is None, "error": error, "onboardingEntrypoint": None},
        )
        if error is None:
            _announce(app, auth.current)

    auth.on_login_completed = completed


def _announce(app: AppServer, state: AuthState | None) -> None:
    """``account/updated`` to every client: the active auth mode and plan (null: logged out)."""
    if state is None:
        params: dict[str, Any] = {"authMode": None, "planType": None}
    else:
        params = {"authMode": state.mode, "planType": state.plan_type if state.is_chatgpt else None}
    app.emit(None, "account/updated", params)


def _api_key_login_completed(app: AppServer, state: AuthState | None) -> None:
    app.emit(
        None, "account/login/completed", {"loginId": None, "success": True, "error": None, "onboardingEntrypoint": None}
    )
    _announce(app, state)


def _forced_method(conn: Connection) -> str | None:
    value = conn.app.config.values.get("forced_login_method")
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------------- account/read


@handler("account/read")
async def account_read(conn: Connection, params: GetAccountParams) -> GetAccountResponse:
    auth = _auth(conn)
    if params.refresh_token and auth.external is None:
        await auth.refresh_managed()  # a failed refresh still answers with the saved account
    state = await auth.reload()
    config = conn.app.config
    try:
        provider = config.provider()
    except ConfigError:
        requires = False
        env_key = None
    else:
        requires = uses_openai_auth(provider)
        env_key = provider.env_key if requires else None
    account: dict[str, Any] | None = None
    if state is not None and state.is_chatgpt:
        account = {"type": "chatgpt", "email": state.email, "planType": state.plan_type or "unknown"}
    elif state is not None or (env_key and os.environ.get(env_key)):
        account = {"type": "apiKey"}
    return GetAccountResponse.model_validate(
        {"account": account, "requiresOpenaiAuth": requires, "userId": state.user_id if state else None}
    )


# ---------------------------------------------------------------------- login


@handler("account/login/start")
async def login_start(conn: Connection, params: LoginAccountParams) -> Reply:
    login: Any = params.root
    auth = _auth(conn)
    app = conn.app
    forced = _forced_method(conn)
    if isinstance(login, ApiKeyLoginAccountParams):
        if auth.external is not None:
            raise InvalidParams(EXTERNAL_AUTH_ACTIVE)
        if forced == "chatgpt":
            raise InvalidParams('API key login is disabled: config.toml sets forced_login_method = "chatgpt"')
        key = login.api_key.strip()
        if not key:
            raise InvalidParams("Invalid params for account/login/start: `apiKey` must not be empty")
        if any(ch.isspace() for ch in key):
            raise InvalidParams("Invalid params for account/login/start: `apiKey` must not contain whitespace")
        try:
            await auth.login_api_key(key)
        except OSError as exc:
            raise InternalError(f"cannot save the API key to {auth.codex_home / 'auth.json'}: {exc.strerror}") from None
        return Reply(ApiKeyLoginAccountResponse().to_wire(), lambda: _api_key_login_completed(app, auth.current))
    if forced == "api":
        raise InvalidParams('ChatGPT login is disabled: config.toml sets forced_login_method = "api"')
    if isinstance(login, ChatgptAuthTokensLoginAccountParams):
        try:
            state = auth.login_external(login.access_token, login.chatgpt_account_id, login.chatgpt_plan_type)
        except AuthError as exc:
            raise InvalidParams(f"Invalid params for account/login/start: `accessToken`: {exc}") from None
        auth.external_refresher = _refresher_via(conn)
        return Reply(ChatgptAuthTokensLoginAccountResponse().to_wire(), lambda: _api_key_login_completed(app, state))
    _announce_logins(app, auth)
    if isinstance(login, ChatgptLoginAccountParams):
        try:
            pending = await auth.start_browser_login()
        except AuthError as exc:
            raise InternalError(str(exc)) from None
        return Reply(ChatgptLoginAccountResponse(login_id=pending.login_id, auth_url=pending.auth_url).to_wire())
    if isinstance(login, AmazonBedrockLoginAccountParams | AmazonBedrockAccessKeysLoginAccountParams):
        raise InvalidParams(
            f"account/login/start type `{login.type}` is not supported by this server; "
            "use `apiKey`, `chatgpt`, `chatgptDeviceCode` or `chatgptAuthTokens`"
        )
    try:
        pending = await auth.start_device_login()
    except AuthError as exc:
        raise InternalError(str(exc)) from None
    return Reply(
        ChatgptDeviceCodeLoginAccountResponse(
            login_id=pending.login_id, user_code=pending.user_code, verification_url=pending.verification_url
        ).to_wire()
    )


def _refresher_via(conn: Connection) -> Any:
    """Ask the host application for new tokens: the connection that supplied them, or, if it is
    gone, any other connection still open."""
    app = conn.app

    async def refresh(previous_account_id: str | None) -> tuple[str, str, str | None] | None:
        target = conn if conn.id in app.connections else next(iter(app.connections.values()), None)
        if target is None or target.peer is None:
            return None
        answer = await asyncio.wait_for(
            target.peer.request(
                "account/chatgptAuthTokens/refresh",
                {"reason": "unauthorized", "previousAccountId": previous_account_id},
            ),
            REFRESH_ANSWER_TIMEOUT_S,
        )
        tokens = ChatgptAuthTokensRefreshResponse.model_validate(answer)
        return tokens.access_token, tokens.chatgpt_account_id, tokens.chatgpt_plan_type

    return refresh


@handler("account/login/cancel")
async def login_cancel(conn: Connection, params: CancelLoginAccountParams) -> CancelLoginAccountResponse:
    cancelled = _auth(conn).cancel(params.login_id)
    return CancelLoginAccountResponse(status="canceled" if cancelled else "notFound")


@handler("account/logout")
async def logout(conn: Connection, params: None) -> Reply:
    auth = _auth(conn)
    try:
        await auth.logout()
    except OSError as exc:
        raise InternalError(f"cannot remove {auth.codex_home / 'auth.json'}: {exc.strerror}") from None
    auth.external_refresher = None
    app = conn.app
    return Reply(LogoutAccountResponse().to_wire(), lambda: _announce(app, None))


# ---------------------------------------------------------------------- rate limits


@handler("account/rateLimits/read")
async def rate_limits_read(conn: Connection, params: GetAccountRateLimitsParams | None) -> GetAccountRateLimitsResponse:
    clients = conn.app.model_clients
    # The last snapshot a model response carried; before any, every value is unknown (null).
    snapshot: dict[str, Any] = dict(clients.last_rate_limits or {"limitId": "codex"})
    state = clients.auth.current
    if snapshot.get("planType") is None and state is not None and state.is_chatgpt:
        snapshot["planType"] = state.plan_type
    by_id = {key: dict(value) for key, value in clients.rate_limits_by_id.items()} or None
    return GetAccountRateLimitsResponse.model_validate(
        {
            "rateLimits": snapshot,
            "rateLimitsByLimitId": by_id,
            "accountId": state.account_id if state is not None and state.is_chatgpt else None,
        }
    )
