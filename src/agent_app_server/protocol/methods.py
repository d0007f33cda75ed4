"""Client→server requests: the handshake, thread and turn methods, and their registration.

Owns: ``<Method>Params`` / ``<Method>Response`` for ``initialize``, ``thread/*`` and ``turn/*``
and the types only they use; registers each method in :mod:`.registry`.
Imports ``_base``, ``common``, ``items``, ``threads`` and ``registry``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Any, Literal

from pydantic import model_validator
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, Unmodeled, WireModel, check_unmodeled, experimental_gate
from .common import (
    ApprovalsReviewer,
    AskForApproval,
    FunctionCallOutputBody,
    Int64,
    Personality,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    SandboxPolicy,
    SortDirection,
    UInt32,
    UserInput,
)
from .items import ThreadItem
from .threads import Thread, Turn, TurnItemsView
from .tools import DynamicToolSpec

# ---------------------------------------------------------------------- unmodeled fields

_PERMISSIONS = Unmodeled(str, refused="permission profiles do not exist here; send `sandbox`/`sandboxPolicy` instead")
_ENVIRONMENTS = Unmodeled(
    list,
    refused="only the `local` environment exists here",
    accepts=lambda value: all(isinstance(e, dict) and e.get("environmentId") == "local" for e in value),
)
_ROOTS = Unmodeled(list, paths="")
_PROJECT = Unmodeled(str, refused="projects do not exist here; omit it")
_ROLLOUT_PATH = Unmodeled(str, refused="there are no rollout files here; name the thread by `threadId`", neutral=("",))
_CLIENT_METADATA = {"responsesapiClientMetadata": Unmodeled(dict), "responsesapiClientMetadataPatch": Unmodeled(dict)}
_ADDITIONAL_CONTEXT = Unmodeled(dict, refused="it would not reach the model here; put it in `input`")
_THREAD_FILTER = Unmodeled(str, refused="thread lineage filters are not implemented; omit it")

_THREAD_START_UNMODELED = {
    "allowProviderModelFallback": Unmodeled(bool, nullable=False),
    "daybreakEnabled": Unmodeled(bool),
    "environments": _ENVIRONMENTS,
    "experimentalRawEvents": Unmodeled(bool, nullable=False),
    "historyMode": Unmodeled(str, dict),
    "mockExperimentalField": Unmodeled(str),
    "multiAgentMode": Unmodeled(str, dict),
    "permissions": _PERMISSIONS,
    "projectId": _PROJECT,
    "runtimeWorkspaceRoots": _ROOTS,
    "selectedCapabilityRoots": Unmodeled(list, paths="path"),
}
_THREAD_RESUME_UNMODELED = {
    "history": Unmodeled(list, refused="a thread's history comes from this server's store; omit it", neutral=()),
    "initialTurnsPage": Unmodeled(dict),
    "path": _ROLLOUT_PATH,
    "permissions": _PERMISSIONS,
    "runtimeWorkspaceRoots": _ROOTS,
}
_THREAD_FORK_UNMODELED = {
    "attachToSource": Unmodeled(bool, nullable=False),
    "beforeTurnId": Unmodeled(str, refused="fork up to a turn with `lastTurnId`"),
    "deferGoalContinuation": Unmodeled(bool, nullable=False),
    "experimentalDisablePredictionMcp": Unmodeled(
        bool, nullable=False, refused="it needs `experimentalPredictionMode`, which is not implemented"
    ),
    "experimentalPredictionMode": Unmodeled(bool, nullable=False, refused="prediction mode is not implemented"),
    "path": _ROLLOUT_PATH,
    "permissions": _PERMISSIONS,
    "runtimeWorkspaceRoots": _ROOTS,
}
_THREAD_LIST_UNMODELED = {
    "ancestorThreadId": _THREAD_FILTER,
    "attachedToThreadId": _THREAD_FILTER,
    "parentThreadId": _THREAD_FILTER,
    "includeAttachedThreads": Unmodeled(bool, nullable=False, refused="attached threads are not implemented"),
    "projectId": _PROJECT,
}
_TURN_START_UNMODELED = {
    "additionalContext": _ADDITIONAL_CONTEXT,
    "collaborationMode": Unmodeled(dict),
    "cyberAccessProgram": Unmodeled(str, dict),
    "environments": _ENVIRONMENTS,
    "multiAgentMode": Unmodeled(str, dict),
    "permissions": _PERMISSIONS,
    "runtimeWorkspaceRoots": _ROOTS,
    **_CLIENT_METADATA,
}
_TURN_STEER_UNMODELED = {"additionalContext": _ADDITIONAL_CONTEXT, **_CLIENT_METADATA}


# ---------------------------------------------------------------------- thread lifecycle

ThreadStartSource = TypeAliasType("ThreadStartSource", Literal["startup", "clear"])


class ThreadStartParams(WireModel):
    model: str | None = None
    model_provider: str | None = None
    service_tier: str | None = None
    cwd: str | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    service_name: str | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    personality: Personality | None = None
    ephemeral: bool | None = None
    session_start_source: ThreadStartSource | None = None
    thread_source: str | None = None
    dynamic_tools: Annotated[list[DynamicToolSpec] | None, experimental_gate("thread/start.dynamicTools")] = None

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _THREAD_START_UNMODELED)


class ThreadSessionResponse(WireModel):
    """What thread/start, thread/resume and thread/fork all answer: the thread and its settings."""

    thread: Thread
    model: str
    model_provider: str
    service_tier: str | None = None
    cwd: str
    instruction_sources: list[str] = []
    approval_policy: AskForApproval
    approvals_reviewer: ApprovalsReviewer
    sandbox: SandboxPolicy
    reasoning_effort: ReasoningEffort | None = None
    disabled_plugin_ids: list[str] = []


class ThreadStartResponse(ThreadSessionResponse):
    """The new thread (not yet on disk: it is written at its first turn) and its settings."""


class ThreadResumeParams(WireModel):
    thread_id: str
    model: str | None = None
    model_provider: str | None = None
    service_tier: str | None = None
    cwd: str | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    personality: Personality | None = None
    exclude_turns: bool = False

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _THREAD_RESUME_UNMODELED)


ModeKind = TypeAliasType("ModeKind", Literal["plan", "default"])


class Settings(SnakeWireModel):
    """Settings of a collaboration mode."""

    model: str
    reasoning_effort: ReasoningEffort | None = None
    developer_instructions: str | None = None


class CollaborationMode(WireModel):
    mode: ModeKind
    settings: Settings


class ThreadResumeResponse(ThreadSessionResponse):
    collaboration_mode: CollaborationMode | None = None
    turns_backwards_cursor: str | None = None
    items_backwards_cursor: str | None = None


class ThreadForkParams(WireModel):
    thread_id: str
    last_turn_id: str | None = None
    model: str | None = None
    model_provider: str | None = None
    service_tier: str | None = None
    cwd: str | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None
    ephemeral: bool = False
    exclude_turns: bool = False
    thread_source: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _THREAD_FORK_UNMODELED)


class ThreadForkResponse(ThreadSessionResponse):
    """The new thread, with the source's turns unless ``excludeTurns``, and its settings."""


class ThreadReadParams(WireModel):
    thread_id: str
    include_turns: bool = False


class ThreadReadResponse(WireModel):
    thread: Thread


ThreadSortKey = TypeAliasType("ThreadSortKey", Literal["created_at", "updated_at", "recency_at", "section_position"])
ThreadSourceKind = TypeAliasType(
    "ThreadSourceKind",
    Literal[
        "cli",
        "vscode",
        "exec",
        "appServer",
        "subAgent",
        "subAgentReview",
        "subAgentCompact",
        "subAgentThreadSpawn",
        "subAgentOther",
        "unknown",
    ],
)
ThreadListCwdFilter = TypeAliasType("ThreadListCwdFilter", str | list[str])


class ThreadListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None
    sort_key: ThreadSortKey | None = None
    sort_direction: SortDirection | None = None
    model_providers: list[str] | None = None
    source_kinds: list[ThreadSourceKind] | None = None
    archived: bool | None = None
    cwd: ThreadListCwdFilter | None = None
    search_term: str | None = None
    section_id: str | None = None
    excluded_thread_ids: list[str] | None = None
    originators: list[str] | None = None
    current_account_only: bool = False
    use_state_db_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _THREAD_LIST_UNMODELED)


class ThreadListResponse(WireModel):
    data: list[Thread]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadLoadedListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadLoadedListResponse(WireModel):
    data: list[str]
    next_cursor: str | None = None


class ThreadSetNameParams(WireModel):
    thread_id: str
    name: str


class ThreadSetNameResponse(WireModel):
    """Empty; subscribers also get ``thread/name/updated``."""


class ThreadDeleteParams(WireModel):
    thread_id: str


class ThreadDeleteResponse(WireModel):
    pass


class ThreadArchiveParams(WireModel):
    thread_id: str


class ThreadArchiveResponse(WireModel):
    """Empty; subscribers also get ``thread/archived``."""


class ThreadMetadataGitInfoUpdateParams(WireModel):
    """Each field: omitted leaves it, null clears it, a non-empty string replaces it."""

    sha: str | None = None
    branch: str | None = None
    origin_url: str | None = None


class ThreadMetadataUpdateParams(WireModel):
    thread_id: str
    git_info: ThreadMetadataGitInfoUpdateParams | None = None


class ThreadMetadataUpdateResponse(WireModel):
    thread: Thread


class ThreadInjectItemsParams(WireModel):
    thread_id: str
    #: Raw Responses-API items (checked by the core, as the reference checks them).
    items: list[Any]


class ThreadInjectItemsResponse(WireModel):
    pass


class ThreadUnarchiveParams(WireModel):
    thread_id: str


class ThreadUnarchiveResponse(WireModel):
    thread: Thread


ThreadUnsubscribeStatus = TypeAliasType(
    "ThreadUnsubscribeStatus", Literal["notLoaded", "notSubscribed", "unsubscribed"]
)


class ThreadUnsubscribeParams(WireModel):
    thread_id: str


class ThreadUnsubscribeResponse(WireModel):
    status: ThreadUnsubscribeStatus


class ThreadRevertParams(WireModel):
    """Replace a thread's persisted history with the turns before ``beforeTurnId``."""

    thread_id: str
    before_turn_id: str


class ThreadRevertResponse(WireModel):
    thread: Thread
    turns_backwards_cursor: str | None = None
    items_backwards_cursor: str | None = None


class ThreadTurnsListParams(WireModel):
    thread_id: str
    cursor: str | None = None
    limit: UInt32 | None = None
    sort_direction: SortDirection | None = None
    items_view: TurnItemsView | None = None


class ThreadTurnsListResponse(WireModel):
    data: list[Turn]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadItemsListAnchor(WireModel):
    """An exclusive item position within the requested turn."""

    type: Literal["item"] = "item"
    item_id: str


ThreadItemsListCursor = TypeAliasType("ThreadItemsListCursor", str | ThreadItemsListAnchor)


class ThreadItemOutputDeferral(WireModel):
    """Which saved outputs to leave out of the page (none in the stable API)."""


class ThreadItemsListParams(WireModel):
    thread_id: str
    turn_id: str | None = None
    cursor: ThreadItemsListCursor | None = None
    limit: UInt32 | None = None
    sort_direction: SortDirection | None = None
    defer_output: ThreadItemOutputDeferral | None = None


class ThreadItemEntry(WireModel):
    """An item with the turn it belongs to; the times are Unix milliseconds."""

    turn_id: str
    item: ThreadItem
    started_at_ms: Int64 | None = None
    completed_at_ms: Int64 | None = None


class ThreadItemsListResponse(WireModel):
    data: list[ThreadItemEntry]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadItemsReadParams(WireModel):
    """Experimental: up to 100 stored items of one turn, by id."""

    thread_id: str
    turn_id: str
    item_ids: list[str]


class ThreadItemsReadResponse(WireModel):
    #: In stored order; ids that are not items of the turn are left out.
    data: list[ThreadItemEntry]


class ThreadCompactStartParams(WireModel):
    thread_id: str


class ThreadCompactStartResponse(WireModel):
    """Empty; the compaction shows up as a ``contextCompaction`` item."""


# ---------------------------------------------------------------------- turns


class TurnToolOutput(WireModel):
    name: str
    namespace: str | None = None
    output: FunctionCallOutputBody
    retain: bool = False


class TurnStartParams(WireModel):
    thread_id: str
    input: list[UserInput]
    client_user_message_id: str | None = None
    cwd: str | None = None
    model: str | None = None
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary | None = None
    personality: Personality | None = None
    approval_policy: AskForApproval | None = None
    approvals_reviewer: ApprovalsReviewer | None = None
    sandbox_policy: SandboxPolicy | None = None
    service_tier: str | None = None
    service_tier_for_turn: str | None = None
    # Any JSON: the reference hands this JSON Schema to the model untouched.
    output_schema: Any = None
    disabled_plugin_ids: list[str] | None = None
    parent_turn_id: str | None = None
    root_turn_id: str | None = None
    tool_output: TurnToolOutput | None = None
    turn_trigger: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _TURN_START_UNMODELED)


class TurnStartResponse(WireModel):
    turn: Turn


class TurnSteerParams(WireModel):
    """Add input to the active turn; fails unless ``expectedTurnId`` is that turn."""

    thread_id: str
    expected_turn_id: str
    input: list[UserInput]
    client_user_message_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _unmodeled(cls, data: Any) -> Any:
        return check_unmodeled(data, _TURN_STEER_UNMODELED)


class TurnSteerResponse(WireModel):
    turn_id: str


class TurnInterruptParams(WireModel):
    thread_id: str
    turn_id: str


class TurnInterruptResponse(WireModel):
    """Empty; the turn then completes with status ``interrupted``."""


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "CollaborationMode",
    "ModeKind",
    "Settings",
    "ThreadArchiveParams",
    "ThreadArchiveResponse",
    "ThreadCompactStartParams",
    "ThreadCompactStartResponse",
    "ThreadDeleteParams",
    "ThreadDeleteResponse",
    "ThreadForkParams",
    "ThreadForkResponse",
    "ThreadInjectItemsParams",
    "ThreadInjectItemsResponse",
    "ThreadItemEntry",
    "ThreadItemOutputDeferral",
    "ThreadItemsListAnchor",
    "ThreadItemsListCursor",
    "ThreadItemsListParams",
    "ThreadItemsListResponse",
    "ThreadItemsReadParams",
    "ThreadItemsReadResponse",
    "ThreadListCwdFilter",
    "ThreadListParams",
    "ThreadListResponse",
    "ThreadLoadedListParams",
    "ThreadLoadedListResponse",
    "ThreadMetadataGitInfoUpdateParams",
    "ThreadMetadataUpdateParams",
    "ThreadMetadataUpdateResponse",
    "ThreadReadParams",
    "ThreadReadResponse",
    "ThreadResumeParams",
    "ThreadResumeResponse",
    "ThreadRevertParams",
    "ThreadRevertResponse",
    "ThreadSessionResponse",
    "ThreadSetNameParams",
    "ThreadSetNameResponse",
    "ThreadSortKey",
    "ThreadSourceKind",
    "ThreadStartParams",
    "ThreadStartResponse",
    "ThreadStartSource",
    "ThreadTurnsListParams",
    "ThreadTurnsListResponse",
    "ThreadUnarchiveParams",
    "ThreadUnarchiveResponse",
    "ThreadUnsubscribeParams",
    "ThreadUnsubscribeResponse",
    "ThreadUnsubscribeStatus",
    "TurnInterruptParams",
    "TurnInterruptResponse",
    "TurnStartParams",
    "TurnStartResponse",
    "TurnSteerParams",
    "TurnSteerResponse",
    "TurnToolOutput",
]
