"""``initialize``: the handshake, once per connection."""

from __future__ import annotations

import asyncio
import os
import platform

from ... import PROTOCOL_VERSION, __version__
from ...core.threads import ClientIdentity
from ...protocol import InitializeParams, InitializeResponse
from ...rpc import InvalidRequest, Reply
from ..connection import Connection
from . import handler

EXPERIMENTAL_ONLY_NOTIFICATIONS = frozenset({"thread/readState/changed"})


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
    if not conn.experimental_api:
        # The reference sends read-state changes only to clients that opted into the experimental API.
        conn.opted_out |= EXPERIMENTAL_ONLY_NOTIFICATIONS
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
        _announce_sandbox(conn)

    return Reply(response, announce)


_sandbox_tasks: set[asyncio.Task[None]] = set()


def _announce_sandbox(conn: Connection) -> None:
    """A ``configWarning`` when commands cannot be sandboxed as configured (fail closed), or
    only with the weaker fallback. The probe runs off the loop and does not delay the reply."""
    task = asyncio.get_running_loop().create_task(_sandbox_warning(conn))
    _sandbox_tasks.add(task)
    task.add_done_callback(_sandbox_tasks.discard)


async def _sandbox_warning(conn: Connection) -> None:
    from ...core import sandbox

    status = await asyncio.to_thread(sandbox.probe)
    if status.problem is None:
        return
    if status.available:
        summary = f"Sandbox degraded: using {status.mechanism}"
    else:
        summary = "Sandbox unavailable: commands under readOnly/workspaceWrite will not run"
    conn.notify("configWarning", {"summary": summary, "details": status.problem, "path": None, "range": None})


def _platform_os() -> str:
    system = platform.system().lower()
    return {"darwin": "macos"}.get(system, system)
