"""Server→client requests: approvals, dynamic tool calls, user input and token refresh.

Owns: the params the server sends and the result types the client answers with, and their
registration. Imports ``_base``, ``common``, ``items`` and ``registry``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Any, Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import SnakeWireModel, WireModel
from .common import Int64, UInt64
from .items import CommandAction, DynamicToolCallOutputContentItem

# ---------------------------------------------------------------------- command approval

CommandExecutionApprovalKind = TypeAliasType(
    "CommandExecutionApprovalKind", Literal["command", "writeStdin", "humanCommand"]
)
NetworkApprovalProtocol = TypeAliasType("NetworkApprovalProtocol", Literal["http", "https", "socks5Tcp", "socks5Udp"])
NetworkPolicyRuleAction = TypeAliasType("NetworkPolicyRuleAction", Literal["allow", "deny"])


class NetworkApprovalContext(WireModel):
    host: str
    protocol: NetworkApprovalProtocol


class NetworkPolicyAmendment(WireModel):
    host: str
    action: NetworkPolicyRuleAction


class CommandExecutionRequestApprovalParams(WireModel):
    """Asks the client to approve a command before it runs (``startedAtMs``: Unix ms)."""

    thread_id: str
    turn_id: str
    item_id: str
    started_at_ms: Int64
    kind: CommandExecutionApprovalKind = "command"
    approval_id: str | None = None
    environment_id: str | None = None
    command: str | None = None
    cwd: str | None = None
    command_actions: list[CommandAction] | None = None
    reason: str | None = None
    network_approval_context: NetworkApprovalContext | None = None
    proposed_execpolicy_amendment: list[str] | None = None
    proposed_network_policy_amendments: list[NetworkPolicyAmendment] | None = None


class ExecpolicyAmendment(SnakeWireModel):
    execpolicy_amendment: list[str]


class AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision(WireModel):
    """Accept, and add the proposed execpolicy rule so matching commands run unprompted."""

    accept_with_execpolicy_amendment: ExecpolicyAmendment


class NetworkPolicyAmendmentChoice(SnakeWireModel):
    network_policy_amendment: NetworkPolicyAmendment


class ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision(WireModel):
    """Persist an allow/deny rule for the host."""

    apply_network_policy_amendment: NetworkPolicyAmendmentChoice


CommandExecutionApprovalDecision = TypeAliasType(
    "CommandExecutionApprovalDecision",
    Literal["accept", "acceptForSession", "decline", "cancel"]
    | AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision
    | ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision,
)


class CommandExecutionRequestApprovalResponse(WireModel):
    """``decline`` lets the turn go on; ``cancel`` also interrupts it."""

    decision: CommandExecutionApprovalDecision


# ---------------------------------------------------------------------- file change approval


class FileChangeRequestApprovalParams(WireModel):
    thread_id: str
    turn_id: str
    item_id: str
    started_at_ms: Int64
    reason: str | None = None
    grant_root: str | None = None


FileChangeApprovalDecision = TypeAliasType(
    "FileChangeApprovalDecision", Literal["accept", "acceptForSession", "decline", "cancel"]
)


class FileChangeRequestApprovalResponse(WireModel):
    decision: FileChangeApprovalDecision


# ---------------------------------------------------------------------- dynamic tools


class DynamicToolCallParams(WireModel):
    """Asks the client to run one of the dynamic tools it declared."""

    thread_id: str
    turn_id: str
    call_id: str
    tool: str
    namespace: str | None = None
    arguments: Any


class DynamicToolCallResponse(WireModel):
    content_items: list[DynamicToolCallOutputContentItem]
    success: bool


# ---------------------------------------------------------------------- user input


class ToolRequestUserInputOption(WireModel):
    label: str
    description: str


class ToolRequestUserInputQuestion(WireModel):
    id: str
    header: str
    question: str
    is_other: bool = False
    is_secret: bool = False
    options: list[ToolRequestUserInputOption] | None = None


class ToolRequestUserInputParams(WireModel):
    thread_id: str
    turn_id: str
    item_id: str
    questions: list[ToolRequestUserInputQuestion]
    is_blocking: bool
    auto_resolution_ms: UInt64 | None = None


class ToolRequestUserInputAnswer(WireModel):
    answers: list[str]


class ToolRequestUserInputResponse(WireModel):
    """Answers keyed by question id."""

    answers: dict[str, ToolRequestUserInputAnswer]


# ---------------------------------------------------------------------- auth

ChatgptAuthTokensRefreshReason = TypeAliasType("ChatgptAuthTokensRefreshReason", Literal["unauthorized"])


class ChatgptAuthTokensRefreshParams(WireModel):
    reason: ChatgptAuthTokensRefreshReason
    previous_account_id: str | None = None


class ChatgptAuthTokensRefreshResponse(WireModel):
    access_token: str
    chatgpt_account_id: str
    chatgpt_plan_type: str | None = None


registry.server_request(
    "item/commandExecution/requestApproval",
    CommandExecutionRequestApprovalParams,
    CommandExecutionRequestApprovalResponse,
)
registry.server_request(
    "item/fileChange/requestApproval", FileChangeRequestApprovalParams, FileChangeRequestApprovalResponse
)
registry.server_request("item/tool/call", DynamicToolCallParams, DynamicToolCallResponse)
registry.server_request("item/tool/requestUserInput", ToolRequestUserInputParams, ToolRequestUserInputResponse)
registry.server_request(
    "account/chatgptAuthTokens/refresh", ChatgptAuthTokensRefreshParams, ChatgptAuthTokensRefreshResponse
)

#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision",
    "ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision",
    "ChatgptAuthTokensRefreshParams",
    "ChatgptAuthTokensRefreshReason",
    "ChatgptAuthTokensRefreshResponse",
    "CommandExecutionApprovalDecision",
    "CommandExecutionApprovalKind",
    "CommandExecutionRequestApprovalParams",
    "CommandExecutionRequestApprovalResponse",
    "DynamicToolCallParams",
    "DynamicToolCallResponse",
    "ExecpolicyAmendment",
    "FileChangeApprovalDecision",
    "FileChangeRequestApprovalParams",
    "FileChangeRequestApprovalResponse",
    "NetworkApprovalContext",
    "NetworkApprovalProtocol",
    "NetworkPolicyAmendment",
    "NetworkPolicyAmendmentChoice",
    "NetworkPolicyRuleAction",
    "ToolRequestUserInputAnswer",
    "ToolRequestUserInputOption",
    "ToolRequestUserInputParams",
    "ToolRequestUserInputQuestion",
    "ToolRequestUserInputResponse",
]
