"""``initialize``: the handshake, once per connection.

The result and the connection's handshake state come from ``server.handshake``, shared with the
stdio fast start (which answers a well-formed first ``initialize`` before this module loads and
then calls :func:`begin` for the connection the server starts with).
Layer: server (imports ``core``, ``protocol``, ``rpc``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...core.thread_basics import ClientIdentity
from ...protocol import InitializeParams
from ...rpc import InvalidRequest, Reply
from ..connection import Connection, raw_param
from ..handshake import Handshake, initialize_result, observe_all_refusal
from . import handler


@handler("initialize")
async def initialize(conn: Connection, params: InitializeParams) -> Reply:
    if conn.initialized:
        raise InvalidRequest("Already initialized")
    capabilities = params.capabilities
    raw_capabilities = raw_param("capabilities")
    refusal = observe_all_refusal(raw_capabilities)
    if refusal is not None:
        raise InvalidRequest(refusal)
    handshake = Handshake.of(
        params.client_info.name,
        # ``eventReplay`` and ``observeAll`` are beyond the models: read from the raw params.
        raw_capabilities,
        capabilities.opt_out_notification_methods if capabilities is not None else None,
        bool(capabilities.experimental_api) if capabilities is not None else False,
    )
    announce = begin(conn, handshake)
    # The wire dict as the fast start sends it (validated against the reference schema in tests).
    return Reply(initialize_result(handshake.client_name, str(conn.app.config.codex_home)), announce)


def begin(conn: Connection, handshake: Handshake) -> Callable[[], None]:
    """Make ``conn`` initialized; returns what to send once the ``initialize`` answer is out."""
    conn.initialized = True
    conn.client = ClientIdentity(handshake.client_name)
    conn.experimental_api = handshake.experimental_api
    conn.opted_out = handshake.opted_out
    conn.event_replay = handshake.event_replay
    config = conn.app.config

    def announce() -> None:
        if handshake.observe_all:
            # After the answer: the server requests already waiting follow it.
            conn.app.observe_all(conn)
        for warning in config.warnings:
            conn.notify(
                "configWarning",
                {"summary": warning.summary, "details": warning.details, "path": warning.path, "range": None},
            )
        _announce_sandbox(conn)

    return announce


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
