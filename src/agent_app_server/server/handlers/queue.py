"""``thread/queue/add|list|update|delete|reorder|start`` (experimental): follow-up prompts queued
per thread (``core.queue``). Layer: server.
"""

from __future__ import annotations

from typing import Any

from ...protocol.queue import (
    ThreadQueueAddParams,
    ThreadQueueAddResponse,
    ThreadQueueDeleteParams,
    ThreadQueueDeleteResponse,
    ThreadQueueListParams,
    ThreadQueueListResponse,
    ThreadQueueReorderParams,
    ThreadQueueReorderResponse,
    ThreadQueueStartParams,
    ThreadQueueStartResponse,
    ThreadQueueUpdateParams,
    ThreadQueueUpdateResponse,
)
from ...rpc import InvalidParams
from ..connection import Connection
from . import handler
from .turns import _reply_turn


def _input(parts: list[Any]) -> list[dict[str, Any]]:
    return [part.to_wire() for part in parts]


@handler("thread/queue/add")
async def queue_add(conn: Connection, params: ThreadQueueAddParams) -> ThreadQueueAddResponse:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    app.subscribe(conn, thread.id)
    submission = await app.services.queues.add(
        thread, _input(params.input), params.client_user_message_id, params.responsesapi_client_metadata
    )
    return ThreadQueueAddResponse.model_validate({"queuedSubmission": submission})


@handler("thread/queue/list")
async def queue_list(conn: Connection, params: ThreadQueueListParams) -> ThreadQueueListResponse:
    app = conn.app
    queue = app.services.queues.submissions(app.threads.require_loaded(params.thread_id))
    start = 0
    if params.cursor is not None:
        if not params.cursor.isdigit():
            raise InvalidParams(f"invalid cursor: {params.cursor}")
        start = int(params.cursor)
    end = len(queue) if params.limit is None else start + max(params.limit, 1)
    return ThreadQueueListResponse.model_validate(
        {"data": queue[start:end], "nextCursor": str(end) if end < len(queue) else None}
    )


@handler("thread/queue/update")
async def queue_update(conn: Connection, params: ThreadQueueUpdateParams) -> ThreadQueueUpdateResponse:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    updated = await app.services.queues.update(
        thread, params.queued_submission_id, _input(params.input), params.responsesapi_client_metadata
    )
    return ThreadQueueUpdateResponse.model_validate({"queuedSubmission": updated})


@handler("thread/queue/delete")
async def queue_delete(conn: Connection, params: ThreadQueueDeleteParams) -> ThreadQueueDeleteResponse:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    return ThreadQueueDeleteResponse(deleted=await app.services.queues.delete(thread, params.queued_submission_id))


@handler("thread/queue/reorder")
async def queue_reorder(conn: Connection, params: ThreadQueueReorderParams) -> ThreadQueueReorderResponse:
    app = conn.app
    await app.services.queues.reorder(app.threads.require_loaded(params.thread_id), params.queued_submission_ids)
    return ThreadQueueReorderResponse()


@handler("thread/queue/start")
async def queue_start(conn: Connection, params: ThreadQueueStartParams) -> ThreadQueueStartResponse:
    app = conn.app
    thread = app.threads.require_loaded(params.thread_id)
    app.subscribe(conn, thread.id)
    runner = await app.services.queues.start(thread, params.queued_submission_id)
    return ThreadQueueStartResponse.model_validate({"turn": _reply_turn(runner)})
