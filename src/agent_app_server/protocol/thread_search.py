"""Full-text thread search (experimental): ``thread/search`` and ``thread/searchOccurrences``.

Owns: their params and results (``ThreadSearchResult``, ``ThreadSearchOccurrence`` and its UTF-16
``ThreadSearchTextRange``). Registered in :mod:`.registry`'s ``METHOD_TABLE``.
Layer: protocol (imports ``_base``, ``common``, ``methods`` and ``threads``).
"""

# Annotations are evaluated eagerly (no `from __future__ import annotations`): pydantic would
# otherwise compile each annotation string at import.
from typing import Literal

from typing_extensions import TypeAliasType

from ._base import WireModel
from .common import SortDirection, UInt32
from .methods import ThreadSourceKind
from .threads import Thread

__all__ = [
    "ThreadSearchOccurrence",
    "ThreadSearchOccurrencesParams",
    "ThreadSearchOccurrencesResponse",
    "ThreadSearchParams",
    "ThreadSearchResponse",
    "ThreadSearchResult",
    "ThreadSearchSortKey",
    "ThreadSearchTextRange",
]

ThreadSearchSortKey = TypeAliasType("ThreadSearchSortKey", Literal["created_at", "updated_at", "recency_at"])


class ThreadSearchParams(WireModel):
    """Threads whose messages contain ``search_term`` (a case-insensitive literal substring)."""

    search_term: str
    cursor: str | None = None
    limit: UInt32 | None = None
    sort_key: ThreadSearchSortKey | None = None
    sort_direction: SortDirection | None = None
    source_kinds: list[ThreadSourceKind] | None = None
    archived: bool | None = None
    #: Accepted for the reference's clients; every thread here is local to this server.
    current_account_only: bool = False
    #: Accepted for the reference's clients; this server has no threads attached to a parent.
    include_attached_threads: bool = False


class ThreadSearchResult(WireModel):
    thread: Thread
    snippet: str


class ThreadSearchResponse(WireModel):
    data: list[ThreadSearchResult]
    next_cursor: str | None = None
    backwards_cursor: str | None = None


class ThreadSearchOccurrencesParams(WireModel):
    thread_id: str
    search_term: str
    cursor: str | None = None
    limit: UInt32 | None = None


class ThreadSearchTextRange(WireModel):
    """A range of UTF-16 code units: ``start`` inclusive, ``end`` exclusive."""

    start: UInt32
    end: UInt32


class ThreadSearchOccurrence(WireModel):
    turn_id: str
    item_id: str
    snippet: str
    snippet_match_range: ThreadSearchTextRange
    #: An inclusive ``thread/turns/list`` cursor at the occurrence's turn.
    turn_cursor: str


class ThreadSearchOccurrencesResponse(WireModel):
    data: list[ThreadSearchOccurrence]
    next_cursor: str | None = None
