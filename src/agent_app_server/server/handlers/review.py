"""``review/start`` and ``thread/approveGuardianDeniedAction``: review mode on a thread
(``core.review``) and the user's override of an auto-review denial (``core.guardian``).
Layer: server.
"""

from __future__ import annotations

from ...core.guardian import approval_message
from ...core.inject import inject_items
from ...protocol.review import ThreadApproveGuardianDeniedActionParams, ThreadApproveGuardianDeniedActionResponse
from ..connection import Connection
from . import handler


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
