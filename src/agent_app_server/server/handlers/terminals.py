"""``thread/backgroundTerminals/list|terminate|clean`` (experimental): the commands a thread's
turns started with ``exec_command`` and left running. Terminating one completes its
``commandExecution`` item, as its exit would. Layer: server.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ...core.errors import checked_thread_id
from ...core.tools.router import AgentToolRouter
from ...protocol.terminals import (
    ThreadBackgroundTerminal,
    ThreadBackgroundTerminalsCleanParams,
    ThreadBackgroundTerminalsCleanResponse,
    ThreadBackgroundTerminalsListParams,
    ThreadBackgroundTerminalsListResponse,
    ThreadBackgroundTerminalsTerminateParams,
    ThreadBackgroundTerminalsTerminateResponse,
)
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler

if TYPE_CHECKING:
    from ...core.threads import LoadedThread
    from ...core.tools.exec import ExecSession


async def _thread(conn: Connection, thread_id: str) -> LoadedThread | None:
    """The loaded thread, or None for a stored one that is not loaded (it runs nothing)."""
    app = conn.app
    loaded = app.threads.loaded(checked_thread_id(thread_id))
    if loaded is None:
        await app.threads.read(thread_id)  # -32602 for a thread that does not exist
    return loaded


def _router(conn: Connection) -> AgentToolRouter | None:
    tools = conn.app.turns.tools
    return tools if isinstance(tools, AgentToolRouter) else None


def _wire(session: ExecSession) -> ThreadBackgroundTerminal:
    pid = session.run.pid
    return ThreadBackgroundTerminal(
        process_id=str(session.id),
        item_id=str(session.item["id"]),
        command=str(session.item.get("command", "")),
        cwd=str(session.item.get("cwd", "")),
        os_pid=pid,
        rss_kb=_rss_kb(pid),
    )


def _rss_kb(pid: int) -> int | None:
    # /proc is memory, not disk: reading it never blocks the loop.
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


@handler("thread/backgroundTerminals/list")
async def background_terminals_list(
    conn: Connection, params: ThreadBackgroundTerminalsListParams
) -> ThreadBackgroundTerminalsListResponse:
    thread = await _thread(conn, params.thread_id)
    router = _router(conn)
    sessions = router.background_terminals(thread) if thread is not None and router is not None else []
    start = 0
    if params.cursor is not None:
        if not params.cursor.isdigit():
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        start = int(params.cursor)
    end = len(sessions) if params.limit is None else start + max(params.limit, 1)
    return ThreadBackgroundTerminalsListResponse(
        data=[_wire(session) for session in sessions[start:end]],
        next_cursor=str(end) if end < len(sessions) else None,
    )


@handler("thread/backgroundTerminals/terminate")
async def background_terminals_terminate(
    conn: Connection, params: ThreadBackgroundTerminalsTerminateParams
) -> ThreadBackgroundTerminalsTerminateResponse:
    thread = await _thread(conn, params.thread_id)
    router = _router(conn)
    if thread is None or router is None:
        return ThreadBackgroundTerminalsTerminateResponse(terminated=False)
    return ThreadBackgroundTerminalsTerminateResponse(
        terminated=await router.terminate_terminal(thread, params.process_id)
    )


@handler("thread/backgroundTerminals/clean")
async def background_terminals_clean(
    conn: Connection, params: ThreadBackgroundTerminalsCleanParams
) -> ThreadBackgroundTerminalsCleanResponse:
    thread = await _thread(conn, params.thread_id)
    router = _router(conn)
    if thread is not None and router is not None:
        for session in router.background_terminals(thread):
            await router.terminate_terminal(thread, str(session.id))
    return ThreadBackgroundTerminalsCleanResponse()
