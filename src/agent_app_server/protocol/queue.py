"""Thread queues (experimental): ``thread/queue/add|list|update|delete|reorder|start`` and the
``thread/queue/changed`` notification.

Owns: their params, results, ``QueuedSubmission`` and the notification.
Layer: protocol (imports ``_base``, ``common``, ``registry`` and ``threads``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from . import registry
from ._base import WireModel
from .common import UInt32, UserInput
from .threads import Turn

__all__ = [
    "QueuedSubmission",
    "ThreadQueueAddParams",
    "ThreadQueueAddResponse",
    "ThreadQueueChangedNotification",
    "ThreadQueueDeleteParams",
    "ThreadQueueDeleteResponse",
    "ThreadQueueListParams",
    "ThreadQueueListResponse",
    "ThreadQueueReorderParams",
    "ThreadQueueReorderResponse",
    "ThreadQueueStartParams",
    "ThreadQueueStartResponse",
    "ThreadQueueUpdateParams",
    "ThreadQueueUpdateResponse",
]


class QueuedSubmission(WireModel):
    id: str
    input: list[UserInput]
    client_user_message_id: str
    responsesapi_client_metadata: dict[str, str] | None = None


class ThreadQueueAddParams(WireModel):
    thread_id: str
    client_user_message_id: str
    input: list[UserInput]
    responsesapi_client_metadata: dict[str, str] | None = None


class ThreadQueueAddResponse(WireModel):
    queued_submission: QueuedSubmission


class ThreadQueueListParams(WireModel):
    thread_id: str
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadQueueListResponse(WireModel):
    data: list[QueuedSubmission]
    next_cursor: str | None = None


class ThreadQueueUpdateParams(WireModel):
    thread_id: str
    queued_submission_id: str
    input: list[UserInput]
    #: Non-empty replaces the submission's metadata; omitted or empty keeps it.
    responsesapi_client_metadata: dict[str, str] | None = None


class ThreadQueueUpdateResponse(WireModel):
    queued_submission: QueuedSubmission


class ThreadQueueDeleteParams(WireModel):
    thread_id: str
    queued_submission_id: str


class ThreadQueueDeleteResponse(WireModel):
    deleted: bool


class ThreadQueueReorderParams(WireModel):
    thread_id: str
    #: Every queued submission's id, exactly once, in the new order.
    queued_submission_ids: list[str]


class ThreadQueueReorderResponse(WireModel):
    pass


class ThreadQueueStartParams(WireModel):
    thread_id: str
    #: None: the first submission.
    queued_submission_id: str | None = None


class ThreadQueueStartResponse(WireModel):
    turn: Turn


class ThreadQueueChangedNotification(WireModel):
    thread_id: str


registry.notification("thread/queue/changed", ThreadQueueChangedNotification)
