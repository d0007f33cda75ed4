"""Model providers: turning ``[model_providers.NAME]`` plus credentials into a model client.

Owns: where credentials come from (the provider's ``env_key`` variable; for providers that use
OpenAI auth, the logged-in account: the API key or ChatGPT tokens of ``$CODEX_HOME/auth.json``, or
tokens a host application supplied), the error a user sees when none is there, and the one retry
after a 401 with refreshed ChatGPT tokens.
Layer: core.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .auth import DEFAULT_CALLBACK_PORT, DEFAULT_CHATGPT_BASE_URL, DEFAULT_CLIENT_ID, DEFAULT_ISSUER
from .config import Config, ConfigError, ModelProvider

if TYPE_CHECKING:
    from .auth import AuthManager
    from .model import ModelClient, ModelEvent, ModelRequest, ProviderSettings

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: Domains of OpenAI's own service (the API and the ChatGPT backend), subdomains included.
_OPENAI_DOMAINS = ("openai.com", "chatgpt.com")

AUTH_FILE_NAME = "auth.json"


class MissingCredentials(Exception):
    """No API key where the provider expects one; the message says what to set."""


def saved_api_key(codex_home: Path) -> str | None:
    try:
        data = json.loads((codex_home / AUTH_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("OPENAI_API_KEY") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def resolve_api_key(provider: ModelProvider, codex_home: Path, environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    if provider.env_key:
        value = env.get(provider.env_key)
        if value:
            return value
    if provider.requires_openai_auth or provider.id == "openai":
        saved = saved_api_key(codex_home)
        if saved:
            return saved
    if provider.env_key:
        hint = (
            " or log in with account/login/start (the key is saved to $CODEX_HOME/auth.json)"
            if provider.requires_openai_auth
            else ""
        )
        raise MissingCredentials(
            f"Missing API key for model provider `{provider.id}`: set the environment variable "
            f"`{provider.env_key}`{hint}."
        )
    return None


def uses_openai_auth(provider: ModelProvider) -> bool:
    return provider.requires_openai_auth or provider.id == "openai"


def is_openai_service(provider: ModelProvider) -> bool:
    """Whether ``provider`` is OpenAI's own service: the built-in ``openai`` provider, one that uses
    OpenAI auth, or any ``base_url`` on an OpenAI domain. Its failures get the reference's texts;
    every other provider's are shown in its own words."""
    if uses_openai_auth(provider):
        return True
    host = (urlsplit(provider.base_url).hostname or "").lower()
    return any(host == domain or host.endswith(f".{domain}") for domain in _OPENAI_DOMAINS)


def provider_settings(config: Config, provider_id: str, auth: AuthManager | None = None) -> ProviderSettings:
    """The provider's settings with credentials resolved: its ``env_key`` variable first; for
    providers that use OpenAI auth, then the logged-in account (API key or ChatGPT tokens)."""
    from .model import ProviderSettings

    try:
        provider = config.provider(provider_id)
    except ConfigError as exc:
        raise MissingCredentials(str(exc)) from None
    base_url = provider.base_url
    headers = dict(provider.http_headers)
    state = auth.current if auth is not None and uses_openai_auth(provider) else None
    env_value = os.environ.get(provider.env_key) if provider.env_key else None
    if state is not None and not env_value:
        if state.is_chatgpt:
            api_key: str | None = state.access_token
            if state.account_id:
                headers.setdefault("chatgpt-account-id", state.account_id)
            if provider.id == "openai" and base_url == OPENAI_BASE_URL:
                # As the reference: a ChatGPT login talks to the ChatGPT backend, not the API.
                base_url = chatgpt_base_url(config).rstrip("/") + "/codex"
        else:
            api_key = state.api_key
    else:
        api_key = resolve_api_key(provider, config.codex_home)
    return ProviderSettings(
        id=provider.id,
        base_url=base_url,
        wire_api="chat" if provider.wire_api == "chat" else "responses",
        api_key=api_key,
        env_key=provider.env_key,
        query_params=dict(provider.query_params),
        http_headers=headers,
        request_max_retries=provider.request_max_retries,
        stream_max_retries=provider.stream_max_retries,
        stream_idle_timeout_ms=provider.stream_idle_timeout_ms,
        openai_service=is_openai_service(provider),
    )


def chatgpt_base_url(config: Config) -> str:
    value = config.values.get("chatgpt_base_url")
    return value if isinstance(value, str) and value else DEFAULT_CHATGPT_BASE_URL


def make_auth_manager(config: Config) -> AuthManager:
    """The account's credentials and login flows, from the ``auth_*`` config keys."""
    from .auth import AuthManager

    values = config.values
    issuer = values.get("auth_issuer")
    client_id = values.get("auth_client_id")
    port = values.get("auth_callback_port")
    return AuthManager(
        config.codex_home,
        issuer=issuer if isinstance(issuer, str) and issuer else DEFAULT_ISSUER,
        client_id=client_id if isinstance(client_id, str) and client_id else DEFAULT_CLIENT_ID,
        callback_port=port if isinstance(port, int) and not isinstance(port, bool) else DEFAULT_CALLBACK_PORT,
    )


class ModelClients:
    """One client per provider per process, so HTTP connections are reused across turns.

    Owns the process's :class:`~.auth.AuthManager` too: a login or logout drops the cached clients
    (they were built with the old credentials), and a 401 from a provider that uses ChatGPT tokens
    refreshes them once and retries the request (:class:`_RefreshingClient`). The last rate-limit
    snapshot any response carried is kept for ``account/rateLimits/read``.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._clients: dict[str, ModelClient] = {}
        self._wrappers: dict[str, _RefreshingClient] = {}
        self.auth = make_auth_manager(config)
        self.auth.on_changed = self.invalidate
        #: The last ``RateLimitSnapshot`` (wire dict) seen, and every one by its ``limitId``.
        self.last_rate_limits: dict[str, Any] | None = None
        self.rate_limits_by_id: dict[str, dict[str, Any]] = {}

    @property
    def config(self) -> Config:
        return self._config

    def reconfigure(self, config: Config) -> None:
        """Use a reloaded configuration from the next request on."""
        self._config = config
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the clients built so far; the next request builds them with current credentials."""
        stale = list(self._clients.values())
        self._clients.clear()
        for client in stale:
            _close_soon(client)

    async def aclose(self) -> None:
        """Close every client's connections (the server is stopping; an embedding process's loop
        may close right after, and a pooled connection must not be left to the collector)."""
        clients = list(self._clients.values())
        self._clients.clear()
        self._wrappers.clear()
        for client in clients:
            await client.aclose()
        if _closing:
            await asyncio.wait(list(_closing))

    def raw(self, provider_id: str) -> ModelClient:
        client = self._clients.get(provider_id)
        if client is None:
            from .model import make_client

            client = make_client(provider_settings(self._config, provider_id, self.auth))
            self._clients[provider_id] = client
        return client

    def get(self, provider_id: str) -> ModelClient:
        self.raw(provider_id)  # raise MissingCredentials now, as before, rather than mid-stream
        wrapper = self._wrappers.get(provider_id)
        if wrapper is None:
            wrapper = self._wrappers[provider_id] = _RefreshingClient(self, provider_id)
        return wrapper

    def record_rate_limits(self, snapshot: dict[str, Any]) -> None:
        self.last_rate_limits = dict(snapshot)
        limit_id = snapshot.get("limitId")
        if isinstance(limit_id, str) and limit_id:
            self.rate_limits_by_id[limit_id] = dict(snapshot)

    async def refresh_after_unauthorized(self, provider_id: str) -> bool:
        """A 401 from ``provider_id``: refresh ChatGPT credentials if that can help."""
        try:
            provider = self._config.provider(provider_id)
        except ConfigError:
            return False
        state = self.auth.current
        if not uses_openai_auth(provider) or state is None or not state.is_chatgpt:
            return False
        if provider.env_key and os.environ.get(provider.env_key):
            return False  # the key in the environment was used, not the account's tokens
        if not await self.auth.refresh():
            return False
        self.invalidate()
        return True


class _RefreshingClient:
    """The model client the turn loop sees: records rate limits, and retries once after a 401
    when the credentials could be refreshed (the host app's tokens, or the saved refresh token)."""

    def __init__(self, owner: ModelClients, provider_id: str) -> None:
        self._owner = owner
        self._provider_id = provider_id

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        from .model import ModelError, RateLimits

        owner = self._owner
        for attempt in (1, 2):
            try:
                client = owner.raw(self._provider_id)
            except MissingCredentials as exc:
                from .model import ModelError as _ModelError

                raise _ModelError(str(exc), "unauthorized") from None
            try:
                async for event in client.stream(request):
                    if type(event) is RateLimits:
                        owner.record_rate_limits(event.snapshot)
                    yield event
                return
            except ModelError as error:
                # A 401 is answered before any event, so nothing of this attempt reached the caller.
                if error.http_status != 401 or attempt == 2:
                    raise
                if not await owner.refresh_after_unauthorized(self._provider_id):
                    raise

    async def aclose(self) -> None:
        client = self._owner._clients.get(self._provider_id)
        if client is not None:
            await client.aclose()


def _close_soon(client: ModelClient) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(client.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()
