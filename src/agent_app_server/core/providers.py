"""Model providers: turning ``[model_providers.NAME]`` plus credentials into a model client.

Owns: where API keys come from (the provider's ``env_key`` variable; for OpenAI also the key
saved in ``$CODEX_HOME/auth.json``) and the error a user sees when none is there.
Layer: core.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Config, ConfigError, ModelProvider

if TYPE_CHECKING:
    from .model import ModelClient, ProviderSettings

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


def provider_settings(config: Config, provider_id: str) -> ProviderSettings:
    from .model import ProviderSettings

    try:
        provider = config.provider(provider_id)
    except ConfigError as exc:
        raise MissingCredentials(str(exc)) from None
    return ProviderSettings(
        id=provider.id,
        base_url=provider.base_url,
        wire_api="chat" if provider.wire_api == "chat" else "responses",
        api_key=resolve_api_key(provider, config.codex_home),
        env_key=provider.env_key,
        query_params=dict(provider.query_params),
        http_headers=dict(provider.http_headers),
        request_max_retries=provider.request_max_retries,
        stream_max_retries=provider.stream_max_retries,
        stream_idle_timeout_ms=provider.stream_idle_timeout_ms,
    )


class ModelClients:
    """One client per provider per process, so HTTP connections are reused across turns."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._clients: dict[str, ModelClient] = {}

    def get(self, provider_id: str) -> ModelClient:
        client = self._clients.get(provider_id)
        if client is None:
            from .model import make_client

            client = make_client(provider_settings(self._config, provider_id))
            self._clients[provider_id] = client
        return client
