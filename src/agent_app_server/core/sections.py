"""Thread sections: the built-in "Pinned" section and the user's own, each holding threads in an
order every client sees the same.

Owns: creating, renaming and deleting sections, moving a thread into, within or out of one, and
the order within a section (fractional positions, renumbered when two get too close). A thread's
membership lives in its record (``extra["section"]``), so an unsaved thread keeps it in memory
until its first turn, as the rest of its record. Layer: core.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..rpc.errors import InvalidParams
from ..store import SectionRecord
from .errors import InvalidCursorError, checked_thread_id
from .ids import uuid7
from .threads import PINNED_SECTION

if TYPE_CHECKING:
    from .threads import ThreadManager

#: Positions closer than this are renumbered 1, 2, 3 … before inserting between them.
_MIN_GAP = 1e-6


def _clean_name(name: str) -> str:
    trimmed = name.strip()
    if not trimmed:
        raise InvalidParams("section name must not be empty")
    return trimmed


class ThreadSections:
    def __init__(self, threads: ThreadManager) -> None:
        self._threads = threads
        self._store = threads.store

    def all(self) -> list[SectionRecord]:
        """Pinned first, then the user's sections, oldest first."""
        return [PINNED_SECTION, *self._store.sections.values()]

    def require(self, section_id: str) -> SectionRecord:
        if section_id == PINNED_SECTION.id:
            return PINNED_SECTION
        section = self._store.sections.get(section_id)
        if section is None:
            raise InvalidParams(f"thread section not found: {section_id}")
        return section

    def page(self, cursor: str | None, limit: int | None) -> tuple[list[SectionRecord], str | None]:
        sections = self.all()
        start = 0
        if cursor is not None:
            ids = [section.id for section in sections]
            if cursor not in ids:
                raise InvalidCursorError(cursor)
            start = ids.index(cursor) + 1
        # As the reference: no limit lists every section, a limit of 0 is served as 1.
        end = len(sections) if limit is None else start + max(limit, 1)
        chosen = sections[start:end]
        return chosen, chosen[-1].id if end < len(sections) and chosen else None

    async def create(self, name: str, appearance: dict[str, Any] | None) -> SectionRecord:
        section = SectionRecord(uuid7(), _clean_name(name), appearance, int(time.time()))
        await self._store.put_section(section)
        return section

    async def update(
        self, section_id: str, name: str, appearance: dict[str, Any] | None, *, appearance_given: bool
    ) -> SectionRecord:
        if section_id == PINNED_SECTION.id:
            raise InvalidParams("the built-in pinned section cannot be renamed")
        current = self.require(section_id)
        updated = SectionRecord(
            current.id, _clean_name(name), appearance if appearance_given else current.appearance, current.created_at
        )
        await self._store.put_section(updated)
        return updated

    async def delete(self, section_id: str) -> None:
        """Delete the section; its threads stay, outside any section."""
        if section_id == PINNED_SECTION.id:
            raise InvalidParams("the built-in pinned section cannot be deleted")
        self.require(section_id)
        await self._store.delete_section(section_id)
        # Loaded threads write their in-memory record back later: take them out there too.
        for thread in self._threads.loaded_threads():
            membership = thread.record.extra.get("section")
            if isinstance(membership, dict) and membership.get("id") == section_id:
                del thread.record.extra["section"]

    async def move(self, thread_id: str, section_id: str | None, before_thread_id: str | None) -> str:
        """Put the thread at the end of the section, before another of its threads, or out of
        any section (``section_id`` None); its canonical id."""
        record, loaded = await self._threads.read(thread_id)
        if section_id is None:
            if before_thread_id is not None:
                raise InvalidParams("beforeThreadId requires a non-null sectionId")
            record.extra.pop("section", None)
        else:
            section = self.require(section_id)
            positions = await self._positions(section.id)
            positions.pop(record.id, None)
            position = await self._position(section.id, positions, before_thread_id)
            previous = record.extra.get("section")
            stayed = isinstance(previous, dict) and previous.get("id") == section.id
            entered = previous["enteredAt"] if stayed and isinstance(previous, dict) else int(time.time())
            record.extra["section"] = {"id": section.id, "enteredAt": entered, "position": position}
        if loaded is None or loaded.materialized:
            await self._store.update_thread(record.id, extra=record.extra)
        return record.id

    async def _position(self, section_id: str, positions: dict[str, float], before_thread_id: str | None) -> float:
        if before_thread_id is None:
            return max(positions.values(), default=0.0) + 1.0
        before = checked_thread_id(before_thread_id)
        if before not in positions:
            raise InvalidParams(f"before thread {before_thread_id} is not in section {section_id}")
        upper = positions[before]
        lower = max((value for value in positions.values() if value < upper), default=upper - 2.0)
        if upper - lower < _MIN_GAP:
            positions = await self._renumber(positions)
            upper = positions[before]
            lower = max((value for value in positions.values() if value < upper), default=upper - 2.0)
        return (lower + upper) / 2

    async def _positions(self, section_id: str) -> dict[str, float]:
        """Thread id → position of every thread in the section, stored or only in memory."""
        positions = await self._store.section_positions(section_id)
        for thread in self._threads.loaded_threads():
            membership = thread.record.extra.get("section")
            if isinstance(membership, dict) and membership.get("id") == section_id:
                positions[thread.id] = float(membership["position"])
            else:
                positions.pop(thread.id, None)
        return positions

    async def _renumber(self, positions: dict[str, float]) -> dict[str, float]:
        ordered = sorted(positions, key=lambda thread_id: (positions[thread_id], thread_id))
        renumbered = {thread_id: float(rank) for rank, thread_id in enumerate(ordered, start=1)}
        stored: dict[str, float] = {}
        for thread_id, position in renumbered.items():
            thread = self._threads.loaded(thread_id)
            if thread is not None:
                thread.record.extra["section"]["position"] = position
            if thread is None or thread.materialized:
                stored[thread_id] = position
        await self._store.set_section_positions(stored)
        return renumbered
