"""MCP server methods: ``mcpServerStatus/list``, ``mcpServer/tool/call``, ``mcpServer/resource/read``
``config/mcpServer/reload`` and ``mcpServer/oauth/login`` (+ ``mcpServer/oauthLogin/completed``
to every client when the login ends).
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...core.mcp_oauth import server_for_login
from ...core.tools.mcp import McpError, McpManager, configured_servers
from ...protocol import (
    ListMcpServerStatusParams,
    ListMcpServerStatusResponse,
    McpResourceReadParams,
    McpResourceReadResponse,
    McpServerRefreshResponse,
    McpServerToolCallParams,
    McpServerToolCallResponse,
)
from ...protocol.mcp_oauth import McpServerOauthLoginParams, McpServerOauthLoginResponse
from ...rpc import InternalError, InvalidParams
from ..connection import Connection
from . import handler


def _manager(conn: Connection) -> McpManager:
    manager = getattr(conn.app.turns.tools, "mcp", None)
    if not isinstance(manager, McpManager):
        raise InternalError("MCP support is not available in this server")
    return manager


@handler("mcpServerStatus/list")
async def mcp_server_status_list(conn: Connection, params: ListMcpServerStatusParams) -> ListMcpServerStatusResponse:
    manager = _manager(conn)
    thread = conn.app.threads.require_loaded(params.thread_id) if params.thread_id is not None else None
    statuses = await manager.status_list(thread, params.server_name)
    start = 0
    if params.cursor is not None:
        if not params.cursor.isdigit() or int(params.cursor) > len(statuses):
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        start = int(params.cursor)
    end = len(statuses) if not params.limit else min(len(statuses), start + params.limit)
    next_cursor = str(end) if end < len(statuses) else None
    return ListMcpServerStatusResponse.model_validate({"data": statuses[start:end], "nextCursor": next_cursor})


@handler("mcpServer/tool/call")
async def mcp_server_tool_call(conn: Connection, params: McpServerToolCallParams) -> dict[str, Any]:
    manager = _manager(conn)
    thread = conn.app.threads.require_loaded(params.thread_id)
    await manager.ready(thread)
    try:
        connection = manager.connection(thread.id, params.server)
    except McpError as exc:
        raise InvalidParams(str(exc)) from None
    arguments = params.arguments if isinstance(params.arguments, dict) else None
    try:
        result = await connection.call_tool(params.tool, arguments)
    except McpError as exc:
        raise InternalError(f"MCP tool call {params.server}/{params.tool} failed: {exc}") from None
    response: dict[str, Any] = {"content": result.get("content") or []}
    for key in ("structuredContent", "isError", "_meta"):
        if key in result:
            response[key] = result[key]
    McpServerToolCallResponse.model_validate(response)
    return response


@handler("mcpServer/resource/read")
async def mcp_server_resource_read(conn: Connection, params: McpResourceReadParams) -> McpResourceReadResponse:
    manager = _manager(conn)
    thread = conn.app.threads.require_loaded(params.thread_id) if params.thread_id else None
    try:
        result = await manager.read_resource(thread, params.server, params.uri)
    except McpError as exc:
        if params.server not in manager.server_names():
            raise InvalidParams(str(exc)) from None
        raise InternalError(f"reading {params.uri} from MCP server {params.server} failed: {exc}") from None
    return McpResourceReadResponse.model_validate({"contents": result.get("contents") or []})


@handler("config/mcpServer/reload")
async def config_mcp_server_reload(conn: Connection, params: None) -> McpServerRefreshResponse:
    from .config import reload_user_config

    # The whole user config is re-read (as reloadUserConfig does), so MCP servers and the rest
    # never disagree; threads whose servers start from now on use the new [mcp_servers].
    await reload_user_config(conn)
    return McpServerRefreshResponse()


@handler("mcpServer/oauth/login")
async def mcp_server_oauth_login(conn: Connection, params: McpServerOauthLoginParams) -> McpServerOauthLoginResponse:
    app = conn.app
    url, headers = server_for_login(configured_servers(app.config), params.name)
    if params.thread_id is not None:
        app.threads.require_loaded(params.thread_id)
    login = await app.services.mcp_oauth.start(
        params.name,
        url,
        headers,
        scopes=params.scopes,
        timeout_s=params.timeout_secs if params.timeout_secs and params.timeout_secs > 0 else None,
        thread_id=params.thread_id,
    )

    def completed(done: asyncio.Future[str | None]) -> None:
        error = done.result()
        app.emit(
            None,
            "mcpServer/oauthLogin/completed",
            {
                "name": login.name,
                "success": error is None,
                "error": error,
                "loginId": login.login_id,
                "threadId": login.thread_id,
            },
        )

    login.done.add_done_callback(completed)
    return McpServerOauthLoginResponse(authorization_url=login.authorization_url, login_id=login.login_id)
