"""One registry: every method, notification and server request we speak, with its types.

Owns: the mapping from wire method names to params/result models and experimental flags.
``server`` dispatches from it; ``schema_gen`` generates JSON Schema and TypeScript from it.

The registry loads lazily so that start-up stays light: looking up ``initialize`` imports only
the handshake models; the thread and turn models load on the first request that needs them, and
notification / server-request types when those tables are first read.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from ._base import WireModel


@dataclass(frozen=True, slots=True)
class MethodSpec:
    """A client→server request.

    ``params_optional``: the reference types params as nullable for this method, so ``params``
    may be absent or null.
    """

    method: str
    #: None: the method takes no params (the reference types them as null).
    params: type[WireModel] | None
    result: type[WireModel]
    experimental: bool = False
    params_optional: bool = False
    #: The ``server.handlers`` module implementing the method (None: registered at run time,
    #: with its handler).
    handlers: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationSpec:
    """A server→client notification."""

    method: str
    params: type[WireModel]
    experimental: bool = False


@dataclass(frozen=True, slots=True)
class ServerRequestSpec:
    """A server→client request that the client answers."""

    method: str
    params: type[WireModel]
    result: type[WireModel]
    experimental: bool = False


#: Every client request we implement: wire name → (protocol module, params class, result class,
#: the ``server.handlers`` module implementing it). Both modules load on the method's first call.
#: Methods the reference has but this table lacks answer "method not found".
METHOD_TABLE: dict[str, tuple[str, str | None, str, str]] = {
    "initialize": ("handshake", "InitializeParams", "InitializeResponse", "initialize"),
    "thread/start": ("methods", "ThreadStartParams", "ThreadStartResponse", "threads"),
    "thread/resume": ("methods", "ThreadResumeParams", "ThreadResumeResponse", "turns"),
    "thread/fork": ("methods", "ThreadForkParams", "ThreadForkResponse", "turns"),
    "thread/read": ("methods", "ThreadReadParams", "ThreadReadResponse", "threads"),
    "thread/list": ("methods", "ThreadListParams", "ThreadListResponse", "threads"),
    "thread/loaded/list": ("methods", "ThreadLoadedListParams", "ThreadLoadedListResponse", "threads"),
    "thread/name/set": ("methods", "ThreadSetNameParams", "ThreadSetNameResponse", "threads"),
    "thread/archive": ("methods", "ThreadArchiveParams", "ThreadArchiveResponse", "threads"),
    "thread/unarchive": ("methods", "ThreadUnarchiveParams", "ThreadUnarchiveResponse", "threads"),
    "thread/unsubscribe": ("methods", "ThreadUnsubscribeParams", "ThreadUnsubscribeResponse", "threads"),
    "thread/revert": ("methods", "ThreadRevertParams", "ThreadRevertResponse", "turns"),
    "thread/turns/list": ("methods", "ThreadTurnsListParams", "ThreadTurnsListResponse", "pages"),
    "thread/items/list": ("methods", "ThreadItemsListParams", "ThreadItemsListResponse", "pages"),
    "thread/compact/start": ("methods", "ThreadCompactStartParams", "ThreadCompactStartResponse", "turns"),
    "turn/start": ("methods", "TurnStartParams", "TurnStartResponse", "turns"),
    "turn/steer": ("methods", "TurnSteerParams", "TurnSteerResponse", "turns"),
    "turn/interrupt": ("methods", "TurnInterruptParams", "TurnInterruptResponse", "turns"),
}
# Account, models, config, skills and hooks. A params class of None: the reference's params for
# that method are always null (``params`` absent, null or an ignored object).
METHOD_TABLE.update(
    {
        "account/read": ("account", "GetAccountParams", "GetAccountResponse", "account"),
        "account/login/start": ("account", "LoginAccountParams", "LoginAccountResponse", "account"),
        "account/login/cancel": ("account", "CancelLoginAccountParams", "CancelLoginAccountResponse", "account"),
        "account/logout": ("account", None, "LogoutAccountResponse", "account"),
        "account/rateLimits/read": ("account", "GetAccountRateLimitsParams", "GetAccountRateLimitsResponse", "account"),
        "model/list": ("models_api", "ModelListParams", "ModelListResponse", "models"),
        "config/read": ("config_api", "ConfigReadParams", "ConfigReadResponse", "config"),
        "config/value/write": ("config_api", "ConfigValueWriteParams", "ConfigWriteResponse", "config"),
        "config/batchWrite": ("config_api", "ConfigBatchWriteParams", "ConfigWriteResponse", "config"),
        "configRequirements/read": ("config_api", None, "ConfigRequirementsReadResponse", "config"),
        "experimentalFeature/list": (
            "config_api",
            "ExperimentalFeatureListParams",
            "ExperimentalFeatureListResponse",
            "config",
        ),
        "skills/list": ("skills", "SkillsListParams", "SkillsListResponse", "skills"),
        "skills/config/write": ("skills", "SkillsConfigWriteParams", "SkillsConfigWriteResponse", "skills"),
        "hooks/list": ("skills", "HooksListParams", "HooksListResponse", "skills"),
        "skills/extraRoots/set": ("skills", "SkillsExtraRootsSetParams", "SkillsExtraRootsSetResponse", "skills"),
    }
)
# Plugins and plugin marketplaces on disk or in git (OpenAI's remote catalog is not offered).
METHOD_TABLE.update(
    {
        "marketplace/add": ("plugins", "MarketplaceAddParams", "MarketplaceAddResponse", "plugins"),
        "marketplace/remove": ("plugins", "MarketplaceRemoveParams", "MarketplaceRemoveResponse", "plugins"),
        "marketplace/upgrade": ("plugins", "MarketplaceUpgradeParams", "MarketplaceUpgradeResponse", "plugins"),
        "plugin/list": ("plugins", "PluginListParams", "PluginListResponse", "plugins"),
        "plugin/installed": ("plugins", "PluginInstalledParams", "PluginInstalledResponse", "plugins"),
        "plugin/read": ("plugins", "PluginReadParams", "PluginReadResponse", "plugins"),
        "plugin/install": ("plugins", "PluginInstallParams", "PluginInstallResponse", "plugins"),
        "plugin/uninstall": ("plugins", "PluginUninstallParams", "PluginUninstallResponse", "plugins"),
    }
)
# Files and search.
METHOD_TABLE.update(
    {
        "fs/readFile": ("fs", "FsReadFileParams", "FsReadFileResponse", "fs"),
        "fs/writeFile": ("fs", "FsWriteFileParams", "FsWriteFileResponse", "fs"),
        "fs/createDirectory": ("fs", "FsCreateDirectoryParams", "FsCreateDirectoryResponse", "fs"),
        "fs/getMetadata": ("fs", "FsGetMetadataParams", "FsGetMetadataResponse", "fs"),
        "fs/readDirectory": ("fs", "FsReadDirectoryParams", "FsReadDirectoryResponse", "fs"),
        "fs/remove": ("fs", "FsRemoveParams", "FsRemoveResponse", "fs"),
        "fs/copy": ("fs", "FsCopyParams", "FsCopyResponse", "fs"),
        "fs/watch": ("fs", "FsWatchParams", "FsWatchResponse", "fs"),
        "fs/unwatch": ("fs", "FsUnwatchParams", "FsUnwatchResponse", "fs"),
        "fuzzyFileSearch": ("fs", "FuzzyFileSearchParams", "FuzzyFileSearchResponse", "fs"),
    }
)
# Standalone commands (outside any turn) and the TUI's `!cmd`.
METHOD_TABLE.update(
    {
        "command/exec": ("exec", "CommandExecParams", "CommandExecResponse", "exec"),
        "command/exec/write": ("exec", "CommandExecWriteParams", "CommandExecWriteResponse", "exec"),
        "command/exec/resize": ("exec", "CommandExecResizeParams", "CommandExecResizeResponse", "exec"),
        "command/exec/terminate": ("exec", "CommandExecTerminateParams", "CommandExecTerminateResponse", "exec"),
        "thread/shellCommand": ("exec", "ThreadShellCommandParams", "ThreadShellCommandResponse", "exec"),
    }
)
# MCP servers configured in config.toml.
METHOD_TABLE.update(
    {
        "mcpServerStatus/list": ("tools", "ListMcpServerStatusParams", "ListMcpServerStatusResponse", "mcp"),
        "mcpServer/tool/call": ("tools", "McpServerToolCallParams", "McpServerToolCallResponse", "mcp"),
    }
)
# Threads: deletion, metadata, injected history, sections and attachments (kept in the store).
METHOD_TABLE.update(
    {
        "thread/delete": ("methods", "ThreadDeleteParams", "ThreadDeleteResponse", "threads"),
        "thread/metadata/update": ("methods", "ThreadMetadataUpdateParams", "ThreadMetadataUpdateResponse", "threads"),
        "thread/inject_items": ("methods", "ThreadInjectItemsParams", "ThreadInjectItemsResponse", "threads"),
        "thread/items/read": ("methods", "ThreadItemsReadParams", "ThreadItemsReadResponse", "pages"),
        "threadSection/list": ("sections", "ThreadSectionListParams", "ThreadSectionListResponse", "sections"),
        "threadSection/create": ("sections", "ThreadSectionCreateParams", "ThreadSectionCreateResponse", "sections"),
        "threadSection/update": ("sections", "ThreadSectionUpdateParams", "ThreadSectionUpdateResponse", "sections"),
        "threadSection/delete": ("sections", "ThreadSectionDeleteParams", "ThreadSectionDeleteResponse", "sections"),
        "thread/section/move": ("sections", "ThreadSectionMoveParams", "ThreadSectionMoveResponse", "sections"),
        "thread/attachment/add": (
            "attachments",
            "ThreadAttachmentAddParams",
            "ThreadAttachmentAddResponse",
            "attachments",
        ),
        "thread/attachment/list": (
            "attachments",
            "ThreadAttachmentListParams",
            "ThreadAttachmentListResponse",
            "attachments",
        ),
        "thread/attachment/remove": (
            "attachments",
            "ThreadAttachmentRemoveParams",
            "ThreadAttachmentRemoveResponse",
            "attachments",
        ),
        "thread/attachmentOwner/list": (
            "attachments",
            "ThreadAttachmentOwnerListParams",
            "ThreadAttachmentOwnerListResponse",
            "attachments",
        ),
        "collaborationMode/list": (
            "thread_settings",
            "CollaborationModeListParams",
            "CollaborationModeListResponse",
            "thread_settings",
        ),
        "turn/settings/update": (
            "thread_settings",
            "TurnSettingsUpdateParams",
            "TurnSettingsUpdateResponse",
            "thread_settings",
        ),
        "thread/settings/update": (
            "thread_settings",
            "ThreadSettingsUpdateParams",
            "ThreadSettingsUpdateResponse",
            "thread_settings",
        ),
        "thread/queue/add": ("queue", "ThreadQueueAddParams", "ThreadQueueAddResponse", "queue"),
        "thread/queue/list": ("queue", "ThreadQueueListParams", "ThreadQueueListResponse", "queue"),
        "thread/queue/update": ("queue", "ThreadQueueUpdateParams", "ThreadQueueUpdateResponse", "queue"),
        "thread/queue/delete": ("queue", "ThreadQueueDeleteParams", "ThreadQueueDeleteResponse", "queue"),
        "thread/queue/reorder": ("queue", "ThreadQueueReorderParams", "ThreadQueueReorderResponse", "queue"),
        "thread/queue/start": ("queue", "ThreadQueueStartParams", "ThreadQueueStartResponse", "queue"),
        "thread/backgroundTerminals/list": (
            "terminals",
            "ThreadBackgroundTerminalsListParams",
            "ThreadBackgroundTerminalsListResponse",
            "terminals",
        ),
        "thread/backgroundTerminals/terminate": (
            "terminals",
            "ThreadBackgroundTerminalsTerminateParams",
            "ThreadBackgroundTerminalsTerminateResponse",
            "terminals",
        ),
        "thread/backgroundTerminals/clean": (
            "terminals",
            "ThreadBackgroundTerminalsCleanParams",
            "ThreadBackgroundTerminalsCleanResponse",
            "terminals",
        ),
    }
)
# Configuration, MCP resources, search sessions and what this server is.
METHOD_TABLE.update(
    {
        "experimentalFeature/enablement/set": (
            "config_api",
            "ExperimentalFeatureEnablementSetParams",
            "ExperimentalFeatureEnablementSetResponse",
            "config",
        ),
        "mcpServer/resource/read": ("tools", "McpResourceReadParams", "McpResourceReadResponse", "mcp"),
        "config/mcpServer/reload": ("tools", None, "McpServerRefreshResponse", "mcp"),
        "fuzzyFileSearch/sessionStart": (
            "fs",
            "FuzzyFileSearchSessionStartParams",
            "FuzzyFileSearchSessionStartResponse",
            "fuzzy_sessions",
        ),
        "fuzzyFileSearch/sessionUpdate": (
            "fs",
            "FuzzyFileSearchSessionUpdateParams",
            "FuzzyFileSearchSessionUpdateResponse",
            "fuzzy_sessions",
        ),
        "fuzzyFileSearch/sessionStop": (
            "fs",
            "FuzzyFileSearchSessionStopParams",
            "FuzzyFileSearchSessionStopResponse",
            "fuzzy_sessions",
        ),
        "modelProvider/list": ("server_info", "ModelProviderListParams", "ModelProviderListResponse", "server_info"),
        "modelProvider/config/write": (
            "server_info",
            "ModelProviderConfigWriteParams",
            "ModelProviderConfigWriteResponse",
            "server_info",
        ),
        "modelProvider/capabilities/read": (
            "server_info",
            "ModelProviderCapabilitiesReadParams",
            "ModelProviderCapabilitiesReadResponse",
            "server_info",
        ),
        "permissionProfile/list": (
            "server_info",
            "PermissionProfileListParams",
            "PermissionProfileListResponse",
            "server_info",
        ),
        "server/diagnostics": ("server_info", "ServerDiagnosticsParams", "ServerDiagnosticsResponse", "server_info"),
        "mock/experimentalMethod": (
            "server_info",
            "MockExperimentalMethodParams",
            "MockExperimentalMethodResponse",
            "server_info",
        ),
    }
)
# Full-text thread search and standalone processes (experimental).
METHOD_TABLE.update(
    {
        "thread/search": ("thread_search", "ThreadSearchParams", "ThreadSearchResponse", "search"),
        "thread/searchOccurrences": (
            "thread_search",
            "ThreadSearchOccurrencesParams",
            "ThreadSearchOccurrencesResponse",
            "search",
        ),
        "process/spawn": ("process", "ProcessSpawnParams", "ProcessSpawnResponse", "process"),
        "process/writeStdin": ("process", "ProcessWriteStdinParams", "ProcessWriteStdinResponse", "process"),
        "process/kill": ("process", "ProcessKillParams", "ProcessKillResponse", "process"),
        "process/resizePty": ("process", "ProcessResizePtyParams", "ProcessResizePtyResponse", "process"),
    }
)
# Goals, review mode, token usage, OAuth for MCP servers and imports from other agents.
METHOD_TABLE.update(
    {
        "thread/goal/set": ("goals", "ThreadGoalSetParams", "ThreadGoalSetResponse", "goals"),
        "thread/goal/get": ("goals", "ThreadGoalGetParams", "ThreadGoalGetResponse", "goals"),
        "thread/goal/clear": ("goals", "ThreadGoalClearParams", "ThreadGoalClearResponse", "goals"),
        "account/usage/read": ("usage", "GetAccountTokenUsageParams", "GetAccountTokenUsageResponse", "usage"),
        "review/start": ("review", "ReviewStartParams", "ReviewStartResponse", "review"),
        "externalAgentConfig/detect": (
            "external_agent",
            "ExternalAgentConfigDetectParams",
            "ExternalAgentConfigDetectResponse",
            "external_agent",
        ),
        "externalAgentConfig/import": (
            "external_agent",
            "ExternalAgentConfigImportParams",
            "ExternalAgentConfigImportResponse",
            "external_agent",
        ),
        "externalAgentConfig/import/recordHistory": (
            "external_agent",
            "ExternalAgentConfigImportHistoryRecordParams",
            "ExternalAgentConfigImportHistoryRecordResponse",
            "external_agent",
        ),
        "externalAgentConfig/import/readHistories": (
            "external_agent",
            None,
            "ExternalAgentConfigImportHistoriesReadResponse",
            "external_agent",
        ),
        "mcpServer/oauth/login": ("mcp_oauth", "McpServerOauthLoginParams", "McpServerOauthLoginResponse", "mcp"),
        "thread/approveGuardianDeniedAction": (
            "review",
            "ThreadApproveGuardianDeniedActionParams",
            "ThreadApproveGuardianDeniedActionResponse",
            "review",
        ),
    }
)
#: Wire names of methods that only connections with ``capabilities.experimentalApi`` may call.
EXPERIMENTAL_METHODS: frozenset[str] = frozenset(
    {
        "fuzzyFileSearch/sessionStart",
        "fuzzyFileSearch/sessionStop",
        "fuzzyFileSearch/sessionUpdate",
        "mock/experimentalMethod",
        "process/kill",
        "process/resizePty",
        "process/spawn",
        "process/writeStdin",
        "server/diagnostics",
        "thread/backgroundTerminals/clean",
        "thread/backgroundTerminals/list",
        "thread/backgroundTerminals/terminate",
        "thread/items/read",
        "thread/queue/add",
        "thread/queue/delete",
        "thread/queue/list",
        "thread/queue/reorder",
        "thread/queue/start",
        "thread/queue/update",
        "thread/search",
        "thread/searchOccurrences",
        "thread/settings/update",
        "turn/settings/update",
        "collaborationMode/list",
    }
)
#: Methods whose params the reference types as nullable (``params`` may be absent or null).
PARAMS_OPTIONAL_METHODS: frozenset[str] = frozenset(
    {"account/logout", "account/rateLimits/read", "configRequirements/read", "config/mcpServer/reload"}
    | {"account/usage/read", "externalAgentConfig/import/readHistories"}
)

_SpecT = TypeVar("_SpecT")


class _LazyRegistry(dict[str, _SpecT], Generic[_SpecT]):
    """A dict that imports the modules declaring its entries the first time it is read."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        super().__init__()
        self._modules = modules
        self._loaded = False
        #: entry name → the module that registered it (its place in the iteration order).
        self.registered_in: dict[str, str] = {}

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(f"{__package__}.{module}")
            self._order_by_module()

    def _order_by_module(self) -> None:
        """Entries in the order of ``modules``, whichever of them another import loaded first
        (iteration order is what the schema and the docs list): registration order within a
        module, entries of other modules (registered at run time) last."""
        rank = {f"{__package__}.{module}": index for index, module in enumerate(self._modules)}
        entries = list(dict.items(self))
        entries.sort(key=lambda entry: rank.get(self.registered_in.get(entry[0], ""), len(rank)))
        dict.clear(self)
        dict.update(self, entries)

    def register(self, name: str, spec: _SpecT, module: str) -> None:
        """Add an entry declared by ``module`` (refusing a second one of the same name)."""
        if dict.__contains__(self, name):
            raise ValueError(f"{name!r} registered twice")
        dict.__setitem__(self, name, spec)
        self.registered_in[name] = module

    def __getitem__(self, key: str) -> _SpecT:
        self._load()
        return super().__getitem__(key)

    def get(self, key: str, default: _SpecT | None = None) -> _SpecT | None:  # type: ignore[override]
        self._load()
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def keys(self):  # type: ignore[no-untyped-def]
        self._load()
        return super().keys()

    def values(self):  # type: ignore[no-untyped-def]
        self._load()
        return super().values()

    def items(self):  # type: ignore[no-untyped-def]
        self._load()
        return super().items()


class _MethodRegistry(_LazyRegistry[MethodSpec]):
    """Resolves one method at a time, so a lookup imports only the module that declares it."""

    def __init__(self) -> None:
        super().__init__(tuple(sorted({row[0] for row in METHOD_TABLE.values()})))

    def _resolve(self, name: str) -> MethodSpec | None:
        spec = dict.get(self, name)
        if spec is None and name in METHOD_TABLE:
            module_name, params_name, result_name, handlers = METHOD_TABLE[name]
            module = importlib.import_module(f"{__package__}.{module_name}")
            spec = MethodSpec(
                name,
                getattr(module, params_name) if params_name is not None else None,
                getattr(module, result_name),
                experimental=name in EXPERIMENTAL_METHODS,
                params_optional=name in PARAMS_OPTIONAL_METHODS,
                handlers=handlers,
            )
            dict.__setitem__(self, name, spec)
        return spec

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            # Iteration follows the table (then methods registered at run time), whichever
            # methods were looked up first.
            table = {name: self._resolve(name) for name in METHOD_TABLE}
            added = {name: spec for name, spec in dict.items(self) if name not in table}
            dict.clear(self)
            dict.update(self, table)
            dict.update(self, added)

    def __getitem__(self, key: str) -> MethodSpec:
        spec = self._resolve(key)
        if spec is None:
            raise KeyError(key)
        return spec

    def get(self, key: str, default: MethodSpec | None = None) -> MethodSpec | None:  # type: ignore[override]
        spec = self._resolve(key)
        return default if spec is None else spec

    def __contains__(self, key: object) -> bool:
        return (isinstance(key, str) and key in METHOD_TABLE) or dict.__contains__(self, key)


METHODS: dict[str, MethodSpec] = _MethodRegistry()
#: Modules that register notifications when imported; ``account`` and ``skills`` register their
#: own (``account`` imports ``notifications``, so registering its types there would be circular).
_NOTIFICATIONS: _LazyRegistry[NotificationSpec] = _LazyRegistry(
    (
        "notifications",
        "account",
        "skills",
        "attachments",
        "sections",
        "thread_settings",
        "queue",
        "process",
        "goals",
        "external_agent",
        "mcp_oauth",
    )
)
_SERVER_REQUESTS: _LazyRegistry[ServerRequestSpec] = _LazyRegistry(("server_requests",))
# Read as plain dicts; registered only through the functions below.
NOTIFICATIONS: dict[str, NotificationSpec] = _NOTIFICATIONS
SERVER_REQUESTS: dict[str, ServerRequestSpec] = _SERVER_REQUESTS


def method(
    name: str,
    params: type[WireModel] | None,
    result: type[WireModel],
    *,
    experimental: bool = False,
    params_optional: bool = False,
) -> None:
    """Register a method at run time (tests, extensions); built-in ones live in METHOD_TABLE."""
    if dict.__contains__(METHODS, name) or name in METHOD_TABLE:
        raise ValueError(f"method {name!r} registered twice")
    dict.__setitem__(METHODS, name, MethodSpec(name, params, result, experimental, params_optional))


def notification(name: str, params: type[WireModel], *, experimental: bool = False) -> None:
    _NOTIFICATIONS.register(name, NotificationSpec(name, params, experimental), _caller_module())


def server_request(name: str, params: type[WireModel], result: type[WireModel], *, experimental: bool = False) -> None:
    _SERVER_REQUESTS.register(name, ServerRequestSpec(name, params, result, experimental), _caller_module())


def _caller_module() -> str:
    """The module whose top level called ``notification()`` / ``server_request()``."""
    return str(sys._getframe(2).f_globals.get("__name__", ""))


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "METHODS",
    "NOTIFICATIONS",
    "SERVER_REQUESTS",
    "MethodSpec",
    "NotificationSpec",
    "ServerRequestSpec",
]
