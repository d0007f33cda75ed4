"""``thread/attachment/add|list|remove`` and ``thread/attachmentOwner/list``.

A created or deleted attachment is announced with ``thread/attachment/updated`` to the thread's
subscribers and the caller, after the reply, as the reference does. Layer: server.
"""

from __future__ import annotations

from ...core.attachments import ThreadAttachments
from ...protocol.attachments import (
    ThreadAttachment,
    ThreadAttachmentAddParams,
    ThreadAttachmentAddResponse,
    ThreadAttachmentListParams,
    ThreadAttachmentListResponse,
    ThreadAttachmentOwner,
    ThreadAttachmentOwnerListParams,
    ThreadAttachmentOwnerListResponse,
    ThreadAttachmentRemoveParams,
    ThreadAttachmentRemoveResponse,
)
from ...rpc import Reply
from ...store import Attachment
from ..connection import Connection
from . import handler


def _wire(attachment: Attachment) -> ThreadAttachment:
    return ThreadAttachment(
        id=attachment.id,
        attachment_type=attachment.attachment_type,
        identity_key=attachment.identity_key,
        payload=attachment.payload,
        created_at=attachment.created_at,
    )


def _announce(
    conn: Connection,
    thread_id: str,
    attachment_id: str,
    params: ThreadAttachmentRemoveParams | ThreadAttachmentAddParams,
    operation: str,
) -> None:
    app = conn.app
    recipients = app.subscribers(thread_id)
    if conn not in recipients:
        recipients = [*recipients, conn]
    app.deliver(
        recipients,
        "thread/attachment/updated",
        {
            "threadId": thread_id,
            "attachmentType": params.attachment_type,
            "identityKey": params.identity_key,
            "attachmentId": attachment_id,
            "operation": operation,
        },
    )


@handler("thread/attachment/add")
async def attachment_add(conn: Connection, params: ThreadAttachmentAddParams) -> Reply:
    thread_id, attachment, created = await ThreadAttachments(conn.app.threads).add(
        params.thread_id, params.attachment_type, params.identity_key, params.payload
    )
    response = ThreadAttachmentAddResponse(attachment=_wire(attachment), outcome="created" if created else "existing")
    if not created:
        return Reply(response)
    return Reply(response, lambda: _announce(conn, thread_id, attachment.id, params, "created"))


@handler("thread/attachment/remove")
async def attachment_remove(conn: Connection, params: ThreadAttachmentRemoveParams) -> Reply:
    thread_id, removed = await ThreadAttachments(conn.app.threads).remove(
        params.thread_id, params.attachment_type, params.identity_key
    )
    if removed is None:
        return Reply(ThreadAttachmentRemoveResponse())
    return Reply(ThreadAttachmentRemoveResponse(), lambda: _announce(conn, thread_id, removed, params, "deleted"))


@handler("thread/attachment/list")
async def attachment_list(conn: Connection, params: ThreadAttachmentListParams) -> ThreadAttachmentListResponse:
    attachments, more = await ThreadAttachments(conn.app.threads).page(params.thread_id, params.cursor, params.limit)
    return ThreadAttachmentListResponse(
        data=[_wire(attachment) for attachment in attachments],
        next_cursor=attachments[-1].id if more else None,
    )


@handler("thread/attachmentOwner/list")
async def attachment_owner_list(
    conn: Connection, params: ThreadAttachmentOwnerListParams
) -> ThreadAttachmentOwnerListResponse:
    owners, more = await ThreadAttachments(conn.app.threads).owners(
        params.attachment_type, params.identity_key, params.archived, params.cursor, params.limit
    )
    return ThreadAttachmentOwnerListResponse(
        data=[ThreadAttachmentOwner(thread_id=owner.thread_id, archived=owner.archived) for owner in owners],
        next_cursor=owners[-1].thread_id if more else None,
    )
