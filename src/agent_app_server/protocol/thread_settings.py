"""Thread and turn settings: ``thread/settings/update`` and ``turn/settings/update`` (both
experimental), and the ``thread/settings/updated`` notification every subscriber of the thread
receives, so several clients of one thread agree on what its next turn runs with.

Owns: their params, the ``ThreadSettings`` view and the notification.
Layer: protocol (imports ``_base``, ``common``, ``methods`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import SnakeWireModel, WireModel
from .common import (
    ApprovalsReviewer,
    AskForApproval,
    Personality,
    ReasoningEffort,
    ReasoningSummary,
    SandboxPolicy,
)
from .methods import CollaborationMode, ModeKind

__all__ = [
    "ActivePermissionProfile",
    "CollaborationModeListParams",
    "CollaborationModeListResponse",
    "CollaborationModeMask",
    "CustomMultiAgentMode",
    "MultiAgentMode",
    "ThreadEnvironment",
    "ThreadSettings",
    "ThreadSettingsUpdateParams",
    "ThreadSettingsUpdateResponse",
    "ThreadSettingsUpdatedNotification",
    "TurnEnvironmentParams",
    "TurnSettingsUpdateParams",
    "TurnSettingsUpdateResponse",
    "TurnSettingsUpdateStatus",
]


class CustomMultiAgentMode(WireModel):
    custom: str


MultiAgentMode = TypeAliasType("MultiAgentMode", Literal["explicitRequestOnly", "proactive"] | CustomMultiAgentMode)


class TurnEnvironmentParams(WireModel):
    environment_id: str
    cwd: str
    runtime_workspace_roots: list[str] | None = None


class ThreadEnvironment(WireModel):
    environment_id: str
    cwd: str
    runtime_workspace_roots: list[str]


class ActivePermissionProfile(WireModel):
    id: str
    extends: str | None = None


class ThreadSettingsUpdateParams(WireModel):
    """Omitted (or null) fields keep their value, except ``serviceTier`` where null clears it."""

    thread_id: str
    model: str | None = None
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary | None = None
    cwd: str | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    sandbox_policy: SandboxPolicy | None = None
    #: A permission profile id (``permissionProfile/list``); not together with ``sandboxPolicy``.
    permissions: str | None = None
    personality: Personality | None = None
    service_tier: str | None = None
    collaboration_mode: CollaborationMode | None = None
    environments: list[TurnEnvironmentParams] | None = None
    disabled_plugin_ids: list[str] | None = None
    #: Deprecated by the reference and ignored, as there.
    multi_agent_mode: MultiAgentMode | None = None


class ThreadSettingsUpdateResponse(WireModel):
    pass


class ThreadSettings(WireModel):
    model: str
    model_provider: str
    cwd: str
    approval_policy: AskForApproval
    approvals_reviewer: ApprovalsReviewer
    sandbox_policy: SandboxPolicy
    active_permission_profile: ActivePermissionProfile | None = None
    collaboration_mode: CollaborationMode
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary | None = None
    service_tier: str | None = None
    personality: Personality | None = None
    disabled_plugin_ids: list[str] = []


class TurnSettingsUpdateParams(WireModel):
    """Settings for the rest of one running turn (its next model requests), not later turns."""

    thread_id: str
    turn_id: str
    model: str | None = None
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary | None = None
    service_tier: str | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    environments: list[TurnEnvironmentParams] | None = None


TurnSettingsUpdateStatus = TypeAliasType("TurnSettingsUpdateStatus", Literal["applied", "targetUnavailable"])


class TurnSettingsUpdateResponse(WireModel):
    status: TurnSettingsUpdateStatus


class CollaborationModeListParams(WireModel):
    pass


class CollaborationModeMask(SnakeWireModel):
    """A collaboration mode preset (the reference spells ``reasoning_effort`` in snake_case)."""

    name: str
    mode: ModeKind | None = None
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None


class CollaborationModeListResponse(WireModel):
    data: list[CollaborationModeMask]


class ThreadSettingsUpdatedNotification(WireModel):
    thread_id: str
    thread_settings: ThreadSettings


registry.notification("thread/settings/updated", ThreadSettingsUpdatedNotification)
