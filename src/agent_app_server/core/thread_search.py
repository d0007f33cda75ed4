"""Full-text search over stored threads: ``thread/search`` (which threads mention a term, with a
snippet each) and ``thread/searchOccurrences`` (every place one thread mentions it).

Owns: the rules the reference applies to these requests (a blank term refused, the default
filters of ``thread/list``, a limit of 0 read as 1), the snippets (a window around the first
match, marked ``... `` where cut) and their UTF-16 match ranges, and the occurrence cursor (the
position of the next message and the index of the next match within it). The index itself is the
store's (``store/_search.py``), kept in step with every item write; an ephemeral thread, whose
log lives only in memory, is searched in memory the same way.
Layer: core (uses ``store`` and ``rpc`` errors).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..rpc import InvalidRequest
from ..store import EventRecord, InvalidCursor, MatchedItem, ThreadQuery, search_entry
from .threads import DEFAULT_LIST_LIMIT, DEFAULT_SOURCE_KINDS, MAX_LIST_LIMIT

if TYPE_CHECKING:
    from ..protocol import Thread
    from .threads import ThreadManager

__all__ = ["Occurrence", "OccurrencePage", "SearchHit", "search_occurrences", "search_threads"]

#: Characters of context a snippet keeps before a match's start and after its end.
SNIPPET_BEFORE = 49
SNIPPET_AFTER = 96
_ELLIPSIS = "... "
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SearchHit:
    thread: Thread
    snippet: str


@dataclass(frozen=True, slots=True)
class Occurrence:
    turn_id: str
    #: The position of the turn (its ``turn/started`` event), for a ``thread/turns/list`` cursor.
    turn_seq: int
    item_id: str
    snippet: str
    #: The match within ``snippet``, in UTF-16 code units (start inclusive, end exclusive).
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class OccurrencePage:
    data: list[Occurrence]
    next_cursor: str | None


def _checked_term(method: str, term: str) -> str:
    if not term.strip():
        raise InvalidRequest(f"{method} requires a non-empty searchTerm")
    return term


def _page_size(limit: int | None) -> int:
    # As the reference: 0 is a page of one, not an error.
    return min(max(limit if limit is not None else DEFAULT_LIST_LIMIT, 1), MAX_LIST_LIMIT)


async def search_threads(
    threads: ThreadManager,
    *,
    term: str,
    cursor: str | None,
    limit: int | None,
    sort_key: Literal["created_at", "updated_at", "recency_at"] | None,
    sort_direction: Literal["asc", "desc"] | None,
    archived: bool | None,
    source_kinds: list[str] | None,
) -> tuple[list[SearchHit], str | None, str | None]:
    """One page of the threads with a stored message containing ``term`` (case-insensitive),
    newest first unless asked otherwise; the hits, the next and the backwards cursor."""
    _checked_term("thread/search", term)
    query = ThreadQuery(
        sort_key="updated_at" if sort_key in ("updated_at", "recency_at") else "created_at",
        descending=sort_direction != "asc",
        cursor=cursor,
        limit=_page_size(limit),
        archived=bool(archived),
        source_kinds=list(source_kinds) if source_kinds else list(DEFAULT_SOURCE_KINDS),
        content_term=term,
    )
    try:
        page, snippets = await threads.store.search_threads(query)
    except InvalidCursor:
        raise InvalidRequest(f"invalid cursor: {cursor}") from None
    hits = [
        SearchHit(
            threads.to_wire(record, threads.loaded(record.id)),
            _search_snippet(snippets.get(record.id, record.preview), term),
        )
        for record in page.records
    ]
    return hits, page.next_cursor, page.backwards_cursor


async def search_occurrences(
    threads: ThreadManager, *, thread_id: str, term: str, cursor: str | None, limit: int | None
) -> OccurrencePage:
    """One page of the places where the thread's messages contain ``term``, in message order."""
    _checked_term("thread/searchOccurrences", term)
    record, loaded = await threads.read(thread_id)
    from_seq, skip = _decode_cursor(cursor, record.id, term) if cursor is not None else (0, 0)
    size = _page_size(limit)
    # Every matched message holds at least one occurrence, so size + 1 of them (the first maybe
    # partly consumed by the cursor) fill a page and tell whether another follows.
    if loaded is not None and loaded.ephemeral:
        items = _memory_matches(loaded.memory_events, term, from_seq, size + 1)
    elif loaded is not None and not loaded.materialized:
        items = []
    else:
        items = await threads.store.thread_matches(record.id, term, from_seq=from_seq, limit=size + 1)
    data: list[Occurrence] = []
    for item in items:
        for index, (start, end) in enumerate(_matches(item.text, term)):
            if item.seq == from_seq and index < skip:
                continue
            if len(data) == size:
                return OccurrencePage(data, _encode_cursor(record.id, term, item.seq, index))
            data.append(_occurrence(item, start, end))
    return OccurrencePage(data, None)


# ---------------------------------------------------------------------- matching and snippets


def _matches(text: str, term: str) -> list[tuple[int, int]]:
    """Non-overlapping case-insensitive matches of ``term`` in ``text``, as (start, end) indexes."""
    folded, needle = text.casefold(), term.casefold()
    if len(folded) != len(text):
        # Casefolding changed lengths (ß → ss): positions would not map back; lower() keeps them.
        folded, needle = text.lower(), term.lower()
    found: list[tuple[int, int]] = []
    start = folded.find(needle)
    while start >= 0 and needle:
        found.append((start, start + len(needle)))
        start = folded.find(needle, start + len(needle))
    return found


def _window(text: str, start: int, end: int) -> tuple[str, int]:
    """The text around the match at ``start:end`` (``... `` marks a cut); the match's offset in it."""
    left = max(start - SNIPPET_BEFORE, 0)
    right = min(end + SNIPPET_AFTER, len(text))
    prefix = _ELLIPSIS if left > 0 else ""
    suffix = " ..." if right < len(text) else ""
    return prefix + text[left:right] + suffix, len(prefix) + start - left


def _search_snippet(text: str, term: str) -> str:
    """The text around its first match, on one line (whitespace runs become one space)."""
    found = _matches(text, term)
    if not found:
        return _WHITESPACE.sub(" ", text).strip()
    window, _ = _window(text, *found[0])
    return _WHITESPACE.sub(" ", window).strip()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _occurrence(item: MatchedItem, start: int, end: int) -> Occurrence:
    window, offset = _window(item.text, start, end)
    utf16_start = _utf16_len(window[:offset])
    return Occurrence(
        turn_id=item.turn_id,
        turn_seq=item.turn_seq,
        item_id=item.item_id,
        snippet=window,
        start=utf16_start,
        end=utf16_start + _utf16_len(item.text[start:end]),
    )


def _memory_matches(events: list[EventRecord], term: str, from_seq: int, limit: int) -> list[MatchedItem]:
    turn_seqs: dict[str, int] = {}
    found: list[MatchedItem] = []
    for event in events:
        if event.kind == "turn/started" and isinstance(event.payload, dict):
            turn_seqs.setdefault(str(event.payload.get("id")), event.seq)
        entry = search_entry(event.kind, event.payload)
        if entry is None or event.seq < from_seq or not _matches(entry.text, term):
            continue
        found.append(MatchedItem(event.seq, entry.turn_id, turn_seqs.get(entry.turn_id, 0), entry.item_id, entry.text))
        if len(found) == limit:
            break
    return found


# ---------------------------------------------------------------------- the occurrence cursor


def _encode_cursor(thread_id: str, term: str, seq: int, index: int) -> str:
    return json.dumps(
        {"threadId": thread_id, "searchTerm": term, "nextSeq": seq, "nextOccurrenceIndex": index},
        separators=(",", ":"),
    )


def _decode_cursor(cursor: str, thread_id: str, term: str) -> tuple[int, int]:
    """(position, occurrence index) a cursor continues from; it must be for this thread and term."""
    try:
        value = json.loads(cursor)
    except ValueError:
        value = None
    if (
        isinstance(value, dict)
        and value.get("threadId") == thread_id
        and value.get("searchTerm") == term
        and type(value.get("nextSeq")) is int
        and type(value.get("nextOccurrenceIndex")) is int
        and value["nextSeq"] > 0
        and value["nextOccurrenceIndex"] >= 0
    ):
        return value["nextSeq"], value["nextOccurrenceIndex"]
    raise InvalidRequest(f"invalid cursor: {cursor}")
