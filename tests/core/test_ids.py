"""core.ids: UUIDv7 ids sort in the order they were made, even many in one millisecond."""

from __future__ import annotations

import uuid

from agent_app_server.core.ids import parse_thread_id, uuid7


def test_ids_made_in_a_burst_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


def test_a_thread_id_is_checked_and_canonical() -> None:
    made = uuid7()
    assert parse_thread_id(made.upper()) == made
    assert parse_thread_id(f"urn:uuid:{made}") == made
