"""Config methods: ``config/read``, ``config/value/write``, ``config/batchWrite``,
``configRequirements/read`` and ``experimentalFeature/list``.

Owns: their wire types, including the reference's typed view of ``config.toml`` (``Config``, whose
keys stay snake_case on the wire and which carries any other key as is) and of managed
requirements (``ConfigRequirements``). Imports ``_base`` and ``common``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, WireModel
from .common import (
    ApprovalsReviewer,
    AskForApproval,
    Int64,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    UInt,
    UInt32,
)

AllowDenyRequirement = TypeAliasType("AllowDenyRequirement", Literal["allow", "deny"])


class AnalyticsConfig(WireModel):
    model_config = ConfigDict(extra="allow")
    enabled: bool | None = None


AutoCompactTokenLimitScope = TypeAliasType("AutoCompactTokenLimitScope", Literal["total", "body_after_prefix"])


class AutoReviewRequirements(WireModel):
    ignore_rules: list[str] | None = None
    required_on_models: list[str] | None = None


BrowserUseAccessApprovalLifetime = TypeAliasType("BrowserUseAccessApprovalLifetime", Literal["turn", "thread"])


class BrowserUseOriginPolicyConfig(SnakeWireModel):
    access: AllowDenyRequirement | None = None
    downloads: AllowDenyRequirement | None = None
    full_cdp_access: AllowDenyRequirement | None = None
    uploads: AllowDenyRequirement | None = None


class BrowserUseConfig(SnakeWireModel):
    allow_history_access: bool | None = None
    default_origin_policy: BrowserUseOriginPolicyConfig | None = None
    origins: dict[str, BrowserUseOriginPolicyConfig] | None = None


class RequestHeader(WireModel):
    name: str
    value: str


class BrowserUseExtensionRequirements(WireModel):
    request_headers: list[RequestHeader] | None = None


class BrowserUseOriginPolicy(WireModel):
    access: AllowDenyRequirement | None = None
    access_approval_lifetime: BrowserUseAccessApprovalLifetime | None = None
    auto_review: AllowDenyRequirement | None = None
    downloads: AllowDenyRequirement | None = None
    full_cdp_access: AllowDenyRequirement | None = None
    persistent_approval: bool | None = None
    uploads: AllowDenyRequirement | None = None


class BrowserUseRequirements(WireModel):
    allow_global_persistent_approval: bool | None = None
    allow_history_access: bool | None = None
    allow_webmcp: bool | None = None
    default_origin_policy: BrowserUseOriginPolicy | None = None
    disable_auto_review: bool | None = None
    extension: BrowserUseExtensionRequirements | None = None
    origins: dict[str, BrowserUseOriginPolicy] | None = None


CliAuthCredentialsStoreMode = TypeAliasType(
    "CliAuthCredentialsStoreMode", Literal["file", "keyring", "auto", "ephemeral"]
)


class ComputerUseMacosConfig(SnakeWireModel):
    bundle_ids: dict[str, AllowDenyRequirement] | None = None


class ComputerUseWindowsExeConfig(SnakeWireModel):
    access: AllowDenyRequirement
    binary_name: str | None = None
    product_name: str
    publisher_name: str


class ComputerUseWindowsConfig(WireModel):
    aumids: dict[str, AllowDenyRequirement] | None = None
    exes: list[ComputerUseWindowsExeConfig] | None = None


class ComputerUseConfig(SnakeWireModel):
    default_app_access: AllowDenyRequirement | None = None
    macos: ComputerUseMacosConfig | None = None
    windows: ComputerUseWindowsConfig | None = None


class ComputerUseMacosRequirements(WireModel):
    bundle_ids: dict[str, AllowDenyRequirement] | None = None


class ComputerUseWindowsExeRequirement(WireModel):
    access: AllowDenyRequirement
    binary_name: str | None = None
    product_name: str
    publisher_name: str


class ComputerUseWindowsRequirements(WireModel):
    aumids: dict[str, AllowDenyRequirement] | None = None
    exes: list[ComputerUseWindowsExeRequirement] | None = None


class ComputerUseRequirements(WireModel):
    allow_locked_computer_use: bool | None = None
    allow_persistent_approval: bool | None = None
    default_app_access: AllowDenyRequirement | None = None
    macos: ComputerUseMacosRequirements | None = None
    windows: ComputerUseWindowsRequirements | None = None


ForcedChatgptWorkspaceIds = TypeAliasType("ForcedChatgptWorkspaceIds", str | list[str])


ForcedLoginMethod = TypeAliasType("ForcedLoginMethod", Literal["chatgpt", "api"])


class SandboxWorkspaceWrite(SnakeWireModel):
    exclude_slash_tmp: bool = False
    exclude_tmpdir_env_var: bool = False
    network_access: bool = False
    writable_roots: list[str] = []


WebSearchContextSize = TypeAliasType("WebSearchContextSize", Literal["low", "medium", "high"])


class WebSearchLocation(WireModel):
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchToolConfig(SnakeWireModel):
    allowed_domains: list[str] | None = None
    context_size: WebSearchContextSize | None = None
    location: WebSearchLocation | None = None


class ToolsV2(SnakeWireModel):
    web_search: WebSearchToolConfig | None = None


Verbosity = TypeAliasType("Verbosity", Literal["low", "medium", "high"])


WebSearchMode = TypeAliasType("WebSearchMode", Literal["disabled", "cached", "indexed", "live"])


WebSearchProvider = TypeAliasType("WebSearchProvider", Literal["standalone", "search_mcp"])


class Config(SnakeWireModel):
    model_config = ConfigDict(extra="allow")
    analytics: AnalyticsConfig | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    browser_use: BrowserUseConfig | None = None
    client_search_provider: WebSearchProvider | None = None
    compact_prompt: str | None = None
    computer_use: ComputerUseConfig | None = None
    desktop: dict[str, Any] | None = None
    developer_instructions: str | None = None
    forced_chatgpt_workspace_id: ForcedChatgptWorkspaceIds | None = None
    forced_login_method: ForcedLoginMethod | None = None
    instructions: str | None = None
    model: str | None = None
    model_auto_compact_token_limit: Int64 | None = None
    model_auto_compact_token_limit_scope: AutoCompactTokenLimitScope | None = None
    model_context_window: Int64 | None = None
    model_provider: str | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    model_reasoning_summary: ReasoningSummary | None = None
    model_verbosity: Verbosity | None = None
    review_model: str | None = None
    sandbox_mode: SandboxMode | None = None
    sandbox_workspace_write: SandboxWorkspaceWrite | None = None
    service_tier: str | None = None
    tools: ToolsV2 | None = None
    web_search: WebSearchMode | None = None


class FeedbackRequirements(WireModel):
    enabled: bool | None = None


class InAppBrowserRequirements(WireModel):
    allow_external_browser_settings_import: bool | None = None


class NewThreadModelDefaults(WireModel):
    model: str | None = None
    model_reasoning_effort: ReasoningEffort | None = None
    service_tier: str | None = None


class ModelsRequirements(WireModel):
    new_thread: NewThreadModelDefaults | None = None


OtelHttpProtocol = TypeAliasType("OtelHttpProtocol", Literal["binary", "json"])


class OtelTlsConfig(WireModel):
    ca_certificate: str | None = Field(default=None, alias="ca-certificate")
    client_certificate: str | None = Field(default=None, alias="client-certificate")
    client_private_key: str | None = Field(default=None, alias="client-private-key")


class OtlpHttpExporterConfig(WireModel):
    endpoint: str
    headers: dict[str, str]
    protocol: OtelHttpProtocol
    tls: OtelTlsConfig | None = None


class OtlpGrpcExporterConfig(WireModel):
    endpoint: str
    headers: dict[str, str]
    tls: OtelTlsConfig | None = None


class OtlpHttpOtelExporter(WireModel):
    otlp_http: OtlpHttpExporterConfig = Field(alias="otlp-http")


class OtlpGrpcOtelExporter(WireModel):
    otlp_grpc: OtlpGrpcExporterConfig = Field(alias="otlp-grpc")


OtelExporter = TypeAliasType("OtelExporter", Literal["none", "statsig"] | OtlpHttpOtelExporter | OtlpGrpcOtelExporter)


class OtelToolResultLogConfig(SnakeWireModel):
    max_bytes: UInt


class OtelRequirements(SnakeWireModel):
    environment: str | None = None
    exporter: OtelExporter | None = None
    log_agent_responses: bool | None = None
    log_guardian_assessments: bool | None = None
    log_sse_deltas: bool | None = None
    log_user_prompt: bool | None = None
    metrics_exporter: OtelExporter | None = None
    span_attributes: dict[str, str] | None = None
    tool_result: OtelToolResultLogConfig | None = None
    trace_exporter: OtelExporter | None = None
    tracestate: dict[str, dict[str, str]] | None = None


ResidencyRequirement = TypeAliasType("ResidencyRequirement", Literal["us"])


WindowsSandboxImplementation = TypeAliasType("WindowsSandboxImplementation", Literal["elevated", "unelevated", "mxc"])


class ConfigRequirements(WireModel):
    additional_developer_instructions: str | None = None
    allow_appshots: bool | None = None
    allow_browser_and_computer_use: bool | None = None
    allow_login_shell: bool | None = None
    allow_managed_hooks_only: bool | None = None
    allow_remote_control: bool | None = None
    allowed_approval_policies: list[AskForApproval] | None = None
    allowed_login_methods: list[ForcedLoginMethod] | None = None
    allowed_permission_profiles: dict[str, bool] | None = None
    allowed_sandbox_modes: list[SandboxMode] | None = None
    allowed_web_search_modes: list[WebSearchMode] | None = None
    allowed_windows_sandbox_implementations: list[WindowsSandboxImplementation] | None = None
    auto_review: AutoReviewRequirements | None = None
    browser_use: BrowserUseRequirements | None = None
    chatgpt_base_url: str | None = None
    check_for_update_on_startup: bool | None = None
    cli_auth_credentials_store: CliAuthCredentialsStoreMode | None = None
    computer_use: ComputerUseRequirements | None = None
    default_permissions: str | None = None
    enforce_residency: ResidencyRequirement | None = None
    feature_requirements: dict[str, bool] | None = None
    feedback: FeedbackRequirements | None = None
    in_app_browser: InAppBrowserRequirements | None = None
    log_dir: str | None = None
    model_catalog_json: str | None = None
    model_provider: str | None = None
    model_providers: dict[str, Any] | None = None
    models: ModelsRequirements | None = None
    otel: OtelRequirements | None = None
    sqlite_home: str | None = None


class ConfigReadParams(WireModel):
    cwd: str | None = None
    include_layers: bool = False


class PackagedDefaultsConfigLayerSource(WireModel):
    type: Literal["packagedDefaults"] = "packagedDefaults"
    file: str


class MdmConfigLayerSource(WireModel):
    type: Literal["mdm"] = "mdm"
    domain: str
    key: str


class SystemConfigLayerSource(WireModel):
    type: Literal["system"] = "system"
    file: str


class EnterpriseManagedConfigLayerSource(WireModel):
    type: Literal["enterpriseManaged"] = "enterpriseManaged"
    id: str
    name: str


class UserConfigLayerSource(WireModel):
    type: Literal["user"] = "user"
    file: str
    profile: str | None = None


class ProjectConfigLayerSource(WireModel):
    type: Literal["project"] = "project"
    dot_codex_folder: str


class SessionFlagsConfigLayerSource(WireModel):
    type: Literal["sessionFlags"] = "sessionFlags"


class LegacyManagedConfigTomlFromFileConfigLayerSource(WireModel):
    type: Literal["legacyManagedConfigTomlFromFile"] = "legacyManagedConfigTomlFromFile"
    file: str


class LegacyManagedConfigTomlFromMdmConfigLayerSource(WireModel):
    type: Literal["legacyManagedConfigTomlFromMdm"] = "legacyManagedConfigTomlFromMdm"


ConfigLayerSource = TypeAliasType(
    "ConfigLayerSource",
    Annotated[
        PackagedDefaultsConfigLayerSource
        | MdmConfigLayerSource
        | SystemConfigLayerSource
        | EnterpriseManagedConfigLayerSource
        | UserConfigLayerSource
        | ProjectConfigLayerSource
        | SessionFlagsConfigLayerSource
        | LegacyManagedConfigTomlFromFileConfigLayerSource
        | LegacyManagedConfigTomlFromMdmConfigLayerSource,
        Field(discriminator="type"),
    ],
)


class ConfigLayer(WireModel):
    config: Any
    disabled_reason: str | None = None
    name: ConfigLayerSource
    version: str


class ConfigLayerMetadata(WireModel):
    name: ConfigLayerSource
    version: str


class ConfigReadResponse(WireModel):
    config: Config
    layers: list[ConfigLayer] | None = None
    origins: dict[str, ConfigLayerMetadata]


MergeStrategy = TypeAliasType("MergeStrategy", Literal["replace", "upsert"])


class ConfigValueWriteParams(WireModel):
    expected_version: str | None = None
    file_path: str | None = None
    key_path: str
    merge_strategy: MergeStrategy
    value: Any


class ConfigEdit(WireModel):
    key_path: str
    merge_strategy: MergeStrategy
    value: Any


class ConfigBatchWriteParams(WireModel):
    edits: list[ConfigEdit]
    expected_version: str | None = None
    file_path: str | None = None
    reload_user_config: bool = False


class OverriddenMetadata(WireModel):
    effective_value: Any
    message: str
    overriding_layer: ConfigLayerMetadata


WriteStatus = TypeAliasType("WriteStatus", Literal["ok", "okOverridden"])


class ConfigWriteResponse(WireModel):
    file_path: str
    overridden_metadata: OverriddenMetadata | None = None
    status: WriteStatus
    version: str


class ConfigRequirementsReadResponse(WireModel):
    requirements: ConfigRequirements | None = None
    supports_independent_speed_modes: bool | None = None


class ExperimentalFeatureListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None
    thread_id: str | None = None


ExperimentalFeatureStage = TypeAliasType(
    "ExperimentalFeatureStage", Literal["beta", "underDevelopment", "stable", "deprecated", "removed"]
)


class ExperimentalFeature(WireModel):
    announcement: str | None = None
    default_enabled: bool
    description: str | None = None
    display_name: str | None = None
    enabled: bool
    name: str
    stage: ExperimentalFeatureStage


class ExperimentalFeatureListResponse(WireModel):
    data: list[ExperimentalFeature]
    next_cursor: str | None = None


class ExperimentalFeatureEnablementSetParams(WireModel):
    #: Canonical feature name → enabled; features not named are left as they are.
    enablement: dict[str, bool]


class ExperimentalFeatureEnablementSetResponse(WireModel):
    #: The entries this request changed.
    enablement: dict[str, bool]


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AllowDenyRequirement",
    "AnalyticsConfig",
    "AutoCompactTokenLimitScope",
    "AutoReviewRequirements",
    "BrowserUseAccessApprovalLifetime",
    "BrowserUseConfig",
    "BrowserUseExtensionRequirements",
    "BrowserUseOriginPolicy",
    "BrowserUseOriginPolicyConfig",
    "BrowserUseRequirements",
    "CliAuthCredentialsStoreMode",
    "ComputerUseConfig",
    "ComputerUseMacosConfig",
    "ComputerUseMacosRequirements",
    "ComputerUseRequirements",
    "ComputerUseWindowsConfig",
    "ComputerUseWindowsExeConfig",
    "ComputerUseWindowsExeRequirement",
    "ComputerUseWindowsRequirements",
    "Config",
    "ConfigBatchWriteParams",
    "ConfigEdit",
    "ConfigLayer",
    "ConfigLayerMetadata",
    "ConfigLayerSource",
    "ConfigReadParams",
    "ConfigReadResponse",
    "ConfigRequirements",
    "ConfigRequirementsReadResponse",
    "ConfigValueWriteParams",
    "ConfigWriteResponse",
    "EnterpriseManagedConfigLayerSource",
    "ExperimentalFeature",
    "ExperimentalFeatureEnablementSetParams",
    "ExperimentalFeatureEnablementSetResponse",
    "ExperimentalFeatureListParams",
    "ExperimentalFeatureListResponse",
    "ExperimentalFeatureStage",
    "FeedbackRequirements",
    "ForcedChatgptWorkspaceIds",
    "ForcedLoginMethod",
    "InAppBrowserRequirements",
    "LegacyManagedConfigTomlFromFileConfigLayerSource",
    "LegacyManagedConfigTomlFromMdmConfigLayerSource",
    "MdmConfigLayerSource",
    "MergeStrategy",
    "ModelsRequirements",
    "NewThreadModelDefaults",
    "OtelExporter",
    "OtelHttpProtocol",
    "OtelRequirements",
    "OtelTlsConfig",
    "OtelToolResultLogConfig",
    "OtlpGrpcExporterConfig",
    "OtlpGrpcOtelExporter",
    "OtlpHttpExporterConfig",
    "OtlpHttpOtelExporter",
    "OverriddenMetadata",
    "PackagedDefaultsConfigLayerSource",
    "ProjectConfigLayerSource",
    "RequestHeader",
    "ResidencyRequirement",
    "SandboxWorkspaceWrite",
    "SessionFlagsConfigLayerSource",
    "SystemConfigLayerSource",
    "ToolsV2",
    "UserConfigLayerSource",
    "Verbosity",
    "WebSearchContextSize",
    "WebSearchLocation",
    "WebSearchMode",
    "WebSearchProvider",
    "WebSearchToolConfig",
    "WindowsSandboxImplementation",
    "WriteStatus",
]
