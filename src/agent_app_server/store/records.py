"""The plain values the store reads and writes, and its errors.

Owns: the record/query dataclasses shared by the store and its callers. Imports only the standard
library: these are storage shapes, not wire types (the core maps them to and from the protocol).
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

#: Sort keys ``list_threads`` understands; anything else is a caller bug.
SortKey = Literal["created_at", "updated_at", "section_position"]


@dataclass(slots=True)
class ThreadRecord:
    """One thread's metadata. Times are Unix seconds, like the reference's ``createdAt``."""

    id: str
    created_at: int
    updated_at: int
    cwd: str
    model_provider: str
    source_kind: str
    #: The wire JSON value of the thread's SessionSource (e.g. ``"vscode"`` or ``{"custom": "x"}``).
    source: Any
    originator: str | None
    #: When set (non-empty) the name is the thread's title; otherwise the preview is.
    name: str | None = None
    preview: str = ""
    archived: bool = False
    archived_at: int | None = None
    model: str | None = None
    reasoning_effort: str | None = None
    cli_version: str = ""
    forked_from_id: str | None = None
    #: Any other JSON the core wants to persist (git info, thread settings).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ThreadQuery:
    """A ``list_threads`` request. An empty filter list means "no filter", like ``None``."""

    sort_key: SortKey = "created_at"
    descending: bool = True
    cursor: str | None = None
    #: Callers validate; the store clamps to [1, 1000] so a bad value cannot scan everything.
    limit: int = 25
    archived: bool = False
    model_providers: list[str] | None = None
    #: The store applies no default here: the "interactive sources" default is the caller's policy.
    source_kinds: list[str] | None = None
    cwds: list[str] | None = None
    #: Case-insensitive (``str.casefold``) substring of the title: name if set, else preview.
    search_term: str | None = None
    #: Case-insensitive substring of one of the thread's stored messages (``_search.py``); only
    #: ``search_threads`` takes it.
    content_term: str | None = None
    exclude_ids: list[str] | None = None
    #: Only threads in this section (see ``_sections``); required by the ``section_position`` sort.
    section_id: str | None = None


@dataclass(slots=True)
class ThreadPage:
    records: list[ThreadRecord]
    #: Resumes after the last record in the same direction; ``None`` when there are no more.
    next_cursor: str | None
    #: The first record's position: with the opposite direction it yields the records before the page.
    backwards_cursor: str | None


@dataclass(slots=True)
class EventRecord:
    thread_id: str
    #: 1, 2, 3 … per thread, without gaps (``replace_events`` restarts at 1).
    seq: int
    kind: str
    payload: Any
    created_at_ms: int


@dataclass(slots=True, frozen=True)
class HistoryAnchor:
    """A position in a thread's history: the seq of a turn's ``turn/started`` event or of an item's
    ``item/completed`` event, and the id of that turn or item (checked, so a stale position is refused).

    An inclusive anchor's page starts with the anchored turn or item; an exclusive one right after it.
    """

    seq: int
    key: str
    inclusive: bool


@dataclass(slots=True)
class HistoryItem:
    seq: int
    turn_id: str
    item_id: str
    #: The item as logged (the wire ThreadItem JSON).
    item: Any
    #: When its event was written to the log (Unix ms).
    created_at_ms: int


@dataclass(slots=True)
class HistoryTurn:
    seq: int
    turn_id: str
    #: The ``turn/started`` payload, and the ``turn/completed`` one once it was logged.
    started: dict[str, Any]
    completed: dict[str, Any] | None
    #: The turn's items as the page asked for them (none, all, or a summary), in log order.
    items: list[HistoryItem]


_Row = TypeVar("_Row")


@dataclass(slots=True)
class HistoryPage(Generic[_Row]):
    rows: list[_Row]
    #: Whether more rows follow the page in its direction.
    more: bool


class AnchorNotFound(LookupError):
    """A history anchor whose turn or item is not (or no longer) at that position in the thread."""

    def __init__(self, anchor: HistoryAnchor) -> None:
        super().__init__(f"no history entry {anchor.key} at position {anchor.seq}")
        self.anchor = anchor


class InvalidCursor(ValueError):
    """A ``list_threads`` cursor that does not parse; the message is the reference's text."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"invalid cursor: {cursor}")
        self.cursor = cursor


class ThreadNotFound(LookupError):
    """A thread id that names no thread (the one such error: the core raises it too, and the server
    answers it as -32602 with this message, the reference's text)."""

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread not found: {thread_id}")
        self.thread_id = thread_id


class SchemaVersionError(RuntimeError):
    """The database file was written by a newer store than this one and cannot be used safely."""


class StoreClosed(RuntimeError):
    """The store was used after ``close()``."""
