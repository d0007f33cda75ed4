"""Persistent threads and their per-thread append-only event logs (embedded SQLite, WAL).

Owns: everything on disk about threads. Layering: the store imports only the standard library;
it never imports the protocol, transport, rpc, core or server packages. It stores plain fields and
JSON blobs; the core maps them to and from wire types.
"""

from ._attachments import Attachment, AttachmentOwner
from ._history import ItemsView, MemoryHistory
from ._schema import SCHEMA_VERSION
from ._search import MatchedItem, SearchEntry, search_entry
from ._sections import SectionRecord
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
from .replay_log import LoggedNotification, NotificationLog, ThreadLogInfo
from .thread_store import ThreadStore

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
    "StoreClosed",
    "ThreadLogInfo",
    "ThreadNotFound",
    "ThreadPage",
    "ThreadQuery",
    "ThreadRecord",
    "ThreadStore",
    "search_entry",
]
