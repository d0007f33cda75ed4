"""Thread sections: ``threadSection/list|create|update|delete``, ``thread/section/move`` and the
``thread/section/changed`` notification.

Owns: their params, results and notification models (``ThreadSection`` itself is part of
``Thread``, in ``threads``). Layer: protocol (imports ``_base``, ``common``, ``registry`` and ``threads``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from . import registry
from ._base import WireModel
from .common import UInt32
from .threads import ThreadSection, ThreadSectionAppearance

__all__ = [
    "ThreadSectionChangedNotification",
    "ThreadSectionCreateParams",
    "ThreadSectionCreateResponse",
    "ThreadSectionDeleteParams",
    "ThreadSectionDeleteResponse",
    "ThreadSectionListParams",
    "ThreadSectionListResponse",
    "ThreadSectionMoveParams",
    "ThreadSectionMoveResponse",
    "ThreadSectionUpdateParams",
    "ThreadSectionUpdateResponse",
]


class ThreadSectionListParams(WireModel):
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadSectionListResponse(WireModel):
    data: list[ThreadSection]
    next_cursor: str | None = None


class ThreadSectionCreateParams(WireModel):
    name: str
    appearance: ThreadSectionAppearance | None = None


class ThreadSectionCreateResponse(WireModel):
    section: ThreadSection


class ThreadSectionUpdateParams(WireModel):
    section_id: str
    name: str
    #: Omitted keeps the appearance, null clears it (the handler tells them apart).
    appearance: ThreadSectionAppearance | None = None


class ThreadSectionUpdateResponse(WireModel):
    section: ThreadSection


class ThreadSectionDeleteParams(WireModel):
    section_id: str


class ThreadSectionDeleteResponse(WireModel):
    pass


class ThreadSectionMoveParams(WireModel):
    thread_id: str
    #: Required, but may be null: out of any section.
    section_id: str | None
    before_thread_id: str | None = None


class ThreadSectionMoveResponse(WireModel):
    pass


class ThreadSectionChangedNotification(WireModel):
    thread_id: str
    section_id: str | None


registry.notification("thread/section/changed", ThreadSectionChangedNotification)
