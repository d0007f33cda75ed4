"""``model/list``: the configured model first, then what the provider's ``/models`` lists.

The listing is cached and refreshed in the background (``core.models_catalog``); a provider that
cannot be reached only shortens the list, it is never an error.
Layer: server (the catalog is ``AppServer.services.model_catalog``).
"""

from __future__ import annotations

from typing import Any

from ...core.config import ConfigError
from ...core.models_catalog import ProviderRequest, model_page
from ...core.providers import MissingCredentials, provider_settings
from ...protocol import ModelListParams
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler


def _request(conn: Connection, provider_id: str) -> ProviderRequest:
    config = conn.app.config
    provider = config.provider(provider_id)
    try:
        settings = provider_settings(config, provider_id, conn.app.model_clients.auth)
    except MissingCredentials:
        # No key: ask anyway (local servers list models without one); a refusal lists nothing.
        return ProviderRequest(provider.id, provider.base_url, None, dict(provider.http_headers), {})
    return ProviderRequest(
        settings.id, settings.base_url, settings.api_key, dict(settings.http_headers), dict(settings.query_params)
    )


@handler("model/list")
async def model_list(conn: Connection, params: ModelListParams) -> dict[str, Any]:
    config = conn.app.config
    provider_id = config.model_provider_id if params.model_provider is None else params.model_provider
    if not provider_id:
        raise InvalidParams(
            "Invalid params for model/list: `modelProvider` must not be empty; omit it for the configured one"
        )
    try:
        request = _request(conn, provider_id)
    except ConfigError as exc:
        raise InvalidParams(f"Invalid params for model/list: `modelProvider`: {exc}") from None
    start = 0
    if params.cursor is not None:
        if not params.cursor.isdigit():
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        start = int(params.cursor)
    if params.limit is not None and params.limit < 1:
        raise InvalidParams("Invalid params for model/list: `limit` must be at least 1")
    listed = await conn.app.services.model_catalog.listed(request)
    models = model_page(config, provider_id, listed, include_hidden=bool(params.include_hidden))
    if start > len(models):
        raise InvalidParams(f"invalid cursor: {params.cursor}")
    end = len(models) if params.limit is None else min(len(models), start + params.limit)
    next_cursor = str(end) if end < len(models) else None
    # Already in wire form (``models_catalog`` builds wire ``Model`` dicts): sent as is, which spares
    # the first call building the response model's validators.
    return {"data": models[start:end], "nextCursor": next_cursor}
