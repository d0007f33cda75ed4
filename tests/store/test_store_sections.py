"""Sections in the store, on both backends: membership kept in a thread's ``extra``, positions
rewritten in one call, the section-position sort, and deleting a section."""

from __future__ import annotations

from collections.abc import Callable

from agent_app_server.store import SectionRecord, ThreadQuery, ThreadRecord, ThreadStore

RecordFactory = Callable[..., ThreadRecord]


def member(section_id: str, position: float) -> dict[str, object]:
    return {"section": {"id": section_id, "enteredAt": 1, "position": position}}


async def test_positions_sort_and_delete(store: ThreadStore, make_record: RecordFactory) -> None:
    await store.put_section(SectionRecord("s1", "Work", {"icon": "x", "color": "red"}, 1_780_000_000))
    first, second, outside = make_record(extra=member("s1", 1.0)), make_record(extra=member("s1", 2.0)), make_record()
    for record in (first, second, outside):
        await store.put_thread(record)
    assert await store.section_positions("s1") == {first.id: 1.0, second.id: 2.0}

    await store.set_section_positions({first.id: 3.5, second.id: 0.5})
    assert await store.section_positions("s1") == {first.id: 3.5, second.id: 0.5}
    page = await store.list_threads(ThreadQuery(sort_key="section_position", descending=False, section_id="s1"))
    assert [record.id for record in page.records] == [second.id, first.id]
    after = await store.list_threads(
        ThreadQuery(sort_key="section_position", descending=False, section_id="s1", cursor=page.backwards_cursor)
    )
    assert [record.id for record in after.records] == [first.id]

    assert sorted(await store.delete_section("s1")) == sorted([first.id, second.id])
    assert "s1" not in store.sections
    assert await store.section_positions("s1") == {}
    kept = await store.get_thread(first.id)
    assert kept is not None and "section" not in kept.extra
