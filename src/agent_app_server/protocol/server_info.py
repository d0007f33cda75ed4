"""What a client may ask about this server itself: its model providers and their capabilities,
and its permission profiles.

Owns: the params/result models of ``modelProvider/list``, ``modelProvider/config/write``,
``modelProvider/capabilities/read``, ``permissionProfile/list``, and the experimental
``server/diagnostics`` and ``mock/experimentalMethod`` (the reference's probe of the opt-in).
Layer: protocol (imports ``_base`` and ``common``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from ._base import WireModel
from .common import UInt32, UInt64

__all__ = [
    "BedrockProviderId",
    "BedrockProviderSettingsPatch",
    "CustomGatewayProviderSettings",
    "CustomGatewayProviderSettingsPatch",
    "EnvironmentVariableGatewayAuth",
    "GatewayAuth",
    "GcpProviderId",
    "GcpProviderSettingsPatch",
    "MockExperimentalMethodParams",
    "MockExperimentalMethodResponse",
    "ModeGatewayAuth",
    "ModelProviderCapabilitiesReadParams",
    "ModelProviderCapabilitiesReadResponse",
    "ModelProviderConfigWriteParams",
    "ModelProviderConfigWriteResponse",
    "ModelProviderListParams",
    "ModelProviderListResponse",
    "ModelProviderSummary",
    "NoneGatewayAuth",
    "OpenaiProviderSettings",
    "PermissionProfileListParams",
    "PermissionProfileListResponse",
    "PermissionProfileSummary",
    "ProviderSettings",
    "ProviderSettingsPatch",
    "ServerDiagnosticsGauge",
    "ServerDiagnosticsParams",
    "ServerDiagnosticsProcess",
    "ServerDiagnosticsResponse",
]


class NoneGatewayAuth(WireModel):
    mode: Literal["none"] = "none"


class EnvironmentVariableGatewayAuth(WireModel):
    mode: Literal["environmentVariable"] = "environmentVariable"
    env_key: str


class ModeGatewayAuth(WireModel):
    mode: Literal["externallyConfigured"] = "externallyConfigured"
    env_key: str | None = None


GatewayAuth = TypeAliasType(
    "GatewayAuth",
    Annotated[NoneGatewayAuth | EnvironmentVariableGatewayAuth | ModeGatewayAuth, Field(discriminator="mode")],
)


class OpenaiProviderSettings(WireModel):
    type: Literal["openai"] = "openai"


class CustomGatewayProviderSettings(WireModel):
    type: Literal["customGateway"] = "customGateway"
    auth: GatewayAuth


ProviderSettings = TypeAliasType(
    "ProviderSettings",
    Annotated[OpenaiProviderSettings | CustomGatewayProviderSettings, Field(discriminator="type")],
)


class ModelProviderSummary(WireModel):
    id: str
    name: str
    #: Null when the endpoint is absent or cannot be safely displayed (the reference's rule).
    base_url: str | None = None
    can_edit: bool
    settings: ProviderSettings


class ModelProviderListParams(WireModel):
    pass


class ModelProviderListResponse(WireModel):
    data: list[ModelProviderSummary]
    default_provider_id: str
    can_change_default: bool


class CustomGatewayProviderSettingsPatch(WireModel):
    """Omitted fields keep their value; null clears ``baseUrl`` / ``envKey``."""

    type: Literal["customGateway"] = "customGateway"
    #: Omitted or null: a new provider, its id made from ``name``.
    provider_id: str | None = None
    #: Required by the handler, with a message that says so.
    name: str = ""
    base_url: str | None = None
    env_key: str | None = None


BedrockProviderId = TypeAliasType("BedrockProviderId", Literal["amazon-bedrock", "amazon-bedrock-runtime"])
GcpProviderId = TypeAliasType("GcpProviderId", Literal["gcp"])


class BedrockProviderSettingsPatch(WireModel):
    """Part of the reference's wire; refused here (no Bedrock providers, ``account:bedrock``)."""

    type: Literal["bedrock"] = "bedrock"
    provider_id: BedrockProviderId
    profile: str | None = None
    region: str | None = None


class GcpProviderSettingsPatch(WireModel):
    """Part of the reference's wire; refused here (no Google Cloud providers, ``account:bedrock``)."""

    type: Literal["gcp"] = "gcp"
    provider_id: GcpProviderId
    credential_file: str | None = None
    location: str | None = None
    project_id: str | None = None


ProviderSettingsPatch = TypeAliasType(
    "ProviderSettingsPatch",
    Annotated[
        CustomGatewayProviderSettingsPatch | BedrockProviderSettingsPatch | GcpProviderSettingsPatch,
        Field(discriminator="type"),
    ],
)


class ModelProviderConfigWriteParams(WireModel):
    settings: ProviderSettingsPatch


class ModelProviderConfigWriteResponse(WireModel):
    provider: ModelProviderSummary


class ModelProviderCapabilitiesReadParams(WireModel):
    pass


class ModelProviderCapabilitiesReadResponse(WireModel):
    image_generation: bool
    web_search: bool


class PermissionProfileListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None
    cwd: str | None = None


class PermissionProfileSummary(WireModel):
    id: str
    description: str | None = None
    allowed: bool


class PermissionProfileListResponse(WireModel):
    data: list[PermissionProfileSummary]
    next_cursor: str | None = None


class ServerDiagnosticsParams(WireModel):
    pass


class ServerDiagnosticsProcess(WireModel):
    id: UInt32
    resident_memory_bytes: UInt64 | None = None
    #: macOS only in the reference; always null here.
    physical_footprint_bytes: UInt64 | None = None


class ServerDiagnosticsGauge(WireModel):
    name: str
    value: UInt64


class ServerDiagnosticsResponse(WireModel):
    process: ServerDiagnosticsProcess
    gauges: list[ServerDiagnosticsGauge]


class MockExperimentalMethodParams(WireModel):
    value: str | None = None


class MockExperimentalMethodResponse(WireModel):
    echoed: str | None = None
