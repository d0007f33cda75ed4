"""Skills and hooks: ``skills/list``, ``skills/config/write``, ``skills/changed`` and ``hooks/list``.

Owns: the wire types of those methods and of the notification, which it registers. Imports ``_base``,
``common`` and ``registry``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from pydantic import ConfigDict
from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import Int64, UInt, UInt64

# ---------------------------------------------------------------------- skills

SkillScope = TypeAliasType("SkillScope", Literal["user", "repo", "system", "admin"])


class SkillsListParams(WireModel):
    """``cwds`` empty: the server's working directory. ``forceReload``: bypass the cache."""

    cwds: list[str] = []
    force_reload: bool = False


class SkillsExtraRootsSetParams(WireModel):
    #: Absolute folders searched for skills, for every cwd, besides the usual roots.
    extra_roots: list[str]


class SkillsExtraRootsSetResponse(WireModel):
    pass


class SkillToolDependency(WireModel):
    type: str
    value: str
    command: str | None = None
    description: str | None = None
    transport: str | None = None
    url: str | None = None


class SkillDependencies(WireModel):
    tools: list[SkillToolDependency]


class SkillInterface(WireModel):
    display_name: str | None = None
    short_description: str | None = None
    icon_small: str | None = None
    icon_large: str | None = None
    icon_small_url: str | None = None
    icon_large_url: str | None = None
    brand_color: str | None = None
    default_prompt: str | None = None


class SkillMetadata(WireModel):
    name: str
    description: str
    path: str
    scope: SkillScope
    enabled: bool
    short_description: str | None = None
    interface: SkillInterface | None = None
    dependencies: SkillDependencies | None = None
    plugin_id: str | None = None


class SkillErrorInfo(WireModel):
    """A ``SKILL.md`` that could not be loaded, and why."""

    path: str
    message: str


class SkillsListEntry(WireModel):
    cwd: str
    skills: list[SkillMetadata]
    errors: list[SkillErrorInfo]


class SkillsListResponse(WireModel):
    data: list[SkillsListEntry]


class SkillsChangedNotification(WireModel):
    """Skill files changed on disk; clients call ``skills/list`` again."""


class SkillsConfigWriteParams(WireModel):
    """Enable or disable one skill, named by exactly one of ``path`` and ``name``."""

    enabled: bool
    name: str | None = None
    path: str | None = None


class SkillsConfigWriteResponse(WireModel):
    effective_enabled: bool


# ---------------------------------------------------------------------- hooks

HookEventName = TypeAliasType(
    "HookEventName",
    Literal[
        "preModelRequest",
        "postModelRequest",
        "preToolUse",
        "permissionRequest",
        "postToolUse",
        "preCompact",
        "postCompact",
        "sessionStart",
        "sessionEnd",
        "userPromptSubmit",
        "subagentStart",
        "subagentStop",
        "stop",
        "interrupt",
    ],
)
HookSource = TypeAliasType(
    "HookSource",
    Literal[
        "system",
        "user",
        "project",
        "mdm",
        "sessionFlags",
        "plugin",
        "cloudRequirements",
        "cloudManagedConfig",
        "legacyManagedConfigFile",
        "legacyManagedConfigMdm",
        "unknown",
    ],
)
HookTrustStatus = TypeAliasType("HookTrustStatus", Literal["managed", "untrusted", "trusted", "modified"])


class HooksListParams(WireModel):
    cwds: list[str] = []
    thread_id: str | None = None


class HookMetadata(WireModel):
    """One configured hook handler.

    The reference describes the handler as a union on ``handlerType`` (``command`` with
    ``command``/``async``, ``mcpTool`` with ``server``/``tool``, ``prompt``, ``agent``) beside these
    common fields; the handler's own keys are carried as extra fields, set by the caller.
    """

    model_config = ConfigDict(extra="allow")

    key: str
    event_name: HookEventName
    matcher: str | None = None
    timeout_sec: UInt64
    status_message: str | None = None
    additional_context_limit: UInt | None = None
    source_path: str
    source: HookSource
    plugin_id: str | None = None
    environment_id: str | None = None
    display_order: Int64
    enabled: bool
    is_managed: bool
    current_hash: str
    trust_status: HookTrustStatus


class HookErrorInfo(WireModel):
    path: str
    message: str


class HooksListEntry(WireModel):
    cwd: str
    hooks: list[HookMetadata]
    warnings: list[str]
    errors: list[HookErrorInfo]


class HooksListResponse(WireModel):
    data: list[HooksListEntry]


HookOutputEntryKind = TypeAliasType("HookOutputEntryKind", Literal["warning", "stop", "feedback", "context", "error"])
HookRunStatus = TypeAliasType("HookRunStatus", Literal["running", "completed", "failed", "blocked", "stopped"])
HookScope = TypeAliasType("HookScope", Literal["thread", "turn"])
HookHandlerType = TypeAliasType("HookHandlerType", Literal["command", "mcpTool", "prompt", "agent"])
HookExecutionMode = TypeAliasType("HookExecutionMode", Literal["sync", "async"])


class HookOutputEntry(WireModel):
    kind: HookOutputEntryKind
    text: str


class HookRunSummary(WireModel):
    """One run of one hook handler, as ``hook/started`` (running) and ``hook/completed`` report it."""

    id: str
    event_name: HookEventName
    handler_type: HookHandlerType
    execution_mode: HookExecutionMode
    scope: HookScope
    source_path: str
    source: HookSource = "unknown"
    display_order: Int64
    status: HookRunStatus
    status_message: str | None = None
    started_at: Int64
    completed_at: Int64 | None = None
    duration_ms: Int64 | None = None
    entries: list[HookOutputEntry]


class HookStartedNotification(WireModel):
    thread_id: str
    turn_id: str | None = None
    run: HookRunSummary


class HookCompletedNotification(WireModel):
    thread_id: str
    turn_id: str | None = None
    run: HookRunSummary


registry.notification("skills/changed", SkillsChangedNotification)
registry.notification("hook/started", HookStartedNotification)
registry.notification("hook/completed", HookCompletedNotification)

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "HookCompletedNotification",
    "HookErrorInfo",
    "HookEventName",
    "HookExecutionMode",
    "HookHandlerType",
    "HookMetadata",
    "HookOutputEntry",
    "HookOutputEntryKind",
    "HookRunStatus",
    "HookRunSummary",
    "HookScope",
    "HookSource",
    "HookStartedNotification",
    "HookTrustStatus",
    "HooksListEntry",
    "HooksListParams",
    "HooksListResponse",
    "SkillDependencies",
    "SkillErrorInfo",
    "SkillInterface",
    "SkillMetadata",
    "SkillScope",
    "SkillToolDependency",
    "SkillsChangedNotification",
    "SkillsConfigWriteParams",
    "SkillsConfigWriteResponse",
    "SkillsExtraRootsSetParams",
    "SkillsExtraRootsSetResponse",
    "SkillsListEntry",
    "SkillsListParams",
    "SkillsListResponse",
]
