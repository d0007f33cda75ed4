"""``initialize``: the handshake, once per connection."""

from __future__ import annotations

import os
import platform

from ... import PROTOCOL_VERSION, __version__
from ...core.threads import ClientIdentity
from ...protocol import InitializeParams, InitializeResponse
from ...rpc import InvalidRequest, Reply
from ..connection import Connection
from . import handler


def user_agent(client_name: str) -> str:
    """``<client>/<protocol version> (...)``: clients parse the version after the slash."""
    system = f"{platform.system()} {platform.release()}".strip()
    return f"{client_name}/{PROTOCOL_VERSION} (agent-app-server {__version__}; {system}; {platform.machine()})"


@handler("initialize")
async def initialize(conn: Connection, params: InitializeParams) -> Reply:
    if conn.initialized:
        raise InvalidRequest("Already initialized")
    capabilities = params.capabilities
    conn.initialized = True
    conn.client = ClientIdentity(params.client_info.name)
    if capabilities is not None:
        conn.experimental_api = bool(capabilities.experimental_api)
        conn.opted_out = frozenset(capabilities.opt_out_notification_methods or ())
    config = conn.app.config
    response = InitializeResponse(
        user_agent=user_agent(params.client_info.name),
        codex_home=str(config.codex_home),
        platform_family="windows" if os.name == "nt" else "unix",
        platform_os=_platform_os(),
    )

    def announce() -> None:
        for warning in config.warnings:
            conn.notify(
                "configWarning",
                {"summary": warning.summary, "details": warning.details, "path": warning.path, "range": None},
            )

    return Reply(response, announce)


def _platform_os() -> str:
    system = platform.system().lower()
    return {"darwin": "macos"}.get(system, system)
