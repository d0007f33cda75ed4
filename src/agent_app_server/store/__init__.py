"""Persistent threads and their per-thread append-only event logs: embedded SQLite (WAL) by
default, or a PostgreSQL database shared by a fleet of servers (``ThreadStore.open(url)``).

Owns: everything durable about threads. Layering: the store imports only the standard library
(the PostgreSQL backend's ``pg_*`` modules also its driver, loaded only for a ``postgresql://``
location); it never imports the protocol, transport, rpc, core or server packages. It stores plain fields and
JSON blobs; the core maps them to and from wire types.

Names load on first use (PEP 562), so that ``store.records`` (plain dataclasses) can be imported
without the SQLite machinery: the stdio fast start builds a new thread's record before the server
loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports

if TYPE_CHECKING:
    from ._attachments import (
        Attachment,
        AttachmentOwner,
    )
    from ._history import (
        ItemsView,
        MemoryHistory,
    )
    from ._schema import SCHEMA_VERSION
    from ._search import (
        MatchedItem,
        SearchEntry,
        search_entry,
    )
    from ._sections import SectionRecord
    from .base import (
        LoggedNotification,
        NotificationLog,
        ThreadLogInfo,
        ThreadStore,
        is_postgres_url,
    )
    from .records import (
        AnchorNotFound,
        EventRecord,
        HistoryAnchor,
        HistoryItem,
        HistoryPage,
        HistoryTurn,
        InvalidCursor,
        SchemaVersionError,
        SortKey,
        StoreClosed,
        ThreadNotFound,
        ThreadPage,
        ThreadQuery,
        ThreadRecord,
    )
    from .replay_log import SqliteNotificationLog
    from .thread_store import SqliteThreadStore

#: Public name → the module of this package that defines it.
_MODULE_OF: dict[str, str] = {
    "Attachment": "_attachments",
    "AttachmentOwner": "_attachments",
    "ItemsView": "_history",
    "MemoryHistory": "_history",
    "SCHEMA_VERSION": "_schema",
    "MatchedItem": "_search",
    "SearchEntry": "_search",
    "search_entry": "_search",
    "SectionRecord": "_sections",
    "LoggedNotification": "base",
    "NotificationLog": "base",
    "ThreadLogInfo": "base",
    "ThreadStore": "base",
    "is_postgres_url": "base",
    "AnchorNotFound": "records",
    "EventRecord": "records",
    "HistoryAnchor": "records",
    "HistoryItem": "records",
    "HistoryPage": "records",
    "HistoryTurn": "records",
    "InvalidCursor": "records",
    "SchemaVersionError": "records",
    "SortKey": "records",
    "StoreClosed": "records",
    "ThreadNotFound": "records",
    "ThreadPage": "records",
    "ThreadQuery": "records",
    "ThreadRecord": "records",
    "SqliteNotificationLog": "replay_log",
    "SqliteThreadStore": "thread_store",
}


__getattr__ = lazy_exports(__name__, _MODULE_OF)


__all__ = [
    "SCHEMA_VERSION",
    "AnchorNotFound",
    "Attachment",
    "AttachmentOwner",
    "EventRecord",
    "HistoryAnchor",
    "HistoryItem",
    "HistoryPage",
    "HistoryTurn",
    "InvalidCursor",
    "ItemsView",
    "LoggedNotification",
    "MatchedItem",
    "MemoryHistory",
    "NotificationLog",
    "SchemaVersionError",
    "SearchEntry",
    "SectionRecord",
    "SortKey",
    "SqliteNotificationLog",
    "SqliteThreadStore",
    "StoreClosed",
    "ThreadLogInfo",
    "ThreadNotFound",
    "ThreadPage",
    "ThreadQuery",
    "ThreadRecord",
    "ThreadStore",
    "is_postgres_url",
    "search_entry",
]
