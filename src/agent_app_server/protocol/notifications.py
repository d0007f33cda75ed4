"""Server→client notifications: their params types and their registration.

Owns: ``<Name>Notification`` for thread, turn and item lifecycle events, streaming deltas,
warnings, rate limits and connection status, plus the types only they use.
Imports ``_base``, ``common``, ``items``, ``threads`` and ``registry``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import Int32, Int64, RequestId, UInt, UInt64
from .fs import (
    FsChangedNotification,
    FuzzyFileSearchSessionCompletedNotification,
    FuzzyFileSearchSessionUpdatedNotification,
)
from .items import ThreadItem
from .threads import Thread, ThreadReadState, ThreadStatus, ThreadTokenUsage, Turn, TurnError

# ---------------------------------------------------------------------- threads


class ThreadStartedNotification(WireModel):
    thread: Thread


class ThreadStatusChangedNotification(WireModel):
    thread_id: str
    status: ThreadStatus


class ThreadNameUpdatedNotification(WireModel):
    thread_id: str
    thread_name: str | None = None


class ThreadArchivedNotification(WireModel):
    thread_id: str


class ThreadDeletedNotification(WireModel):
    thread_id: str


class ThreadUnarchivedNotification(WireModel):
    thread_id: str


class ThreadClosedNotification(WireModel):
    thread_id: str


class ThreadRevertedNotification(WireModel):
    thread_id: str


class ContextCompactedNotification(WireModel):
    """Deprecated by the reference in favour of the ``contextCompaction`` item, still sent."""

    thread_id: str
    turn_id: str


class ThreadTokenUsageUpdatedNotification(WireModel):
    thread_id: str
    turn_id: str
    token_usage: ThreadTokenUsage


class ThreadReadStateChangedNotification(WireModel):
    thread_id: str
    read_state: ThreadReadState


# ---------------------------------------------------------------------- turns


class TurnStartedNotification(WireModel):
    thread_id: str
    turn: Turn


class TurnCompletedNotification(WireModel):
    thread_id: str
    turn: Turn


class TurnDiffUpdatedNotification(WireModel):
    """The turn's cumulative unified diff across all its file changes."""

    thread_id: str
    turn_id: str
    diff: str


TurnPlanStepStatus = TypeAliasType("TurnPlanStepStatus", Literal["pending", "inProgress", "completed"])


class TurnPlanStep(WireModel):
    step: str
    status: TurnPlanStepStatus


class TurnPlanUpdatedNotification(WireModel):
    thread_id: str
    turn_id: str
    plan: list[TurnPlanStep]
    explanation: str | None = None


class ErrorNotification(WireModel):
    thread_id: str
    turn_id: str
    error: TurnError
    will_retry: bool


# ---------------------------------------------------------------------- items


class ItemStartedNotification(WireModel):
    thread_id: str
    turn_id: str
    item: ThreadItem
    started_at_ms: Int64


class ItemCompletedNotification(WireModel):
    thread_id: str
    turn_id: str
    item: ThreadItem
    completed_at_ms: Int64
    content_token_count: UInt64 | None = None


class ItemDeltaNotification(WireModel):
    """A chunk of streamed text for one item."""

    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class AgentMessageDeltaNotification(ItemDeltaNotification):
    """A chunk of an agent message's text."""


class CommandExecutionOutputDeltaNotification(ItemDeltaNotification):
    """A chunk of a running command's output."""


class TerminalInteractionNotification(WireModel):
    """The model wrote to a running command's stdin (``write_stdin``)."""

    thread_id: str
    turn_id: str
    item_id: str
    process_id: str
    stdin: str


class FileChangeOutputDeltaNotification(ItemDeltaNotification):
    """Legacy ``apply_patch`` output; the reference no longer sends it."""


class PlanDeltaNotification(ItemDeltaNotification):
    """A chunk of a proposed plan; the completed plan item is authoritative."""


class ReasoningSummaryPartAddedNotification(WireModel):
    thread_id: str
    turn_id: str
    item_id: str
    summary_index: Int64


class ReasoningSummaryTextDeltaNotification(WireModel):
    thread_id: str
    turn_id: str
    item_id: str
    summary_index: Int64
    delta: str


class ReasoningTextDeltaNotification(WireModel):
    thread_id: str
    turn_id: str
    item_id: str
    content_index: Int64
    delta: str


class ServerRequestResolvedNotification(WireModel):
    """A server→client request was answered (or withdrawn)."""

    thread_id: str
    request_id: RequestId


# ---------------------------------------------------------------------- warnings


class WarningNotification(WireModel):
    message: str
    thread_id: str | None = None


class TextPosition(WireModel):
    """1-based line and column (in Unicode scalar values)."""

    line: UInt
    column: UInt


class TextRange(WireModel):
    start: TextPosition
    end: TextPosition


class ConfigWarningNotification(WireModel):
    summary: str
    details: str | None = None
    path: str | None = None
    range: TextRange | None = None


class DeprecationNoticeNotification(WireModel):
    summary: str
    details: str | None = None


# ---------------------------------------------------------------------- account and connection

PlanType = TypeAliasType(
    "PlanType",
    Literal[
        "free",
        "go",
        "plus",
        "pro",
        "prolite",
        "promax",
        "team",
        "self_serve_business_prolite",
        "self_serve_business_usage_based",
        "business",
        "ent26",
        "enterprise_cbp_automation",
        "enterprise_cbp_usage_based",
        "enterprise",
        "edu",
        "edu_plus",
        "edu_pro",
        "sci",
        "sci_plus",
        "unknown",
    ],
)
RateLimitReachedType = TypeAliasType(
    "RateLimitReachedType",
    Literal[
        "rate_limit_reached",
        "workspace_owner_credits_depleted",
        "workspace_member_credits_depleted",
        "workspace_owner_usage_limit_reached",
        "workspace_member_usage_limit_reached",
    ],
)


class RateLimitWindow(WireModel):
    used_percent: Int32
    window_duration_mins: Int64 | None = None
    resets_at: Int64 | None = None


class CreditsSnapshot(WireModel):
    has_credits: bool
    unlimited: bool
    balance: str | None = None


class SpendControlLimitSnapshot(WireModel):
    limit: str
    used: str
    remaining_percent: Int32
    resets_at: Int64


class RateLimitSnapshot(WireModel):
    """A sparse update: unset values are unknown, not cleared."""

    limit_id: str | None = None
    limit_name: str | None = None
    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None
    credits: CreditsSnapshot | None = None
    individual_limit: SpendControlLimitSnapshot | None = None
    plan_type: PlanType | None = None
    normal_model_slug: str | None = None
    rate_limit_reached_type: RateLimitReachedType | None = None
    spend_control_reached: bool | None = None


class AccountRateLimitsUpdatedNotification(WireModel):
    rate_limits: RateLimitSnapshot


RemoteControlConnectionStatus = TypeAliasType(
    "RemoteControlConnectionStatus", Literal["disabled", "connecting", "connected", "errored"]
)


class RemoteControlStatusChangedNotification(WireModel):
    status: RemoteControlConnectionStatus
    server_name: str
    installation_id: str
    environment_id: str | None = None


CommandExecOutputStream = TypeAliasType("CommandExecOutputStream", Literal["stdout", "stderr"])


class CommandExecOutputDeltaNotification(WireModel):
    """A base64 chunk of a streaming ``command/exec``'s output (connection-scoped)."""

    process_id: str
    stream: CommandExecOutputStream
    delta_base64: str
    cap_reached: bool


McpServerStartupState = TypeAliasType("McpServerStartupState", Literal["starting", "ready", "failed", "cancelled"])
McpServerStartupFailureReason = TypeAliasType("McpServerStartupFailureReason", Literal["reauthenticationRequired"])


class McpServerStatusUpdatedNotification(WireModel):
    name: str
    status: McpServerStartupState
    thread_id: str | None = None
    error: str | None = None
    failure_reason: McpServerStartupFailureReason | None = None


registry.notification("thread/started", ThreadStartedNotification)
registry.notification("thread/status/changed", ThreadStatusChangedNotification)
registry.notification("thread/name/updated", ThreadNameUpdatedNotification)
registry.notification("thread/archived", ThreadArchivedNotification)
registry.notification("thread/unarchived", ThreadUnarchivedNotification)
registry.notification("thread/deleted", ThreadDeletedNotification)
registry.notification("thread/closed", ThreadClosedNotification)
registry.notification("thread/reverted", ThreadRevertedNotification)
registry.notification("thread/compacted", ContextCompactedNotification)
registry.notification("thread/tokenUsage/updated", ThreadTokenUsageUpdatedNotification)
registry.notification("thread/readState/changed", ThreadReadStateChangedNotification)
registry.notification("turn/started", TurnStartedNotification)
registry.notification("turn/completed", TurnCompletedNotification)
registry.notification("turn/diff/updated", TurnDiffUpdatedNotification)
registry.notification("turn/plan/updated", TurnPlanUpdatedNotification)
registry.notification("item/started", ItemStartedNotification)
registry.notification("item/completed", ItemCompletedNotification)
registry.notification("item/agentMessage/delta", AgentMessageDeltaNotification)
registry.notification("item/reasoning/summaryPartAdded", ReasoningSummaryPartAddedNotification)
registry.notification("item/reasoning/summaryTextDelta", ReasoningSummaryTextDeltaNotification)
registry.notification("item/reasoning/textDelta", ReasoningTextDeltaNotification)
registry.notification("item/commandExecution/outputDelta", CommandExecutionOutputDeltaNotification)
registry.notification("item/fileChange/outputDelta", FileChangeOutputDeltaNotification)
registry.notification("item/commandExecution/terminalInteraction", TerminalInteractionNotification)
registry.notification("item/plan/delta", PlanDeltaNotification)
registry.notification("serverRequest/resolved", ServerRequestResolvedNotification)
registry.notification("error", ErrorNotification)
registry.notification("warning", WarningNotification)
registry.notification("configWarning", ConfigWarningNotification)
registry.notification("deprecationNotice", DeprecationNoticeNotification)
registry.notification("account/rateLimits/updated", AccountRateLimitsUpdatedNotification)
registry.notification("remoteControl/status/changed", RemoteControlStatusChangedNotification)
registry.notification("command/exec/outputDelta", CommandExecOutputDeltaNotification)
registry.notification("mcpServer/startupStatus/updated", McpServerStatusUpdatedNotification)

registry.notification("fs/changed", FsChangedNotification)
registry.notification("fuzzyFileSearch/sessionUpdated", FuzzyFileSearchSessionUpdatedNotification)
registry.notification("fuzzyFileSearch/sessionCompleted", FuzzyFileSearchSessionCompletedNotification)

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AccountRateLimitsUpdatedNotification",
    "AgentMessageDeltaNotification",
    "CommandExecOutputDeltaNotification",
    "CommandExecOutputStream",
    "CommandExecutionOutputDeltaNotification",
    "ConfigWarningNotification",
    "ContextCompactedNotification",
    "CreditsSnapshot",
    "DeprecationNoticeNotification",
    "ErrorNotification",
    "FileChangeOutputDeltaNotification",
    "ItemCompletedNotification",
    "ItemDeltaNotification",
    "ItemStartedNotification",
    "McpServerStartupFailureReason",
    "McpServerStartupState",
    "McpServerStatusUpdatedNotification",
    "PlanDeltaNotification",
    "PlanType",
    "RateLimitReachedType",
    "RateLimitSnapshot",
    "RateLimitWindow",
    "ReasoningSummaryPartAddedNotification",
    "ReasoningSummaryTextDeltaNotification",
    "ReasoningTextDeltaNotification",
    "RemoteControlConnectionStatus",
    "RemoteControlStatusChangedNotification",
    "ServerRequestResolvedNotification",
    "SpendControlLimitSnapshot",
    "TerminalInteractionNotification",
    "TextPosition",
    "TextRange",
    "ThreadArchivedNotification",
    "ThreadClosedNotification",
    "ThreadDeletedNotification",
    "ThreadNameUpdatedNotification",
    "ThreadReadStateChangedNotification",
    "ThreadRevertedNotification",
    "ThreadStartedNotification",
    "ThreadStatusChangedNotification",
    "ThreadTokenUsageUpdatedNotification",
    "ThreadUnarchivedNotification",
    "TurnCompletedNotification",
    "TurnDiffUpdatedNotification",
    "TurnPlanStep",
    "TurnPlanStepStatus",
    "TurnPlanUpdatedNotification",
    "TurnStartedNotification",
    "WarningNotification",
]
