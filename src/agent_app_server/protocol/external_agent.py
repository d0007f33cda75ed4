"""Importing another agent's configuration: ``externalAgentConfig/detect|import``,
``externalAgentConfig/import/recordHistory|readHistories`` and the
``externalAgentConfig/import/progress|completed`` notifications.

Owns: their params, results, migration items and details, import results and histories.
Layer: protocol (imports ``_base``, ``common`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import Int64, UInt32

__all__ = [
    "CommandMigration",
    "ExternalAgentConfigDetectParams",
    "ExternalAgentConfigDetectResponse",
    "ExternalAgentConfigImportCompletedNotification",
    "ExternalAgentConfigImportHistoriesReadResponse",
    "ExternalAgentConfigImportHistory",
    "ExternalAgentConfigImportHistoryRecordParams",
    "ExternalAgentConfigImportHistoryRecordResponse",
    "ExternalAgentConfigImportHistoryRecordSuccessParams",
    "ExternalAgentConfigImportHistoryRecordTypeResultParams",
    "ExternalAgentConfigImportItemTypeFailure",
    "ExternalAgentConfigImportItemTypeSuccess",
    "ExternalAgentConfigImportParams",
    "ExternalAgentConfigImportProgressNotification",
    "ExternalAgentConfigImportResponse",
    "ExternalAgentConfigImportTypeResult",
    "ExternalAgentConfigMigrationItem",
    "ExternalAgentConfigMigrationItemType",
    "ExternalAgentDetectedConnectorCandidate",
    "ExternalAgentDetectedConnectorSource",
    "ExternalAgentImportedConnectorCandidate",
    "ExternalAgentImportedConnectorSource",
    "HookMigration",
    "McpServerMigration",
    "MigrationDetails",
    "PluginsMigration",
    "SessionMigration",
    "SkillMigration",
    "SubagentMigration",
]

ExternalAgentConfigMigrationItemType = TypeAliasType(
    "ExternalAgentConfigMigrationItemType",
    Literal[
        "AGENTS_MD",
        "CONFIG",
        "SKILLS",
        "PLUGINS",
        "MCP_SERVER_CONFIG",
        "SUBAGENTS",
        "HOOKS",
        "COMMANDS",
        "MEMORY",
        "SESSIONS",
    ],
)
ExternalAgentDetectedConnectorSource = TypeAliasType(
    "ExternalAgentDetectedConnectorSource", Literal["remoteMcpServersConfig", "sessionToolUse"]
)
ExternalAgentImportedConnectorSource = TypeAliasType(
    "ExternalAgentImportedConnectorSource", Literal["remoteMcpServersConfig"]
)


class CommandMigration(WireModel):
    name: str


class HookMigration(WireModel):
    name: str


class McpServerMigration(WireModel):
    name: str


class SkillMigration(WireModel):
    name: str


class SubagentMigration(WireModel):
    name: str


class PluginsMigration(WireModel):
    marketplace_name: str
    plugin_names: list[str]


class SessionMigration(WireModel):
    cwd: str
    path: str
    title: str | None = None


class MigrationDetails(WireModel):
    plugins: list[PluginsMigration] = []
    skills: list[SkillMigration] = []
    sessions: list[SessionMigration] = []
    mcp_servers: list[McpServerMigration] = []
    hooks: list[HookMigration] = []
    subagents: list[SubagentMigration] = []
    commands: list[CommandMigration] = []
    memory: list[str] = []


class ExternalAgentConfigMigrationItem(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    description: str
    #: Null or empty: the home; otherwise the project it was found in.
    cwd: str | None = None
    details: MigrationDetails | None = None


class ExternalAgentDetectedConnectorCandidate(WireModel):
    name: str
    session_count: UInt32
    source: ExternalAgentDetectedConnectorSource


class ExternalAgentImportedConnectorCandidate(WireModel):
    name: str
    session_count: UInt32
    source: ExternalAgentImportedConnectorSource


class ExternalAgentConfigDetectParams(WireModel):
    include_home: bool = False
    cwds: list[str] | None = None
    max_session_age_days: UInt32 | None = None
    max_sessions: UInt32 | None = None
    migration_source: str | None = None
    #: Deprecated and ignored, as the reference.
    source: str | None = None


class ExternalAgentConfigDetectResponse(WireModel):
    items: list[ExternalAgentConfigMigrationItem]
    connectors: list[ExternalAgentDetectedConnectorCandidate] = []


class ExternalAgentConfigImportParams(WireModel):
    migration_items: list[ExternalAgentConfigMigrationItem]
    migration_source: str | None = None
    provider_id: str | None = None
    source: str | None = None


class ExternalAgentConfigImportResponse(WireModel):
    import_id: str


class ExternalAgentConfigImportItemTypeSuccess(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    cwd: str | None = None
    source: str | None = None
    target: str | None = None
    title: str | None = None


class ExternalAgentConfigImportItemTypeFailure(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    failure_stage: str
    message: str
    cwd: str | None = None
    source: str | None = None
    error_type: str | None = None
    sub_error_type: str | None = None


class ExternalAgentConfigImportTypeResult(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    successes: list[ExternalAgentConfigImportItemTypeSuccess]
    failures: list[ExternalAgentConfigImportItemTypeFailure]


class ExternalAgentConfigImportProgressNotification(WireModel):
    import_id: str
    item_type_results: list[ExternalAgentConfigImportTypeResult]


class ExternalAgentConfigImportCompletedNotification(WireModel):
    import_id: str
    item_type_results: list[ExternalAgentConfigImportTypeResult]


class ExternalAgentConfigImportHistoryRecordSuccessParams(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    cwd: str | None = None
    source: str | None = None
    target: str | None = None
    title: str | None = None


class ExternalAgentConfigImportHistoryRecordTypeResultParams(WireModel):
    item_type: ExternalAgentConfigMigrationItemType
    successes: list[ExternalAgentConfigImportHistoryRecordSuccessParams]
    failures: list[ExternalAgentConfigImportItemTypeFailure]


class ExternalAgentConfigImportHistoryRecordParams(WireModel):
    provider_id: str
    item_type_results: list[ExternalAgentConfigImportHistoryRecordTypeResultParams]


class ExternalAgentConfigImportHistoryRecordResponse(WireModel):
    import_id: str


class ExternalAgentConfigImportHistory(WireModel):
    import_id: str
    provider_id: str | None = None
    completed_at_ms: Int64
    successes: list[ExternalAgentConfigImportItemTypeSuccess]
    failures: list[ExternalAgentConfigImportItemTypeFailure]


class ExternalAgentConfigImportHistoriesReadResponse(WireModel):
    data: list[ExternalAgentConfigImportHistory]
    connectors: list[ExternalAgentImportedConnectorCandidate]


registry.notification("externalAgentConfig/import/progress", ExternalAgentConfigImportProgressNotification)
registry.notification("externalAgentConfig/import/completed", ExternalAgentConfigImportCompletedNotification)
