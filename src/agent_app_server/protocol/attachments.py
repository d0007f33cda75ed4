"""Thread attachments: ``thread/attachment/add|list|remove``, ``thread/attachmentOwner/list`` and
the ``thread/attachment/updated`` notification.

Owns: their params, results and notification models. Layer: protocol (imports ``_base``, ``common`` and ``registry``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Any, Literal

from typing_extensions import TypeAliasType

from . import registry
from ._base import WireModel
from .common import Int64, UInt32

__all__ = [
    "ThreadAttachment",
    "ThreadAttachmentAddOutcome",
    "ThreadAttachmentAddParams",
    "ThreadAttachmentAddResponse",
    "ThreadAttachmentListParams",
    "ThreadAttachmentListResponse",
    "ThreadAttachmentOperation",
    "ThreadAttachmentOwner",
    "ThreadAttachmentOwnerListParams",
    "ThreadAttachmentOwnerListResponse",
    "ThreadAttachmentRemoveParams",
    "ThreadAttachmentRemoveResponse",
    "ThreadAttachmentUpdatedNotification",
]

ThreadAttachmentAddOutcome = TypeAliasType("ThreadAttachmentAddOutcome", Literal["created", "existing"])
ThreadAttachmentOperation = TypeAliasType("ThreadAttachmentOperation", Literal["created", "deleted"])


class ThreadAttachment(WireModel):
    id: str
    attachment_type: str
    identity_key: str
    #: Any JSON value the client chose; stored and returned as given.
    payload: Any
    created_at: Int64


class ThreadAttachmentAddParams(WireModel):
    thread_id: str
    attachment_type: str
    identity_key: str
    payload: Any


class ThreadAttachmentAddResponse(WireModel):
    attachment: ThreadAttachment
    outcome: ThreadAttachmentAddOutcome


class ThreadAttachmentListParams(WireModel):
    thread_id: str
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadAttachmentListResponse(WireModel):
    data: list[ThreadAttachment]
    next_cursor: str | None = None


class ThreadAttachmentRemoveParams(WireModel):
    thread_id: str
    attachment_type: str
    identity_key: str


class ThreadAttachmentRemoveResponse(WireModel):
    pass


class ThreadAttachmentOwnerListParams(WireModel):
    attachment_type: str
    identity_key: str
    #: None lists every owner; false only threads that are not archived (true only archived ones).
    archived: bool | None = None
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadAttachmentOwner(WireModel):
    thread_id: str
    archived: bool


class ThreadAttachmentOwnerListResponse(WireModel):
    data: list[ThreadAttachmentOwner]
    next_cursor: str | None = None


class ThreadAttachmentUpdatedNotification(WireModel):
    thread_id: str
    attachment_type: str
    identity_key: str
    attachment_id: str
    operation: ThreadAttachmentOperation


registry.notification("thread/attachment/updated", ThreadAttachmentUpdatedNotification)
