"""Threads and turns as the wire shows them: ``Thread``, ``Turn`` and what hangs off them.

Owns: ``Thread`` (with ``ThreadStatus``, ``SessionSource``, ``GitInfo``, sections), ``Turn`` and
``TurnError`` (with the ``CodexErrorInfo`` codes), token usage and read state.
Imports ``_base``, ``common`` and ``items``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, WireModel
from .common import Int32, Int64, ReasoningEffort, UInt16
from .items import ThreadItem

# ---------------------------------------------------------------------- turns

TurnStatus = TypeAliasType("TurnStatus", Literal["completed", "interrupted", "failed", "inProgress"])
TurnItemsView = TypeAliasType("TurnItemsView", Literal["notLoaded", "summary", "full"])
NonSteerableTurnKind = TypeAliasType("NonSteerableTurnKind", Literal["review", "compact"])


class HttpStatusDetails(WireModel):
    """The upstream HTTP status behind a connection or stream failure, when there was one."""

    http_status_code: UInt16 | None = None


class HttpConnectionFailedCodexErrorInfo(WireModel):
    http_connection_failed: HttpStatusDetails


class ResponseStreamConnectionFailedCodexErrorInfo(WireModel):
    response_stream_connection_failed: HttpStatusDetails


class ResponseStreamDisconnectedCodexErrorInfo(WireModel):
    response_stream_disconnected: HttpStatusDetails


class ResponseTooManyFailedAttemptsCodexErrorInfo(WireModel):
    response_too_many_failed_attempts: HttpStatusDetails


class ActiveTurnNotSteerableDetails(WireModel):
    turn_kind: NonSteerableTurnKind


class ActiveTurnNotSteerableCodexErrorInfo(WireModel):
    active_turn_not_steerable: ActiveTurnNotSteerableDetails


#: Error codes are camelCase strings, or single-key objects for failures with details (the
#: reference's README shows PascalCase; the wire does not). The reference's schema also admits
#: any other string or object, for codes it may add later; we only ever send these.
CodexErrorInfo = TypeAliasType(
    "CodexErrorInfo",
    Literal[
        "contextWindowExceeded",
        "sessionBudgetExceeded",
        "usageLimitExceeded",
        "rateLimitExceeded",
        "flexUnavailable",
        "serverOverloaded",
        "modelNotFound",
        "policyCapacityUnavailable",
        "cyberPolicy",
        "misalignmentPolicyViolation",
        "tooManyDenials",
        "internalServerError",
        "unauthorized",
        "badRequest",
        "threadRollbackFailed",
        "sandboxError",
        "other",
        "inferenceHookDenied",
    ]
    | HttpConnectionFailedCodexErrorInfo
    | ResponseStreamConnectionFailedCodexErrorInfo
    | ResponseStreamDisconnectedCodexErrorInfo
    | ResponseTooManyFailedAttemptsCodexErrorInfo
    | ActiveTurnNotSteerableCodexErrorInfo,
)


class MisalignmentSteer(WireModel):
    message: str


class MisalignmentErrorDetails(WireModel):
    error_type: str | None = None
    detailed_explanation: str | None = None
    review_target: str | None = None
    steer: MisalignmentSteer | None = None


class TurnError(WireModel):
    message: str
    codex_error_info: CodexErrorInfo | None = None
    additional_details: str | None = None
    misalignment: MisalignmentErrorDetails | None = None


class Turn(WireModel):
    """A turn; ``startedAt``/``completedAt`` are Unix seconds, ``durationMs`` milliseconds."""

    id: str
    status: TurnStatus
    items: list[ThreadItem]
    items_view: TurnItemsView = "full"
    error: TurnError | None = None
    root_turn_id: str | None = None
    started_at: Int64 | None = None
    completed_at: Int64 | None = None
    duration_ms: Int64 | None = None


# ---------------------------------------------------------------------- thread status and origin

ThreadActiveFlag = TypeAliasType("ThreadActiveFlag", Literal["waitingOnApproval", "waitingOnUserInput"])


class NotLoadedThreadStatus(WireModel):
    type: Literal["notLoaded"] = "notLoaded"


class IdleThreadStatus(WireModel):
    type: Literal["idle"] = "idle"


class SystemErrorThreadStatus(WireModel):
    type: Literal["systemError"] = "systemError"


class ActiveThreadStatus(WireModel):
    type: Literal["active"] = "active"
    active_flags: list[ThreadActiveFlag]


ThreadStatus = TypeAliasType(
    "ThreadStatus",
    Annotated[
        NotLoadedThreadStatus | IdleThreadStatus | SystemErrorThreadStatus | ActiveThreadStatus,
        Field(discriminator="type"),
    ],
)


class ThreadSpawnDetails(SnakeWireModel):
    """The sub-agent a thread was spawned as."""

    parent_thread_id: str
    depth: Int32
    agent_nickname: str | None = None
    agent_path: str | None = None
    agent_role: str | None = None


class ThreadSpawnSubAgentSource(SnakeWireModel):
    thread_spawn: ThreadSpawnDetails


class OtherSubAgentSource(WireModel):
    other: str


SubAgentSource = TypeAliasType(
    "SubAgentSource",
    Literal["review", "compact", "memory_consolidation"] | ThreadSpawnSubAgentSource | OtherSubAgentSource,
)


class CustomSessionSource(WireModel):
    custom: str


class SubAgentSessionSource(WireModel):
    sub_agent: SubAgentSource


SessionSource = TypeAliasType(
    "SessionSource",
    Literal["cli", "vscode", "exec", "appServer", "unknown"] | CustomSessionSource | SubAgentSessionSource,
)
ThreadHistoryMode = TypeAliasType("ThreadHistoryMode", Literal["legacy", "paginated"])


class GitInfo(WireModel):
    sha: str | None = None
    branch: str | None = None
    origin_url: str | None = None


class ThreadSectionAppearance(WireModel):
    color: str | None = None
    icon: str | None = None


class ThreadSection(WireModel):
    id: str
    name: str
    appearance: ThreadSectionAppearance | None = None


class Thread(WireModel):
    """A thread. ``turns`` is filled only by resume, fork and read with ``includeTurns``.

    ``createdAt``/``updatedAt``/``recencyAt``/``sectionEnteredAt`` are Unix seconds.
    """

    id: str
    session_id: str
    preview: str
    ephemeral: bool
    model_provider: str
    created_at: Int64
    updated_at: Int64
    status: ThreadStatus
    cwd: str
    cli_version: str
    source: SessionSource
    turns: list[Turn]
    project_id: str | None
    path: str | None = None
    name: str | None = None
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None
    originator: str | None = None
    thread_source: str | None = None
    forked_from_id: str | None = None
    parent_thread_id: str | None = None
    agent_nickname: str | None = None
    agent_role: str | None = None
    git_info: GitInfo | None = None
    history_mode: ThreadHistoryMode = "legacy"
    recency_at: Int64 | None = None
    section: ThreadSection | None = None
    section_entered_at: Int64 | None = None


# ---------------------------------------------------------------------- usage and read state


class TokenUsageBreakdown(WireModel):
    total_tokens: Int64
    input_tokens: Int64
    cached_input_tokens: Int64
    output_tokens: Int64
    reasoning_output_tokens: Int64
    cache_write_input_tokens: Int64 = 0


class ThreadTokenUsage(WireModel):
    total: TokenUsageBreakdown
    last: TokenUsageBreakdown
    model_context_window: Int64 | None = None


class ThreadStartThreadUnreadPosition(WireModel):
    type: Literal["threadStart"] = "threadStart"


class TurnThreadUnreadPosition(WireModel):
    type: Literal["turn"] = "turn"
    turn_id: str


ThreadUnreadPosition = TypeAliasType(
    "ThreadUnreadPosition",
    Annotated[ThreadStartThreadUnreadPosition | TurnThreadUnreadPosition, Field(discriminator="type")],
)


class ThreadReadState(WireModel):
    """The first unread position (null: all read) and a revision that guards edits."""

    revision: str
    first_unread: ThreadUnreadPosition | None = None


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "ActiveThreadStatus",
    "ActiveTurnNotSteerableCodexErrorInfo",
    "ActiveTurnNotSteerableDetails",
    "CodexErrorInfo",
    "CustomSessionSource",
    "GitInfo",
    "HttpConnectionFailedCodexErrorInfo",
    "HttpStatusDetails",
    "IdleThreadStatus",
    "MisalignmentErrorDetails",
    "MisalignmentSteer",
    "NonSteerableTurnKind",
    "NotLoadedThreadStatus",
    "OtherSubAgentSource",
    "ResponseStreamConnectionFailedCodexErrorInfo",
    "ResponseStreamDisconnectedCodexErrorInfo",
    "ResponseTooManyFailedAttemptsCodexErrorInfo",
    "SessionSource",
    "SubAgentSessionSource",
    "SubAgentSource",
    "SystemErrorThreadStatus",
    "Thread",
    "ThreadActiveFlag",
    "ThreadHistoryMode",
    "ThreadReadState",
    "ThreadSection",
    "ThreadSectionAppearance",
    "ThreadSpawnDetails",
    "ThreadSpawnSubAgentSource",
    "ThreadStartThreadUnreadPosition",
    "ThreadStatus",
    "ThreadTokenUsage",
    "ThreadUnreadPosition",
    "TokenUsageBreakdown",
    "Turn",
    "TurnError",
    "TurnItemsView",
    "TurnStatus",
    "TurnThreadUnreadPosition",
]
