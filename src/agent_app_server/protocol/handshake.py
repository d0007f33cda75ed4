"""The handshake: ``initialize`` params and result.

Owns: the types the first request of every connection needs, kept apart from the thread and
turn models so that answering ``initialize`` does not load them. Imports only ``_base``.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from typing import Any

from ._base import WireModel


class ClientInfo(WireModel):
    name: str
    version: str
    title: str | None = None


class InitializeCapabilities(WireModel):
    experimental_api: bool = False
    opt_out_notification_methods: list[str] | None = None
    explicit_gateway_oauth: bool = False
    extensions: dict[str, Any] | None = None
    mcp_server_openai_form_elicitation: bool = False
    request_attestation: bool = False
    required_human_approval: bool = False


class InitializeParams(WireModel):
    client_info: ClientInfo
    capabilities: InitializeCapabilities | None = None


class InitializeResponse(WireModel):
    user_agent: str
    codex_home: str
    platform_family: str
    platform_os: str


#: The public names, re-exported by ``agent_app_server.protocol``.
__all__ = [
    "ClientInfo",
    "InitializeCapabilities",
    "InitializeParams",
    "InitializeResponse",
]
