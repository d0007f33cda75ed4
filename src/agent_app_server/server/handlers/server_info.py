"""About this server: ``modelProvider/list``, ``modelProvider/capabilities/read`` and
``permissionProfile/list``.

Everything here is read from the effective configuration and the server's own state; nothing
is asked of a provider. Layer: server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ...core.config import ModelProvider
from ...protocol.server_info import (
    CustomGatewayProviderSettings,
    EnvironmentVariableGatewayAuth,
    GatewayAuth,
    ModeGatewayAuth,
    ModelProviderCapabilitiesReadParams,
    ModelProviderCapabilitiesReadResponse,
    ModelProviderListParams,
    ModelProviderListResponse,
    ModelProviderSummary,
    NoneGatewayAuth,
    OpenaiProviderSettings,
    PermissionProfileListParams,
    PermissionProfileListResponse,
    PermissionProfileSummary,
)
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler

#: The reference's built-in profiles, in its order; each maps to the sandbox policy of that name.
PERMISSION_PROFILES = (":read-only", ":workspace", ":danger-full-access")


@handler("modelProvider/list")
async def model_provider_list(conn: Connection, params: ModelProviderListParams) -> ModelProviderListResponse:
    config = conn.app.config
    configured = config.values.get("model_providers")
    tables = configured if isinstance(configured, dict) else {}
    user_ids = [name for name, spec in tables.items() if isinstance(spec, dict)]
    providers = config.providers
    # As the reference: the user's providers first (editable), then the built-in ones they do not override.
    ordered = [*user_ids, *(name for name in providers if name not in user_ids)]
    return ModelProviderListResponse(
        data=[_summary(providers[name], editable=name in user_ids) for name in ordered],
        default_provider_id=config.model_provider_id,
        can_change_default=True,
    )


def _summary(provider: ModelProvider, *, editable: bool) -> ModelProviderSummary:
    if provider.id == "openai" and not editable:
        return ModelProviderSummary(
            id=provider.id, name=provider.name, base_url=None, can_edit=False, settings=OpenaiProviderSettings()
        )
    auth: GatewayAuth
    if provider.env_key:
        auth = EnvironmentVariableGatewayAuth(env_key=provider.env_key)
    elif provider.requires_openai_auth:
        auth = ModeGatewayAuth()
    else:
        auth = NoneGatewayAuth()
    return ModelProviderSummary(
        id=provider.id,
        name=provider.name,
        base_url=_displayable_url(provider.base_url),
        can_edit=editable,
        settings=CustomGatewayProviderSettings(auth=auth),
    )


def _displayable_url(url: str) -> str | None:
    """The URL, unless it carries credentials (user info or a query string may hold a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or parts.username is not None or parts.password is not None or parts.query:
        return None
    return url


@handler("modelProvider/capabilities/read")
async def model_provider_capabilities_read(
    conn: Connection, params: ModelProviderCapabilitiesReadParams
) -> ModelProviderCapabilitiesReadResponse:
    # Neither hosted tool exists here: the agent's tools are commands, patches, plans, images
    # it is shown, and the client's and MCP servers' tools.
    return ModelProviderCapabilitiesReadResponse(image_generation=False, web_search=False)


@handler("permissionProfile/list")
async def permission_profile_list(
    conn: Connection, params: PermissionProfileListParams
) -> PermissionProfileListResponse:
    start = 0
    if params.cursor is not None:
        if not params.cursor.isdigit():
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        start = int(params.cursor)
    # As the reference: no limit lists every profile, a limit of 0 is served as 1.
    end = len(PERMISSION_PROFILES) if params.limit is None else start + max(params.limit, 1)
    page = PERMISSION_PROFILES[start:end]
    return PermissionProfileListResponse(
        data=[PermissionProfileSummary(id=profile, description=None, allowed=True) for profile in page],
        next_cursor=str(end) if end < len(PERMISSION_PROFILES) else None,
    )
