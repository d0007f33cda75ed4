"""About this server: ``modelProvider/list``, ``modelProvider/config/write``,
``modelProvider/capabilities/read``, ``permissionProfile/list``, ``server/diagnostics`` and
``mock/experimentalMethod``.

Everything here is read from the effective configuration and the server's own state; nothing
is asked of a provider. Layer: server.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from ...core.config import ModelProvider
from ...core.thread_basics import PERMISSION_PROFILES
from ...protocol.server_info import (
    CustomGatewayProviderSettings,
    CustomGatewayProviderSettingsPatch,
    EnvironmentVariableGatewayAuth,
    GatewayAuth,
    MockExperimentalMethodParams,
    MockExperimentalMethodResponse,
    ModeGatewayAuth,
    ModelProviderCapabilitiesReadParams,
    ModelProviderCapabilitiesReadResponse,
    ModelProviderConfigWriteParams,
    ModelProviderConfigWriteResponse,
    ModelProviderListParams,
    ModelProviderListResponse,
    ModelProviderSummary,
    NoneGatewayAuth,
    OpenaiProviderSettings,
    PermissionProfileListParams,
    PermissionProfileListResponse,
    PermissionProfileSummary,
    ServerDiagnosticsGauge,
    ServerDiagnosticsParams,
    ServerDiagnosticsProcess,
    ServerDiagnosticsResponse,
)
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler


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


@handler("modelProvider/config/write")
async def model_provider_config_write(
    conn: Connection, params: ModelProviderConfigWriteParams
) -> ModelProviderConfigWriteResponse:
    from ...core.config_edit import Edit
    from .config import reload_user_config, write_edits

    patch = params.settings
    if not isinstance(patch, CustomGatewayProviderSettingsPatch):
        raise InvalidParams(
            f"Invalid params for modelProvider/config/write: `settings.type` `{patch.type}` is not supported by "
            "this server; configure an OpenAI-compatible gateway with type `customGateway`"
        )
    config = conn.app.config
    tables = config.values.get("model_providers")
    user_ids = [name for name, spec in tables.items() if isinstance(spec, dict)] if isinstance(tables, dict) else []
    name = patch.name.strip()
    if not name:
        raise _write_error("configValidationError", "Enter a provider name (`settings.name`).")
    sent = patch.model_fields_set
    if patch.provider_id is None:
        provider_id = _new_provider_id(name, set(config.providers))
        table = {"name": name, "wire_api": "responses"}
        table |= {key: value for key, value in (("base_url", patch.base_url), ("env_key", patch.env_key)) if value}
        edits = [Edit(f"model_providers.{provider_id}", table, "upsert")]
    else:
        provider_id = patch.provider_id
        if provider_id not in user_ids:
            if provider_id in config.providers:
                raise _write_error(
                    "configValidationError", "A custom provider or gateway cannot use a built-in provider ID."
                )
            raise _write_error("configPathNotFound", f"Unknown provider ID `{provider_id}`; see modelProvider/list.")
        edits = [Edit(f"model_providers.{provider_id}.name", name, "replace")]
        # Sent as null: the key goes; not sent: it stays as it is.
        edits += [
            Edit(f"model_providers.{provider_id}.{key}", value or None, "replace")
            for field, key, value in (("base_url", "base_url", patch.base_url), ("env_key", "env_key", patch.env_key))
            if field in sent
        ]
    await write_edits(conn, edits, None, None)
    await reload_user_config(conn)
    provider = conn.app.config.providers[provider_id]
    return ModelProviderConfigWriteResponse(provider=_summary(provider, editable=True))


def _write_error(code: str, message: str) -> InvalidParams:
    return InvalidParams(message, data={"config_write_error_code": code})


def _new_provider_id(name: str, taken: set[str]) -> str:
    """An id from the name (``My Gateway`` → ``my-gateway``), unique among known providers."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "provider"
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate


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
    profiles = list(PERMISSION_PROFILES)
    end = len(profiles) if params.limit is None else start + max(params.limit, 1)
    page = profiles[start:end]
    return PermissionProfileListResponse(
        data=[PermissionProfileSummary(id=profile, description=None, allowed=True) for profile in page],
        next_cursor=str(end) if end < len(profiles) else None,
    )


@handler("server/diagnostics")
async def server_diagnostics(conn: Connection, params: ServerDiagnosticsParams) -> ServerDiagnosticsResponse:
    app = conn.app
    loaded = app.threads.loaded_threads()
    gauges = {
        "app.connections": len(app.connections),
        "app.serverRequests.pending": app.pending_request_count(),
        "core.threads.live": len(loaded),
        "core.turns.running": sum(1 for thread in loaded if thread.active is not None),
    }
    return ServerDiagnosticsResponse(
        process=ServerDiagnosticsProcess(id=os.getpid(), resident_memory_bytes=_resident_bytes()),
        gauges=[ServerDiagnosticsGauge(name=name, value=value) for name, value in gauges.items()],
    )


def _resident_bytes() -> int | None:
    # /proc is memory, not disk: reading it never blocks the loop.
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@handler("mock/experimentalMethod")
async def mock_experimental_method(
    conn: Connection, params: MockExperimentalMethodParams
) -> MockExperimentalMethodResponse:
    # The reference's probe of experimental gating: clients use it to check that their opt-in works.
    return MockExperimentalMethodResponse(echoed=params.value)
