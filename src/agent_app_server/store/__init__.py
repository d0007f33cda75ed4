"""Persistent threads and their per-thread append-only event logs: embedded SQLite (WAL) by
default, or a PostgreSQL database shared by a fleet of servers (``ThreadStore.open(url)``).

Owns: everything durable about threads. Layering: the store imports only the standard library
(the PostgreSQL backend's ``pg_*`` modules also its driver, loaded only for a ``postgresql://``
location); it never imports the protocol, transport, rpc, core or server packages. It stores plain fields and
JSON blobs; the core maps them to and from wire types.
"""

from ._attachments import Attachment, AttachmentOwner
from ._history import ItemsView, MemoryHistory
from ._schema import SCHEMA_VERSION
from ._search import MatchedItem, SearchEntry, search_entry
from ._sections import SectionRecord
from .base import LoggedNotification, NotificationLog, SearchUnavailable, ThreadLogInfo, ThreadStore, is_postgres_url
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
    "SearchUnavailable",
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
