"""``threadSection/list|create|update|delete`` and ``thread/section/move``.

A move is announced with ``thread/section/changed`` to every connection after the reply (the
reference broadcasts it, also when nothing changed), so every client's sidebar stays in step.
Layer: server.
"""

from __future__ import annotations

from ...core.sections import ThreadSections
from ...protocol.sections import (
    ThreadSectionCreateParams,
    ThreadSectionCreateResponse,
    ThreadSectionDeleteParams,
    ThreadSectionDeleteResponse,
    ThreadSectionListParams,
    ThreadSectionListResponse,
    ThreadSectionMoveParams,
    ThreadSectionMoveResponse,
    ThreadSectionUpdateParams,
    ThreadSectionUpdateResponse,
)
from ...protocol.threads import ThreadSection, ThreadSectionAppearance
from ...rpc import Reply
from ...store import SectionRecord
from ..connection import Connection
from . import handler


def _wire(section: SectionRecord) -> ThreadSection:
    appearance = ThreadSectionAppearance.model_validate(section.appearance) if section.appearance else None
    return ThreadSection(id=section.id, name=section.name, appearance=appearance)


@handler("threadSection/list")
async def section_list(conn: Connection, params: ThreadSectionListParams) -> ThreadSectionListResponse:
    sections, next_cursor = ThreadSections(conn.app.threads).page(params.cursor, params.limit)
    return ThreadSectionListResponse(data=[_wire(section) for section in sections], next_cursor=next_cursor)


@handler("threadSection/create")
async def section_create(conn: Connection, params: ThreadSectionCreateParams) -> ThreadSectionCreateResponse:
    appearance = params.appearance.to_wire() if params.appearance is not None else None
    section = await ThreadSections(conn.app.threads).create(params.name, appearance)
    return ThreadSectionCreateResponse(section=_wire(section))


@handler("threadSection/update")
async def section_update(conn: Connection, params: ThreadSectionUpdateParams) -> ThreadSectionUpdateResponse:
    appearance = params.appearance.to_wire() if params.appearance is not None else None
    section = await ThreadSections(conn.app.threads).update(
        params.section_id, params.name, appearance, appearance_given="appearance" in params.model_fields_set
    )
    return ThreadSectionUpdateResponse(section=_wire(section))


@handler("threadSection/delete")
async def section_delete(conn: Connection, params: ThreadSectionDeleteParams) -> ThreadSectionDeleteResponse:
    await ThreadSections(conn.app.threads).delete(params.section_id)
    return ThreadSectionDeleteResponse()


@handler("thread/section/move")
async def section_move(conn: Connection, params: ThreadSectionMoveParams) -> Reply:
    app = conn.app
    thread_id = await ThreadSections(app.threads).move(params.thread_id, params.section_id, params.before_thread_id)
    changed = {"threadId": thread_id, "sectionId": params.section_id}

    def broadcast() -> None:
        app.deliver([peer for peer in app.connections.values() if peer.initialized], "thread/section/changed", changed)

    return Reply(ThreadSectionMoveResponse(), broadcast)
