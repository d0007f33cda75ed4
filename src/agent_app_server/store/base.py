"""The store interface: what the core and the server may ask of any backend, and which backend a
location opens.

Owns: :class:`ThreadStore` and :class:`NotificationLog` (abstract), the caller-side conversions
every backend shares (JSON encoding taken as a snapshot at call time, limits, page cursors, the
thread-list query), and the choice between the embedded SQLite files (a path) and a shared
PostgreSQL database (a ``postgresql://`` URL). Backends implement the underscored primitives.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import dataclasses
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import _sections
from ._attachments import Attachment, AttachmentOwner
from ._cursor import decode_cursor, decode_position_cursor, encode_cursor, encode_position_cursor
from ._history import IndexEntry, ItemsView, index_entry
from ._search import MatchedItem, SearchEntry, search_entry
from ._sections import SectionRecord
from .records import (
    EventRecord,
    HistoryAnchor,
    HistoryItem,
    HistoryPage,
    HistoryTurn,
    ThreadPage,
    ThreadQuery,
    ThreadRecord,
)

MAX_PAGE = 1000
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ThreadRecord))
_UPDATABLE: frozenset[str] = frozenset(FIELDS) - {"id"}
_SORT_KEYS = frozenset({"created_at", "updated_at", "section_position"})

#: An event ready for a backend: kind, JSON payload, and what it adds to the history index and to
#: the search index.
EventRow = tuple[str, str, IndexEntry | None, SearchEntry | None]


def is_postgres_url(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class ThreadStore(ABC):
    """An open store. Create it with ``await ThreadStore.open(location)`` and ``await close()`` it.

    Every public write is one transaction; a cancelled caller does not cancel a write that already
    reached the database.
    """

    #: Where the store is (a file path, or the database URL), for messages.
    location: str
    #: Every stored section by id, kept in step with this server's section writes (a small table
    #: that each thread's wire view reads).
    sections: dict[str, SectionRecord]

    @classmethod
    async def open(cls, location: Path | str) -> ThreadStore:
        """Open the SQLite file at a path, or the PostgreSQL database a ``postgresql://`` URL names,
        creating or migrating the schema. Raises ``SchemaVersionError`` for a newer store's data."""
        if is_postgres_url(location):
            from .pg_store import PgThreadStore

            return await PgThreadStore.open(location)
        from .thread_store import SqliteThreadStore

        return await SqliteThreadStore.open(Path(location))

    @abstractmethod
    async def close(self) -> None:
        """Finish queued work, then close. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- threads -------------------------------------------------------------------------------

    async def put_thread(self, record: ThreadRecord) -> None:
        """Insert the thread, or overwrite every field of an existing one (its events are kept)."""
        await self._put_thread(thread_params(record))

    @abstractmethod
    async def get_thread(self, thread_id: str) -> ThreadRecord | None: ...

    async def get_threads(self, thread_ids: list[str]) -> dict[str, ThreadRecord]:
        """The threads that exist among ``thread_ids``, keyed by id (missing ids are left out)."""
        if not thread_ids:
            return {}
        return await self._get_threads(list(thread_ids))

    async def update_thread(self, thread_id: str, **fields: Any) -> bool:
        """Set the given fields; False if there is no such thread. Unknown names raise TypeError."""
        return await self._update_thread(thread_id, update_columns(fields))

    @abstractmethod
    async def delete_thread(self, thread_id: str) -> bool:
        """Remove the thread and its events; False if there was no such thread."""

    async def list_threads(self, query: ThreadQuery) -> ThreadPage:
        """One page in (sort value, id) order; raises ``InvalidCursor`` for a cursor that does not parse."""
        if query.content_term:
            raise ValueError("a query with a content_term is a search: use search_threads")
        return self.page(query, await self._fetch_threads(query))

    @abstractmethod
    async def search_threads(self, query: ThreadQuery) -> tuple[ThreadPage, dict[str, str]]:
        """The page of ``list_threads`` for a query with a ``content_term``, and for each of its
        threads the text of its first message containing the term."""

    @abstractmethod
    async def thread_matches(self, thread_id: str, term: str, *, from_seq: int, limit: int) -> list[MatchedItem]:
        """The thread's stored messages containing ``term`` (case-insensitive) from position
        ``from_seq`` on, in order, at most ``limit``."""

    def page(self, query: ThreadQuery, rows: list[ThreadRecord]) -> ThreadPage:
        """A page of the rows a list statement fetched (one beyond the page tells if more follow)."""
        limit = clamp_limit(query.limit)
        records = rows[:limit]
        if not records:
            return ThreadPage(records=[], next_cursor=None, backwards_cursor=None)
        sort_key = query.sort_key

        def cursor_of(record: ThreadRecord) -> str:
            if sort_key == "section_position":
                return encode_position_cursor(float(record.extra[_sections.MEMBERSHIP_KEY]["position"]), record.id)
            return encode_cursor(getattr(record, sort_key), record.id)

        next_cursor = cursor_of(records[-1]) if len(rows) > limit else None
        return ThreadPage(records=records, next_cursor=next_cursor, backwards_cursor=cursor_of(records[0]))

    # -- events --------------------------------------------------------------------------------

    async def append_events(
        self,
        thread_id: str,
        events: list[tuple[str, Any]],
        *,
        thread_updates: dict[str, Any] | None = None,
    ) -> list[int]:
        """Append ``(kind, payload)`` events and apply ``thread_updates`` in one transaction.

        Returns the new events' seqs. Raises ``ThreadNotFound`` if the thread does not exist.
        """
        rows = event_rows(events)
        return await self._append_events(thread_id, rows, now_ms(), update_columns(thread_updates or {}))

    async def read_events(
        self,
        thread_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        kinds: list[str] | None = None,
    ) -> list[EventRecord]:
        """Events with seq > ``after_seq`` in seq order, at most ``limit``, of ``kinds`` if non-empty."""
        return await self._read_events(thread_id, after_seq, None if limit is None else max(limit, 0), kinds or None)

    @abstractmethod
    async def last_seq(self, thread_id: str) -> int:
        """The thread's highest seq, 0 if it has no events (or does not exist)."""

    async def replace_events(
        self,
        thread_id: str,
        events: list[tuple[str, Any]],
        *,
        thread_updates: dict[str, Any] | None = None,
    ) -> None:
        """Atomically rewrite the thread's log (seqs restart at 1), with optional thread updates.

        Raises ``ThreadNotFound`` if the thread does not exist.
        """
        rows = event_rows(events)
        await self._replace_events(thread_id, rows, now_ms(), update_columns(thread_updates or {}))

    # -- history pages -------------------------------------------------------------------------

    async def list_turns(
        self,
        thread_id: str,
        *,
        anchor: HistoryAnchor | None = None,
        descending: bool = False,
        limit: int = 25,
        items: ItemsView = "none",
        summary: tuple[str, str] = ("", ""),
    ) -> HistoryPage[HistoryTurn]:
        """One page of turns from ``anchor`` in the given direction, in O(page) reads.

        ``items="summary"`` gives each turn the first item of type ``summary[0]`` and the last of
        type ``summary[1]``. Raises ``AnchorNotFound`` when the anchor's turn is not at its position.
        """
        return await self._list_turns(thread_id, anchor, descending, clamp_limit(limit), items, summary)

    async def list_items(
        self,
        thread_id: str,
        *,
        turn_id: str | None = None,
        anchor: HistoryAnchor | None = None,
        descending: bool = False,
        limit: int = 25,
    ) -> HistoryPage[HistoryItem]:
        """One page of completed items (of one turn, or of the whole thread) from ``anchor``.

        Raises ``AnchorNotFound`` when the anchor's item is not at its position.
        """
        return await self._list_items(thread_id, turn_id, anchor, descending, clamp_limit(limit))

    @abstractmethod
    async def find_turn(self, thread_id: str, turn_id: str) -> int | None:
        """The position (``turn/started`` seq) of a turn, None if the thread has no such turn."""

    @abstractmethod
    async def find_item(self, thread_id: str, turn_id: str, item_id: str) -> int | None:
        """The position of the first item ``item_id`` of turn ``turn_id``, None if there is none."""

    @abstractmethod
    async def history_heads(self, thread_id: str) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        """Inclusive anchors at the thread's newest turn and newest item."""

    # -- sections ------------------------------------------------------------------------------

    async def put_section(self, section: SectionRecord) -> None:
        await self._put_section(section)
        self.sections[section.id] = section

    async def delete_section(self, section_id: str) -> list[str]:
        """Delete the section and take its stored threads out of it; their ids."""
        members = await self._delete_section(section_id)
        self.sections.pop(section_id, None)
        return members

    @abstractmethod
    async def set_section_positions(self, positions: dict[str, float]) -> None: ...

    @abstractmethod
    async def section_positions(self, section_id: str) -> dict[str, float]:
        """Stored thread id → position within the section."""

    # -- attachments ---------------------------------------------------------------------------

    @abstractmethod
    async def add_attachment(self, thread_id: str, candidate: Attachment) -> tuple[Attachment, bool]:
        """The thread's attachment with ``candidate``'s identity, stored now if new (the flag)."""

    @abstractmethod
    async def remove_attachment(self, thread_id: str, attachment_type: str, identity_key: str) -> str | None: ...

    async def list_attachments(self, thread_id: str, cursor: str | None, limit: int) -> tuple[list[Attachment], bool]:
        """Raises ``InvalidCursor`` for a cursor that is not an attachment of this thread."""
        return await self._list_attachments(thread_id, cursor, clamp_limit(limit))

    async def attachment_owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int
    ) -> tuple[list[AttachmentOwner], bool]:
        return await self._attachment_owners(attachment_type, identity_key, archived, cursor, clamp_limit(limit))

    # -- the backend's primitives (arguments already converted) ---------------------------------

    @abstractmethod
    async def _put_thread(self, params: tuple[Any, ...]) -> None: ...

    @abstractmethod
    async def _get_threads(self, thread_ids: list[str]) -> dict[str, ThreadRecord]: ...

    @abstractmethod
    async def _update_thread(self, thread_id: str, columns: dict[str, Any]) -> bool: ...

    @abstractmethod
    async def _fetch_threads(self, query: ThreadQuery) -> list[ThreadRecord]:
        """Up to one row beyond the page (see :func:`list_sql`)."""

    @abstractmethod
    async def _append_events(
        self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]
    ) -> list[int]: ...

    @abstractmethod
    async def _read_events(
        self, thread_id: str, after_seq: int, limit: int | None, kinds: list[str] | None
    ) -> list[EventRecord]: ...

    @abstractmethod
    async def _replace_events(
        self, thread_id: str, rows: list[EventRow], now_ms: int, columns: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    async def _list_turns(
        self,
        thread_id: str,
        anchor: HistoryAnchor | None,
        descending: bool,
        limit: int,
        items: ItemsView,
        summary: tuple[str, str],
    ) -> HistoryPage[HistoryTurn]: ...

    @abstractmethod
    async def _list_items(
        self, thread_id: str, turn_id: str | None, anchor: HistoryAnchor | None, descending: bool, limit: int
    ) -> HistoryPage[HistoryItem]: ...

    @abstractmethod
    async def _put_section(self, section: SectionRecord) -> None: ...

    @abstractmethod
    async def _delete_section(self, section_id: str) -> list[str]: ...

    @abstractmethod
    async def _list_attachments(
        self, thread_id: str, cursor: str | None, limit: int
    ) -> tuple[list[Attachment], bool]: ...

    @abstractmethod
    async def _attachment_owners(
        self, attachment_type: str, identity_key: str, archived: bool | None, cursor: str | None, limit: int
    ) -> tuple[list[AttachmentOwner], bool]: ...


# -- the notification replay log -----------------------------------------------------------------

DEFAULT_KEEP_PER_THREAD = 10_000
DEFAULT_MAX_AGE_S = 7 * 24 * 3600

#: (thread id, seq, method, encoded message, created at ms)
LogRow = tuple[str, int, str, str, int]


@dataclass(frozen=True, slots=True)
class LoggedNotification:
    seq: int
    method: str
    message: str


@dataclass(frozen=True, slots=True)
class ThreadLogInfo:
    """``last_seq``: highest number written for the thread; ``pruned_upto``: every notification
    numbered at or below it is gone (0 when nothing was pruned); ``crashed``: the last writer of
    the thread's notifications stopped without closing the log, so what it sent in its last
    moments may be missing and numbering must continue past a gap."""

    last_seq: int = 0
    pruned_upto: int = 0
    crashed: bool = False


def checked_keep_per_thread(keep_per_thread: int) -> int:
    """A notification log's per-thread bound, as every backend's ``open`` takes it."""
    if keep_per_thread < 1:
        raise ValueError(f"keep_per_thread must be at least 1, got {keep_per_thread}")
    return keep_per_thread


class NotificationLog(ABC):
    """Every thread-scoped notification, by thread and number, bounded per thread and by age.

    Open with ``await NotificationLog.open(location)``; ``await close()`` marks a clean shutdown.
    """

    keep_per_thread: int
    max_age_s: float

    @classmethod
    async def open(
        cls,
        location: Path | str,
        *,
        keep_per_thread: int = DEFAULT_KEEP_PER_THREAD,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> NotificationLog:
        """The SQLite file at a path, or the tables of the PostgreSQL database a URL names."""
        if is_postgres_url(location):
            from .pg_replay_log import PgNotificationLog

            return await PgNotificationLog.open(location, keep_per_thread=keep_per_thread, max_age_s=max_age_s)
        from .replay_log import SqliteNotificationLog

        return await SqliteNotificationLog.open(Path(location), keep_per_thread=keep_per_thread, max_age_s=max_age_s)

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def info(self, thread_id: str) -> ThreadLogInfo: ...

    async def append(self, rows: Sequence[LogRow]) -> dict[str, int]:
        """Write ``rows`` (one transaction) and prune threads past their bound.

        Returns ``pruned_upto`` for each thread whose oldest notifications were pruned now.
        """
        if not rows:
            return {}
        return await self._append(list(rows))

    @abstractmethod
    async def read(self, thread_id: str, after_seq: int, before_seq: int, limit: int) -> list[LoggedNotification]:
        """Notifications with ``after_seq < seq < before_seq``, oldest first, at most ``limit``."""

    async def read_entries(
        self, thread_id: str, after_seq: int, before_seq: int, limit: int
    ) -> list[tuple[int, str, str]]:
        """:meth:`read` as ``(seq, method, message)`` tuples: what relaying and replaying use (a
        log may build them without an object per notification). A short page is not the end:
        only an empty one is."""
        return [(row.seq, row.method, row.message) for row in await self.read(thread_id, after_seq, before_seq, limit)]

    @abstractmethod
    async def delete_thread(self, thread_id: str) -> None:
        """Remove every notification of the thread and its counter (a deleted thread)."""

    async def prune_expired(self) -> dict[str, int]:
        cutoff_ms = int((time.time() - self.max_age_s) * 1000)
        return await self._prune_older_than(cutoff_ms)

    @abstractmethod
    async def _append(self, rows: list[LogRow]) -> dict[str, int]: ...

    @abstractmethod
    async def _prune_older_than(self, cutoff_ms: int) -> dict[str, int]: ...


def last_seqs(rows: Sequence[LogRow]) -> dict[str, int]:
    """The highest number per thread among ``rows``."""
    last: dict[str, int] = {}
    for thread_id, seq, _method, _message, _ms in rows:
        if seq > last.get(thread_id, 0):
            last[thread_id] = seq
    return last


def needs_pruning(last_seq: int, floor: int, keep: int) -> bool:
    # Numbers are dense within one writer's run, so this bounds the row count cheaply; prune in
    # batches of a quarter of the bound rather than on every write.
    return last_seq - floor > keep + keep // 4


# -- caller-side conversions (run on the event loop) ---------------------------------------------


def dumps(value: Any) -> str:
    # allow_nan=False: NaN/Infinity are not JSON, and a stored blob must be readable by any tool.
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def title_cf(name: str | None, preview: str) -> str:
    return (name or preview).casefold()


def _column_value(name: str, value: Any) -> Any:
    if name in ("source", "extra"):
        return dumps(value)
    if name == "archived":
        return int(bool(value))
    return value


def thread_params(record: ThreadRecord) -> tuple[Any, ...]:
    """Every field in ``FIELDS`` order, then the casefolded title."""
    values = [_column_value(name, getattr(record, name)) for name in FIELDS]
    return (*values, title_cf(record.name, record.preview))


def update_columns(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - _UPDATABLE)
    if unknown:
        raise TypeError(f"unknown or read-only thread field(s): {', '.join(unknown)}")
    return {name: _column_value(name, value) for name, value in fields.items()}


def event_rows(events: Sequence[tuple[str, Any]]) -> list[EventRow]:
    return [(kind, dumps(payload), index_entry(kind, payload), search_entry(kind, payload)) for kind, payload in events]


def clamp_limit(limit: int) -> int:
    return min(max(limit, 1), MAX_PAGE)


def record_from_row(row: Sequence[Any]) -> ThreadRecord:
    """A ``ThreadRecord`` from a row of the ``FIELDS`` columns."""
    values = dict(zip(FIELDS, row, strict=True))
    values["source"] = json.loads(values["source"])
    values["extra"] = json.loads(values["extra"])
    values["archived"] = bool(values["archived"])
    return ThreadRecord(**values)


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the backends' SQL for the thread list."""

    #: The parameter placeholder.
    param: str
    #: ``column IN (list parameter)`` for one bound list value (the value from ``in_value``).
    in_list: Callable[[str], str]
    in_value: Callable[[list[str]], Any]
    #: "the first argument contains the second" (substring test).
    contains: Callable[[str, str], str]
    section_id_sql: str
    section_position_sql: str


def list_sql(
    query: ThreadQuery, dialect: Dialect, content_clause: tuple[str, list[Any]] | None = None
) -> tuple[str, list[Any]]:
    """The thread-list statement: one row beyond the page tells whether a next page exists
    without a COUNT. ``content_clause``: the full-text condition (and parameters) of a search."""
    p = dialect.param
    sort_key = query.sort_key
    if sort_key not in _SORT_KEYS:
        raise ValueError(f"unsupported sort key: {sort_key!r}")
    order, after = ("DESC", "<") if query.descending else ("ASC", ">")
    where = [f"archived = {p}"]
    params: list[Any] = [int(query.archived)]
    if query.section_id is not None:
        where.append(f"{dialect.section_id_sql} = {p}")
        params.append(query.section_id)
    order_by = dialect.section_position_sql if sort_key == "section_position" else sort_key
    if sort_key == "section_position" and query.section_id is None:
        raise ValueError("the section_position sort needs a section_id filter")
    if query.cursor is not None:
        where.append(f"({order_by}, id) {after} ({p}, {p})")
        decode = decode_position_cursor if sort_key == "section_position" else decode_cursor
        params.extend(decode(query.cursor))
    for column, values in (
        ("model_provider", query.model_providers),
        ("source_kind", query.source_kinds),
        ("cwd", query.cwds),
    ):
        if values:
            where.append(dialect.in_list(column))
            params.append(dialect.in_value(list(values)))
    if query.search_term:
        where.append(dialect.contains("title_cf", p))
        params.append(query.search_term.casefold())
    if content_clause is not None:
        where.append(content_clause[0])
        params.extend(content_clause[1])
    if query.exclude_ids:
        where.append(f"NOT {dialect.in_list('id')}")
        params.append(dialect.in_value(list(query.exclude_ids)))
    params.append(clamp_limit(query.limit) + 1)
    columns = ", ".join(FIELDS)
    sql = f"SELECT {columns} FROM threads WHERE {' AND '.join(where)} ORDER BY {order_by} {order}, id {order} LIMIT {p}"
    return sql, params
