"""Client tools on the wire: dynamic tool specs and the MCP server methods.

Owns: ``DynamicToolSpec`` (``thread/start.dynamicTools``, experimental), ``mcpServerStatus/list``
and ``mcpServer/tool/call`` params/responses and the MCP types they carry (``Tool``,
``Resource``, ``ResourceTemplate``, ``McpServerStatus``…). MCP payloads the reference keeps
opaque (schemas, ``_meta``, annotations, content blocks) stay plain JSON here too.
Imports ``_base`` and ``common``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each of hundreds of annotation strings at import.
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator
from typing_extensions import TypeAliasType

from ._base import WireModel
from .common import AlternativeKeys, Int64, UInt32, alternative

# ---------------------------------------------------------------------- dynamic tools


class FunctionDynamicToolNamespaceTool(WireModel):
    type: Literal["function"] = "function"
    name: str
    description: str
    input_schema: Any
    defer_loading: bool = False


DynamicToolNamespaceTool = TypeAliasType(
    "DynamicToolNamespaceTool", Annotated[FunctionDynamicToolNamespaceTool, Field(discriminator="type")]
)


class FunctionDynamicToolSpec(WireModel):
    """A tool the client runs itself when the model calls it (``item/tool/call``)."""

    type: Literal["function"] = "function"
    name: str
    description: str
    input_schema: Any
    defer_loading: bool = False


class NamespaceDynamicToolSpec(WireModel):
    """A group of client tools offered to the model under one namespace."""

    type: Literal["namespace"] = "namespace"
    name: str
    description: str
    tools: list[DynamicToolNamespaceTool]

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.tools:
            raise ValueError(f"dynamic tool namespace must contain at least one tool: {self.name}")
        return self


DynamicToolSpec = TypeAliasType(
    "DynamicToolSpec",
    Annotated[FunctionDynamicToolSpec | NamespaceDynamicToolSpec, Field(discriminator="type")],
)

# ---------------------------------------------------------------------- MCP types

McpAuthStatus = TypeAliasType("McpAuthStatus", Literal["unknown", "unsupported", "notLoggedIn", "bearerToken", "oAuth"])
McpServerConnectionStatus = TypeAliasType(
    "McpServerConnectionStatus",
    Literal["notStarted", "starting", "connected", "authenticationRequired", "failed", "cancelled", "disabled"],
)
McpServerStatusDetail = TypeAliasType("McpServerStatusDetail", Literal["full", "toolsAndAuthOnly"])


class Tool(WireModel):
    """An MCP tool definition, as the server advertised it."""

    name: str
    input_schema: Any
    title: str | None = None
    description: str | None = None
    output_schema: Any = None
    annotations: Any = None
    icons: list[Any] | None = None
    meta: Any = Field(default=None, alias="_meta")


class Resource(WireModel):
    name: str
    uri: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    size: Int64 | None = None
    annotations: Any = None
    icons: list[Any] | None = None
    meta: Any = Field(default=None, alias="_meta")


class ResourceTemplate(WireModel):
    name: str
    uri_template: str
    title: str | None = None
    description: str | None = None
    mime_type: str | None = None
    annotations: Any = None


class McpServerInfo(WireModel):
    name: str
    version: str
    title: str | None = None
    description: str | None = None
    icons: list[Any] | None = None
    website_url: str | None = None


class McpServerStatus(WireModel):
    """One configured MCP server: what it offers and whether it is connected."""

    name: str
    auth_status: McpAuthStatus
    tools: dict[str, Tool]
    resources: list[Resource]
    resource_templates: list[ResourceTemplate]
    runtime_status: McpServerConnectionStatus | None = None
    server_info: McpServerInfo | None = None
    server_capabilities: Any = None
    http_origin: str | None = None
    plugin_id: str | None = None
    tool_list_meta: Any = None
    tools_error: str | None = None


# ---------------------------------------------------------------------- methods


class ListMcpServerStatusParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None
    detail: McpServerStatusDetail | None = None
    server_name: str | None = None
    thread_id: str | None = None


class ListMcpServerStatusResponse(WireModel):
    data: list[McpServerStatus]
    next_cursor: str | None = None


class McpServerToolCallParams(WireModel):
    """Call one tool of a configured MCP server directly (not through the model)."""

    thread_id: str
    server: str
    tool: str
    arguments: Any = None
    meta: Any = Field(default=None, alias="_meta")


class McpResourceReadTarget(WireModel):
    connector_id: str
    link_id: str | None


class McpResourceReadParams(WireModel):
    server: str
    uri: str
    thread_id: str | None = None
    #: Hosted-app routing of the reference; no such apps exist here, so these are not used.
    connector_id: str | None = None
    origin_call_id: str | None = None
    target: McpResourceReadTarget | None = None
    meta: Any = Field(default=None, alias="_meta")


class ResourceContent(AlternativeKeys):
    """Text (``text``) or binary (``blob``, base64) contents of one resource."""

    alternatives = ("text", "blob")
    uri: str
    mime_type: str | None = None
    text: str | None = alternative()
    blob: str | None = alternative()
    meta: Any = Field(default=None, alias="_meta")


class McpResourceReadResponse(WireModel):
    contents: list[ResourceContent]
    origin_call_id: str | None = None


class McpServerRefreshResponse(WireModel):
    pass


class McpServerToolCallResponse(WireModel):
    content: list[Any]
    structured_content: Any = None
    is_error: bool | None = None
    meta: Any = Field(default=None, alias="_meta")


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "DynamicToolNamespaceTool",
    "DynamicToolSpec",
    "FunctionDynamicToolNamespaceTool",
    "FunctionDynamicToolSpec",
    "ListMcpServerStatusParams",
    "ListMcpServerStatusResponse",
    "McpAuthStatus",
    "McpResourceReadParams",
    "McpResourceReadResponse",
    "McpResourceReadTarget",
    "McpServerConnectionStatus",
    "McpServerInfo",
    "McpServerRefreshResponse",
    "McpServerStatus",
    "McpServerStatusDetail",
    "McpServerToolCallParams",
    "McpServerToolCallResponse",
    "NamespaceDynamicToolSpec",
    "Resource",
    "ResourceContent",
    "ResourceTemplate",
    "Tool",
]
