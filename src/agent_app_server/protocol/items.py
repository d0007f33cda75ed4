"""Thread items: the ``ThreadItem`` union (all 19 variants) and the types nested in them.

Owns: what a turn is made of on the wire — user and agent messages, reasoning, command runs,
file changes, tool calls, web searches, review-mode markers and compactions.
Imports ``_base`` and ``common``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypeAliasType

from ._base import SnakeWireModel, WireModel
from .common import (
    AlternativeKeys,
    FunctionCallOutputBody,
    Int32,
    Int64,
    ReasoningEffort,
    UInt32,
    UInt64,
    UserInput,
    alternative,
)


class ThreadItemBase(WireModel):
    """Fields every item carries: the reference flattens the lifecycle times into each variant."""

    id: str
    started_at_ms: Int64 | None = None
    completed_at_ms: Int64 | None = None


# ---------------------------------------------------------------------- messages


class UserMessageThreadItem(ThreadItemBase):
    type: Literal["userMessage"] = "userMessage"
    content: list[UserInput]
    client_id: str | None = None


class HookPromptFragment(WireModel):
    hook_run_id: str
    text: str


class HookPromptThreadItem(ThreadItemBase):
    type: Literal["hookPrompt"] = "hookPrompt"
    fragments: list[HookPromptFragment]


AgentMessageDelivery = TypeAliasType("AgentMessageDelivery", Literal["async"])
MessagePhase = TypeAliasType("MessagePhase", Literal["commentary", "partial_answer", "final_answer"])


class MemoryCitationEntry(WireModel):
    path: str
    line_start: UInt32
    line_end: UInt32
    note: str


class MemoryCitation(WireModel):
    entries: list[MemoryCitationEntry]
    thread_ids: list[str]


class AgentMessageDisplay(WireModel):
    action: str
    block_type: str | None = None
    check_trusted_contacts: bool | None = None
    cyber_trusted_access: bool | None = None


class AgentMessageModeration(WireModel):
    moderated: bool
    display: AgentMessageDisplay | None = None


class AsyncUserInputQuestion(WireModel):
    title: str
    options: list[str] | None = None


class AgentMessageThreadItem(ThreadItemBase):
    type: Literal["agentMessage"] = "agentMessage"
    text: str
    phase: MessagePhase | None = None
    delivery: AgentMessageDelivery | None = None
    memory_citation: MemoryCitation | None = None
    moderation: AgentMessageModeration | None = None
    questions: list[AsyncUserInputQuestion] | None = None


class FunctionCallOutputThreadItem(ThreadItemBase):
    type: Literal["functionCallOutput"] = "functionCallOutput"
    name: str
    namespace: str | None = None
    output: FunctionCallOutputBody


class PlanThreadItem(ThreadItemBase):
    type: Literal["plan"] = "plan"
    text: str


class ReasoningThreadItem(ThreadItemBase):
    type: Literal["reasoning"] = "reasoning"
    summary: list[str] = []
    content: list[str] = []


# ---------------------------------------------------------------------- commands and patches


class ReadCommandAction(WireModel):
    type: Literal["read"] = "read"
    command: str
    name: str
    path: str


class ListFilesCommandAction(WireModel):
    type: Literal["listFiles"] = "listFiles"
    command: str
    path: str | None = None


class SearchCommandAction(WireModel):
    type: Literal["search"] = "search"
    command: str
    query: str | None = None
    path: str | None = None


class UnknownCommandAction(WireModel):
    type: Literal["unknown"] = "unknown"
    command: str


CommandAction = TypeAliasType(
    "CommandAction",
    Annotated[
        ReadCommandAction | ListFilesCommandAction | SearchCommandAction | UnknownCommandAction,
        Field(discriminator="type"),
    ],
)
CommandExecutionSource = TypeAliasType(
    "CommandExecutionSource", Literal["agent", "userShell", "unifiedExecStartup", "unifiedExecInteraction"]
)
CommandExecutionStatus = TypeAliasType(
    "CommandExecutionStatus", Literal["inProgress", "completed", "failed", "declined"]
)


class CommandExecutionThreadItem(ThreadItemBase):
    type: Literal["commandExecution"] = "commandExecution"
    command: str
    cwd: str
    status: CommandExecutionStatus
    command_actions: list[CommandAction]
    source: CommandExecutionSource = "agent"
    process_id: str | None = None
    aggregated_output: str | None = None
    exit_code: Int32 | None = None
    duration_ms: Int64 | None = None
    plugin_id: str | None = None
    script_path: str | None = None


class AddPatchChangeKind(WireModel):
    type: Literal["add"] = "add"


class DeletePatchChangeKind(WireModel):
    type: Literal["delete"] = "delete"


class UpdatePatchChangeKind(SnakeWireModel):
    type: Literal["update"] = "update"
    move_path: str | None = None


PatchChangeKind = TypeAliasType(
    "PatchChangeKind",
    Annotated[
        AddPatchChangeKind | DeletePatchChangeKind | UpdatePatchChangeKind,
        Field(discriminator="type"),
    ],
)
PatchApplyStatus = TypeAliasType("PatchApplyStatus", Literal["inProgress", "completed", "failed", "declined"])


class FileUpdateChange(WireModel):
    path: str
    kind: PatchChangeKind
    diff: str


class FileChangeThreadItem(ThreadItemBase):
    type: Literal["fileChange"] = "fileChange"
    changes: list[FileUpdateChange]
    status: PatchApplyStatus


# ---------------------------------------------------------------------- tool calls

McpToolCallStatus = TypeAliasType("McpToolCallStatus", Literal["inProgress", "completed", "failed"])
McpAppDisplayMode = TypeAliasType("McpAppDisplayMode", Literal["inline", "fullscreen"])


class McpToolCallResult(WireModel):
    """An MCP ``CallToolResult``; its content blocks stay opaque JSON, as in the reference."""

    content: list[Any]
    structured_content: Any = None
    meta: Any = Field(default=None, alias="_meta")


class McpToolCallError(WireModel):
    message: str


class McpToolCallAppContext(WireModel):
    connector_id: str
    app_name: str | None = None
    action_name: str | None = None
    link_id: str | None = None
    resource_uri: str | None = None


class McpAppUi(WireModel):
    resource_uri: str
    preferred_model_display_mode: McpAppDisplayMode


class McpToolCallThreadItem(ThreadItemBase):
    type: Literal["mcpToolCall"] = "mcpToolCall"
    server: str
    tool: str
    status: McpToolCallStatus
    arguments: Any
    result: McpToolCallResult | None = None
    error: McpToolCallError | None = None
    duration_ms: Int64 | None = None
    app_context: McpToolCallAppContext | None = None
    mcp_app_resource_uri: str | None = None
    mcp_app_ui: McpAppUi | None = None
    plugin_id: str | None = None
    read_only_hint: bool | None = None


class InputTextDynamicToolCallOutputContentItem(WireModel):
    type: Literal["inputText"] = "inputText"
    text: str


class InputImageDynamicToolCallOutputContentItem(WireModel):
    type: Literal["inputImage"] = "inputImage"
    image_url: str


class InputAudioDynamicToolCallOutputContentItem(WireModel):
    type: Literal["inputAudio"] = "inputAudio"
    audio_url: str


DynamicToolCallOutputContentItem = TypeAliasType(
    "DynamicToolCallOutputContentItem",
    Annotated[
        InputTextDynamicToolCallOutputContentItem
        | InputImageDynamicToolCallOutputContentItem
        | InputAudioDynamicToolCallOutputContentItem,
        Field(discriminator="type"),
    ],
)
DynamicToolCallStatus = TypeAliasType("DynamicToolCallStatus", Literal["inProgress", "completed", "failed"])


class DynamicToolCallThreadItem(ThreadItemBase):
    type: Literal["dynamicToolCall"] = "dynamicToolCall"
    tool: str
    namespace: str | None = None
    arguments: Any
    status: DynamicToolCallStatus
    content_items: list[DynamicToolCallOutputContentItem] | None = None
    success: bool | None = None
    duration_ms: Int64 | None = None


CollabAgentTool = TypeAliasType(
    "CollabAgentTool",
    Literal[
        "spawnAgent",
        "sendInput",
        "resumeAgent",
        "wait",
        "closeAgent",
        "sendMessage",
        "followupTask",
        "interruptAgent",
        "listAgents",
    ],
)
CollabAgentToolCallStatus = TypeAliasType(
    "CollabAgentToolCallStatus", Literal["inProgress", "completed", "failed", "interrupted"]
)
CollabAgentStatus = TypeAliasType(
    "CollabAgentStatus",
    Literal["pendingInit", "running", "interrupted", "completed", "errored", "shutdown", "notFound"],
)


class CollabAgentState(WireModel):
    status: CollabAgentStatus
    message: str | None = None


class CollabAgentToolCallThreadItem(ThreadItemBase):
    type: Literal["collabAgentToolCall"] = "collabAgentToolCall"
    tool: CollabAgentTool
    status: CollabAgentToolCallStatus
    sender_thread_id: str
    receiver_thread_ids: list[str]
    agents_states: dict[str, CollabAgentState]
    prompt: str | None = None
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None


SubAgentActivityKind = TypeAliasType(
    "SubAgentActivityKind", Literal["started", "interacted", "interrupted", "completed"]
)


class SubAgentActivityThreadItem(ThreadItemBase):
    type: Literal["subAgentActivity"] = "subAgentActivity"
    kind: SubAgentActivityKind
    agent_path: str
    agent_thread_id: str
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = None


# ---------------------------------------------------------------------- web, images, sleep


class SearchWebSearchAction(WireModel):
    type: Literal["search"] = "search"
    query: str | None = None
    queries: list[str] | None = None


class OpenPageWebSearchAction(WireModel):
    type: Literal["openPage"] = "openPage"
    url: str | None = None


class FindInPageWebSearchAction(WireModel):
    type: Literal["findInPage"] = "findInPage"
    url: str | None = None
    pattern: str | None = None


class OtherWebSearchAction(WireModel):
    type: Literal["other"] = "other"


WebSearchAction = TypeAliasType(
    "WebSearchAction",
    Annotated[
        SearchWebSearchAction | OpenPageWebSearchAction | FindInPageWebSearchAction | OtherWebSearchAction,
        Field(discriminator="type"),
    ],
)


class WebSearchThreadItem(ThreadItemBase):
    type: Literal["webSearch"] = "webSearch"
    query: str
    action: WebSearchAction | None = None
    # Opaque in the reference too, so new result kinds pass through unchanged.
    results: list[Any] | None = None


class ImageViewThreadItem(ThreadItemBase):
    type: Literal["imageView"] = "imageView"
    path: str


class SleepThreadItem(ThreadItemBase):
    type: Literal["sleep"] = "sleep"
    duration_ms: UInt64


class ImageGenerationFailure(WireModel):
    type: Literal["usageLimitExceeded"] = "usageLimitExceeded"
    limit_id: str
    resets_at: Int64 | None = None


class ImageGenerationInputImage(WireModel):
    path: str
    sha256: str


class ImageGenerationThreadItem(ThreadItemBase, AlternativeKeys):
    """A generated image: inline data (``result``) or its attachment-store id (``fileId``)."""

    alternatives = ("file_id", "result")

    type: Literal["imageGeneration"] = "imageGeneration"
    status: str
    file_id: str | None = alternative()
    result: str | None = alternative()
    generation_id: str | None = None
    revised_prompt: str | None = None
    saved_path: str | None = None
    input_images: list[ImageGenerationInputImage] = []
    transparent_background: bool | None = None
    failure: ImageGenerationFailure | None = None


# ---------------------------------------------------------------------- review and compaction


class EnteredReviewModeThreadItem(ThreadItemBase):
    type: Literal["enteredReviewMode"] = "enteredReviewMode"
    review: str


class ExitedReviewModeThreadItem(ThreadItemBase):
    type: Literal["exitedReviewMode"] = "exitedReviewMode"
    review: str


class ContextCompactionThreadItem(ThreadItemBase):
    type: Literal["contextCompaction"] = "contextCompaction"


ThreadItem = TypeAliasType(
    "ThreadItem",
    Annotated[
        UserMessageThreadItem
        | HookPromptThreadItem
        | AgentMessageThreadItem
        | FunctionCallOutputThreadItem
        | PlanThreadItem
        | ReasoningThreadItem
        | CommandExecutionThreadItem
        | FileChangeThreadItem
        | McpToolCallThreadItem
        | DynamicToolCallThreadItem
        | CollabAgentToolCallThreadItem
        | SubAgentActivityThreadItem
        | WebSearchThreadItem
        | ImageViewThreadItem
        | SleepThreadItem
        | ImageGenerationThreadItem
        | EnteredReviewModeThreadItem
        | ExitedReviewModeThreadItem
        | ContextCompactionThreadItem,
        Field(discriminator="type"),
    ],
)

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AddPatchChangeKind",
    "AgentMessageDelivery",
    "AgentMessageDisplay",
    "AgentMessageModeration",
    "AgentMessageThreadItem",
    "AsyncUserInputQuestion",
    "CollabAgentState",
    "CollabAgentStatus",
    "CollabAgentTool",
    "CollabAgentToolCallStatus",
    "CollabAgentToolCallThreadItem",
    "CommandAction",
    "CommandExecutionSource",
    "CommandExecutionStatus",
    "CommandExecutionThreadItem",
    "ContextCompactionThreadItem",
    "DeletePatchChangeKind",
    "DynamicToolCallOutputContentItem",
    "DynamicToolCallStatus",
    "DynamicToolCallThreadItem",
    "EnteredReviewModeThreadItem",
    "ExitedReviewModeThreadItem",
    "FileChangeThreadItem",
    "FileUpdateChange",
    "FindInPageWebSearchAction",
    "FunctionCallOutputThreadItem",
    "HookPromptFragment",
    "HookPromptThreadItem",
    "ImageGenerationFailure",
    "ImageGenerationInputImage",
    "ImageGenerationThreadItem",
    "ImageViewThreadItem",
    "InputAudioDynamicToolCallOutputContentItem",
    "InputImageDynamicToolCallOutputContentItem",
    "InputTextDynamicToolCallOutputContentItem",
    "ListFilesCommandAction",
    "McpAppDisplayMode",
    "McpAppUi",
    "McpToolCallAppContext",
    "McpToolCallError",
    "McpToolCallResult",
    "McpToolCallStatus",
    "McpToolCallThreadItem",
    "MemoryCitation",
    "MemoryCitationEntry",
    "MessagePhase",
    "OpenPageWebSearchAction",
    "OtherWebSearchAction",
    "PatchApplyStatus",
    "PatchChangeKind",
    "PlanThreadItem",
    "ReadCommandAction",
    "ReasoningThreadItem",
    "SearchCommandAction",
    "SearchWebSearchAction",
    "SleepThreadItem",
    "SubAgentActivityKind",
    "SubAgentActivityThreadItem",
    "ThreadItem",
    "ThreadItemBase",
    "UnknownCommandAction",
    "UpdatePatchChangeKind",
    "UserMessageThreadItem",
    "WebSearchAction",
    "WebSearchThreadItem",
]
