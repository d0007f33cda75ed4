"""Full-text thread search (experimental): ``thread/search`` and ``thread/searchOccurrences``,
translated to and from ``core.thread_search``.

Owns: the wire form of hits and occurrences, including each occurrence's ``turnCursor`` (a
``thread/turns/list`` cursor, whose format is :mod:`.pages`').
Layer: server.
"""

from __future__ import annotations

from ...core import thread_search
from ...protocol.thread_search import (
    ThreadSearchOccurrence,
    ThreadSearchOccurrencesParams,
    ThreadSearchOccurrencesResponse,
    ThreadSearchParams,
    ThreadSearchResponse,
    ThreadSearchResult,
    ThreadSearchTextRange,
)
from ...store import HistoryAnchor
from ..connection import Connection
from . import handler
from .pages import encode_cursor


@handler("thread/search")
async def thread_search_(conn: Connection, params: ThreadSearchParams) -> ThreadSearchResponse:
    hits, next_cursor, backwards_cursor = await thread_search.search_threads(
        conn.app.threads,
        term=params.search_term,
        cursor=params.cursor,
        limit=params.limit,
        sort_key=params.sort_key,
        sort_direction=params.sort_direction,
        archived=params.archived,
        source_kinds=list(params.source_kinds) if params.source_kinds else None,
    )
    return ThreadSearchResponse(
        data=[ThreadSearchResult(thread=hit.thread, snippet=hit.snippet) for hit in hits],
        next_cursor=next_cursor,
        backwards_cursor=backwards_cursor,
    )


@handler("thread/searchOccurrences")
async def thread_search_occurrences(
    conn: Connection, params: ThreadSearchOccurrencesParams
) -> ThreadSearchOccurrencesResponse:
    page = await thread_search.search_occurrences(
        conn.app.threads,
        thread_id=params.thread_id,
        term=params.search_term,
        cursor=params.cursor,
        limit=params.limit,
    )
    return ThreadSearchOccurrencesResponse(
        data=[
            ThreadSearchOccurrence(
                turn_id=found.turn_id,
                item_id=found.item_id,
                snippet=found.snippet,
                snippet_match_range=ThreadSearchTextRange(start=found.start, end=found.end),
                turn_cursor=encode_cursor("turn", HistoryAnchor(found.turn_seq, found.turn_id, True)),
            )
            for found in page.data
        ],
        next_cursor=page.next_cursor,
    )
