"""One registry: every method, notification and server request we speak, with its types.

Owns: the mapping from wire method names to params/result models and experimental flags.
``server`` dispatches from it; ``schema_gen`` generates JSON Schema and TypeScript from it.

The registry loads lazily so that start-up stays light: looking up ``initialize`` imports only
the handshake models; the thread and turn models load on the first request that needs them, and
notification / server-request types when those tables are first read.
"""

from __future__ import annotations

import importlib
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


#: Every client request we implement: wire name → (module, params class, result class). Methods
#: the reference has but this table lacks answer "method not found".
METHOD_TABLE: dict[str, tuple[str, str | None, str]] = {
    "initialize": ("handshake", "InitializeParams", "InitializeResponse"),
    "thread/start": ("methods", "ThreadStartParams", "ThreadStartResponse"),
    "thread/resume": ("methods", "ThreadResumeParams", "ThreadResumeResponse"),
    "thread/fork": ("methods", "ThreadForkParams", "ThreadForkResponse"),
    "thread/read": ("methods", "ThreadReadParams", "ThreadReadResponse"),
    "thread/list": ("methods", "ThreadListParams", "ThreadListResponse"),
    "thread/loaded/list": ("methods", "ThreadLoadedListParams", "ThreadLoadedListResponse"),
    "thread/name/set": ("methods", "ThreadSetNameParams", "ThreadSetNameResponse"),
    "thread/archive": ("methods", "ThreadArchiveParams", "ThreadArchiveResponse"),
    "thread/unarchive": ("methods", "ThreadUnarchiveParams", "ThreadUnarchiveResponse"),
    "thread/delete": ("methods", "ThreadDeleteParams", "ThreadDeleteResponse"),
    "thread/metadata/update": ("methods", "ThreadMetadataUpdateParams", "ThreadMetadataUpdateResponse"),
    "thread/inject_items": ("methods", "ThreadInjectItemsParams", "ThreadInjectItemsResponse"),
    "threadSection/list": ("sections", "ThreadSectionListParams", "ThreadSectionListResponse"),
    "threadSection/create": ("sections", "ThreadSectionCreateParams", "ThreadSectionCreateResponse"),
    "threadSection/update": ("sections", "ThreadSectionUpdateParams", "ThreadSectionUpdateResponse"),
    "threadSection/delete": ("sections", "ThreadSectionDeleteParams", "ThreadSectionDeleteResponse"),
    "thread/section/move": ("sections", "ThreadSectionMoveParams", "ThreadSectionMoveResponse"),
    "thread/attachment/add": ("attachments", "ThreadAttachmentAddParams", "ThreadAttachmentAddResponse"),
    "thread/attachment/list": ("attachments", "ThreadAttachmentListParams", "ThreadAttachmentListResponse"),
    "thread/attachment/remove": ("attachments", "ThreadAttachmentRemoveParams", "ThreadAttachmentRemoveResponse"),
    "thread/attachmentOwner/list": (
        "attachments",
        "ThreadAttachmentOwnerListParams",
        "ThreadAttachmentOwnerListResponse",
    ),
    "thread/unsubscribe": ("methods", "ThreadUnsubscribeParams", "ThreadUnsubscribeResponse"),
    "thread/revert": ("methods", "ThreadRevertParams", "ThreadRevertResponse"),
    "thread/turns/list": ("methods", "ThreadTurnsListParams", "ThreadTurnsListResponse"),
    "thread/items/list": ("methods", "ThreadItemsListParams", "ThreadItemsListResponse"),
    "thread/compact/start": ("methods", "ThreadCompactStartParams", "ThreadCompactStartResponse"),
    "turn/start": ("methods", "TurnStartParams", "TurnStartResponse"),
    "turn/steer": ("methods", "TurnSteerParams", "TurnSteerResponse"),
    "turn/interrupt": ("methods", "TurnInterruptParams", "TurnInterruptResponse"),
}
# Account, models, config, skills and hooks. A params class of None: the reference's params for
# that method are always null (``params`` absent, null or an ignored object).
METHOD_TABLE.update(
    {
        "account/read": ("account", "GetAccountParams", "GetAccountResponse"),
        "account/login/start": ("account", "LoginAccountParams", "LoginAccountResponse"),
        "account/login/cancel": ("account", "CancelLoginAccountParams", "CancelLoginAccountResponse"),
        "account/logout": ("account", None, "LogoutAccountResponse"),
        "account/rateLimits/read": ("account", "GetAccountRateLimitsParams", "GetAccountRateLimitsResponse"),
        "model/list": ("models_api", "ModelListParams", "ModelListResponse"),
        "config/read": ("config_api", "ConfigReadParams", "ConfigReadResponse"),
        "config/value/write": ("config_api", "ConfigValueWriteParams", "ConfigWriteResponse"),
        "config/batchWrite": ("config_api", "ConfigBatchWriteParams", "ConfigWriteResponse"),
        "configRequirements/read": ("config_api", None, "ConfigRequirementsReadResponse"),
        "experimentalFeature/list": ("config_api", "ExperimentalFeatureListParams", "ExperimentalFeatureListResponse"),
        "experimentalFeature/enablement/set": (
            "config_api",
            "ExperimentalFeatureEnablementSetParams",
            "ExperimentalFeatureEnablementSetResponse",
        ),
        "skills/list": ("skills", "SkillsListParams", "SkillsListResponse"),
        "skills/config/write": ("skills", "SkillsConfigWriteParams", "SkillsConfigWriteResponse"),
        "hooks/list": ("skills", "HooksListParams", "HooksListResponse"),
    }
)
# Files and search.
METHOD_TABLE.update(
    {
        "fs/readFile": ("fs", "FsReadFileParams", "FsReadFileResponse"),
        "fs/writeFile": ("fs", "FsWriteFileParams", "FsWriteFileResponse"),
        "fs/createDirectory": ("fs", "FsCreateDirectoryParams", "FsCreateDirectoryResponse"),
        "fs/getMetadata": ("fs", "FsGetMetadataParams", "FsGetMetadataResponse"),
        "fs/readDirectory": ("fs", "FsReadDirectoryParams", "FsReadDirectoryResponse"),
        "fs/remove": ("fs", "FsRemoveParams", "FsRemoveResponse"),
        "fs/copy": ("fs", "FsCopyParams", "FsCopyResponse"),
        "fs/watch": ("fs", "FsWatchParams", "FsWatchResponse"),
        "fs/unwatch": ("fs", "FsUnwatchParams", "FsUnwatchResponse"),
        "fuzzyFileSearch": ("fs", "FuzzyFileSearchParams", "FuzzyFileSearchResponse"),
    }
)
# Standalone commands (outside any turn) and the TUI's `!cmd`.
METHOD_TABLE.update(
    {
        "command/exec": ("exec", "CommandExecParams", "CommandExecResponse"),
        "command/exec/write": ("exec", "CommandExecWriteParams", "CommandExecWriteResponse"),
        "command/exec/resize": ("exec", "CommandExecResizeParams", "CommandExecResizeResponse"),
        "command/exec/terminate": ("exec", "CommandExecTerminateParams", "CommandExecTerminateResponse"),
        "thread/shellCommand": ("exec", "ThreadShellCommandParams", "ThreadShellCommandResponse"),
    }
)
# MCP servers configured in config.toml.
METHOD_TABLE.update(
    {
        "mcpServerStatus/list": ("tools", "ListMcpServerStatusParams", "ListMcpServerStatusResponse"),
        "mcpServer/tool/call": ("tools", "McpServerToolCallParams", "McpServerToolCallResponse"),
        "mcpServer/resource/read": ("tools", "McpResourceReadParams", "McpResourceReadResponse"),
        "config/mcpServer/reload": ("tools", None, "McpServerRefreshResponse"),
    }
)
# About this server: model providers and permission profiles.
METHOD_TABLE.update(
    {
        "modelProvider/list": ("server_info", "ModelProviderListParams", "ModelProviderListResponse"),
        "modelProvider/config/write": (
            "server_info",
            "ModelProviderConfigWriteParams",
            "ModelProviderConfigWriteResponse",
        ),
        "modelProvider/capabilities/read": (
            "server_info",
            "ModelProviderCapabilitiesReadParams",
            "ModelProviderCapabilitiesReadResponse",
        ),
        "permissionProfile/list": ("server_info", "PermissionProfileListParams", "PermissionProfileListResponse"),
        "server/diagnostics": ("server_info", "ServerDiagnosticsParams", "ServerDiagnosticsResponse"),
        "mock/experimentalMethod": ("server_info", "MockExperimentalMethodParams", "MockExperimentalMethodResponse"),
    }
)
#: Wire names of methods that only connections with ``capabilities.experimentalApi`` may call.
EXPERIMENTAL_METHODS: frozenset[str] = frozenset({"server/diagnostics", "mock/experimentalMethod"})
#: Methods whose params the reference types as nullable (``params`` may be absent or null).
PARAMS_OPTIONAL_METHODS: frozenset[str] = frozenset(
    {"account/logout", "account/rateLimits/read", "configRequirements/read", "config/mcpServer/reload"}
)

_SpecT = TypeVar("_SpecT")


class _LazyRegistry(dict[str, _SpecT], Generic[_SpecT]):
    """A dict that imports the modules declaring its entries the first time it is read."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        super().__init__()
        self._modules = modules
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(f"{__package__}.{module}")

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
        super().__init__(tuple(sorted({module for module, _, _ in METHOD_TABLE.values()})))

    def _resolve(self, name: str) -> MethodSpec | None:
        spec = dict.get(self, name)
        if spec is None and name in METHOD_TABLE:
            module_name, params_name, result_name = METHOD_TABLE[name]
            module = importlib.import_module(f"{__package__}.{module_name}")
            spec = MethodSpec(
                name,
                getattr(module, params_name) if params_name is not None else None,
                getattr(module, result_name),
                experimental=name in EXPERIMENTAL_METHODS,
                params_optional=name in PARAMS_OPTIONAL_METHODS,
            )
            dict.__setitem__(self, name, spec)
        return spec

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            # Table order, whichever methods a lookup resolved first (e.g. a server in this process).
            in_order = {name: self._resolve(name) for name in METHOD_TABLE}
            registered_at_run_time = {k: v for k, v in dict.items(self) if k not in METHOD_TABLE}
            dict.clear(self)
            dict.update(self, in_order)
            dict.update(self, registered_at_run_time)

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
NOTIFICATIONS: dict[str, NotificationSpec] = _LazyRegistry(
    ("notifications", "account", "skills", "attachments", "sections")
)
SERVER_REQUESTS: dict[str, ServerRequestSpec] = _LazyRegistry(("server_requests",))


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
    if dict.__contains__(NOTIFICATIONS, name):
        raise ValueError(f"notification {name!r} registered twice")
    dict.__setitem__(NOTIFICATIONS, name, NotificationSpec(name, params, experimental))


def server_request(name: str, params: type[WireModel], result: type[WireModel], *, experimental: bool = False) -> None:
    if dict.__contains__(SERVER_REQUESTS, name):
        raise ValueError(f"server request {name!r} registered twice")
    dict.__setitem__(SERVER_REQUESTS, name, ServerRequestSpec(name, params, result, experimental))
