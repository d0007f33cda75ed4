"""``review/start`` and ``thread/approveGuardianDeniedAction``: review mode on a thread
(``core.review``) and the user's override of an auto-review denial (``core.guardian``).
Layer: server.
"""

from __future__ import annotations

from ...core.guardian import approval_message
from ...core.inject import inject_items
from ...core.review import reply_turn, review_request, start_review
from ...protocol.review import (
    ReviewStartParams,
    ReviewStartResponse,
    ThreadApproveGuardianDeniedActionParams,
    ThreadApproveGuardianDeniedActionResponse,
)
from ...rpc import Reply
from ..connection import Connection
from . import handler


@handler("review/start")
async def review_start(conn: Connection, params: ReviewStartParams) -> Reply:
    app = conn.app
    record, _ = await app.threads.read(params.thread_id)
    thread = app.threads.require_loaded(record.id)
    request = await review_request(params.target.to_wire(), thread.settings.cwd)
    runner = start_review(app.turns, thread, request)
    app.subscribe(conn, thread.id)
    response = ReviewStartResponse.model_validate({"turn": reply_turn(runner), "reviewThreadId": thread.id})
    return Reply(response, lambda: app.turns.launch(runner))


@handler("thread/approveGuardianDeniedAction")
async def approve_guardian_denied_action(
    conn: Connection, params: ThreadApproveGuardianDeniedActionParams
) -> ThreadApproveGuardianDeniedActionResponse:
    app = conn.app
    message = approval_message(params.event)
    # The thread must exist even when there is nothing to record (a non-denied event).
    record, _ = await app.threads.read(params.thread_id)
    if message is not None:
        await inject_items(app.threads, app.turns, record.id, [message])
    return ThreadApproveGuardianDeniedActionResponse()
