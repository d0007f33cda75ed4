"""OAuth for MCP servers: ``mcpServer/oauth/login`` and ``mcpServer/oauthLogin/completed``.

Owns: their params, result and notification.
Layer: protocol (imports ``_base``, ``common`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import CheckedInt64

__all__ = [
    "McpServerOauthClientRegistration",
    "McpServerOauthLoginCompletedNotification",
    "McpServerOauthLoginParams",
    "McpServerOauthLoginResponse",
]

McpServerOauthClientRegistration = TypeAliasType("McpServerOauthClientRegistration", Literal["auto", "cimd", "dcr"])


class McpServerOauthLoginParams(WireModel):
    name: str
    scopes: list[str] | None = None
    timeout_secs: CheckedInt64 | None = None
    thread_id: str | None = None
    #: How the client registers with the authorization server; automatic discovery when absent.
    client_registration: McpServerOauthClientRegistration | None = None


class McpServerOauthLoginResponse(WireModel):
    authorization_url: str
    login_id: str | None = None


class McpServerOauthLoginCompletedNotification(WireModel):
    name: str
    success: bool
    error: str | None = None
    login_id: str | None = None
    thread_id: str | None = None


registry.notification("mcpServer/oauthLogin/completed", McpServerOauthLoginCompletedNotification)
