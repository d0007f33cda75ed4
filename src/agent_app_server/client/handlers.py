"""Typed registration of handlers for what the server asks the client (server requests).

Owns: one ``on_*`` method per server request: command and file-change approvals, dynamic tool
calls, user input, permission requests, MCP elicitations and the auth-token refresh. A handler
receives the protocol model of the params and returns the response model (or, for approvals, just
the decision string). Layer: client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..protocol.server_requests import (
        ChatgptAuthTokensRefreshParams,
        ChatgptAuthTokensRefreshResponse,
        CommandExecutionRequestApprovalParams,
        CommandExecutionRequestApprovalResponse,
        DynamicToolCallParams,
        DynamicToolCallResponse,
        FileChangeRequestApprovalParams,
        FileChangeRequestApprovalResponse,
        ToolRequestUserInputParams,
        ToolRequestUserInputResponse,
    )

ModelT = TypeVar("ModelT")

COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
DYNAMIC_TOOL_CALL = "item/tool/call"
USER_INPUT = "item/tool/requestUserInput"
PERMISSIONS_APPROVAL = "item/permissions/requestApproval"
MCP_ELICITATION = "mcpServer/elicitation/request"
AUTH_TOKEN_REFRESH = "account/chatgptAuthTokens/refresh"


def _decision(answer: Any) -> Any:
    """An approval handler may return just the decision (``"accept"``, ``"decline"``, …)."""
    return {"decision": answer} if isinstance(answer, str) else answer


class ServerRequestHandlers:
    """Mixed into :class:`~agent_app_server.client.AsyncClient`."""

    def on(self, method: str, params_model: type[ModelT], handler: Callable[[ModelT], Awaitable[Any]]) -> None:
        raise NotImplementedError

    def set_request_handler(self, method: str, handler: Callable[[Any], Awaitable[Any]] | None) -> None:
        raise NotImplementedError

    def on_command_approval(
        self,
        handler: Callable[
            [CommandExecutionRequestApprovalParams], Awaitable[CommandExecutionRequestApprovalResponse | str]
        ],
    ) -> None:
        """``item/commandExecution/requestApproval``: return ``"accept"``, ``"acceptForSession"``,
        ``"decline"``, ``"cancel"`` or a full response."""
        from ..protocol.server_requests import CommandExecutionRequestApprovalParams

        async def answer(params: CommandExecutionRequestApprovalParams) -> Any:
            return _decision(await handler(params))

        self.on(COMMAND_APPROVAL, CommandExecutionRequestApprovalParams, answer)

    def on_file_change_approval(
        self, handler: Callable[[FileChangeRequestApprovalParams], Awaitable[FileChangeRequestApprovalResponse | str]]
    ) -> None:
        """``item/fileChange/requestApproval``: return a decision string or a full response."""
        from ..protocol.server_requests import FileChangeRequestApprovalParams

        async def answer(params: FileChangeRequestApprovalParams) -> Any:
            return _decision(await handler(params))

        self.on(FILE_CHANGE_APPROVAL, FileChangeRequestApprovalParams, answer)

    def on_dynamic_tool_call(
        self, handler: Callable[[DynamicToolCallParams], Awaitable[DynamicToolCallResponse]]
    ) -> None:
        """``item/tool/call``: run one of the dynamic tools this client declared in ``thread/start``."""
        from ..protocol.server_requests import DynamicToolCallParams

        self.on(DYNAMIC_TOOL_CALL, DynamicToolCallParams, handler)

    def on_user_input(
        self, handler: Callable[[ToolRequestUserInputParams], Awaitable[ToolRequestUserInputResponse]]
    ) -> None:
        """``item/tool/requestUserInput``: answer the model's questions, keyed by question id."""
        from ..protocol.server_requests import ToolRequestUserInputParams

        self.on(USER_INPUT, ToolRequestUserInputParams, handler)

    def on_auth_token_refresh(
        self, handler: Callable[[ChatgptAuthTokensRefreshParams], Awaitable[ChatgptAuthTokensRefreshResponse]]
    ) -> None:
        """``account/chatgptAuthTokens/refresh``: fresh tokens after a 401 (``chatgptAuthTokens`` login)."""
        from ..protocol.server_requests import ChatgptAuthTokensRefreshParams

        self.on(AUTH_TOKEN_REFRESH, ChatgptAuthTokensRefreshParams, handler)

    def on_permissions_request(self, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
        """``item/permissions/requestApproval`` (the reference's; this server does not send it yet):
        params and result as JSON objects, as in the reference schema."""
        self.set_request_handler(PERMISSIONS_APPROVAL, handler)

    def on_mcp_elicitation(self, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
        """``mcpServer/elicitation/request`` (an MCP tool's approval form): JSON in, JSON out."""
        self.set_request_handler(MCP_ELICITATION, handler)
