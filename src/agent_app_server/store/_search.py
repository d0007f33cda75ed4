"""The full-text index of stored messages: which threads mention a term (``thread/search``) and
where within one thread (``thread/searchOccurrences``).

Owns: what is searchable (the text of completed ``userMessage`` and ``agentMessage`` items, the
messages a person sees; tool output and reasoning are not), the ``search_items`` rows that hold
it (written in the same transaction as their events, so the index is never behind the log), the
FTS5 trigram index over them, the migration that indexes an existing store, and the matching
queries. Imports only the standard library.

Matching is a case-insensitive literal substring, as the reference's. Which threads match: a
rare term of three characters or more is a trigram phrase query on the FTS5 index (SQLite's
Unicode case folding); a common one, or a shorter one (which trigrams cannot index), is checked
thread by thread in the page's order. Within one thread (snippets, occurrences) its messages are
scanned in order (SQLite's lower() for an ASCII term, ``str.casefold`` otherwise).
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ._history import ITEM_COMPLETED

# ``search_fts`` is an external-content index over ``search_items.text``: the text is stored once,
# and the index keeps only trigrams. Rows are removed from both explicitly (the index needs the
# old text to forget it), never by a cascade.
V4_DDL = """
CREATE TABLE search_items (
    rowid INTEGER PRIMARY KEY,
    thread_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE UNIQUE INDEX search_items_thread ON search_items (thread_id, seq);
CREATE VIRTUAL TABLE search_fts USING fts5 (
    text, content = 'search_items', content_rowid = 'rowid', tokenize = 'trigram'
)
"""

#: The item types whose text is searchable.
_SEARCHED_TYPES = ("userMessage", "agentMessage")
#: Terms shorter than this have no trigram to look up.
_TRIGRAM = 3
#: Matching messages past which a term counts as common (see :func:`_thread_clause`).
_COMMON = 3000
#: The SQL function the scans call (Python's ``str.casefold``, which SQLite's ASCII lower() is not).
_CASEFOLD_FN = "search_casefold"


@dataclass(slots=True, frozen=True)
class SearchEntry:
    """What one ``item/completed`` event adds to the search index."""

    turn_id: str
    item_id: str
    text: str


@dataclass(slots=True, frozen=True)
class MatchedItem:
    """A stored message containing the term: its position (event seq), turn (and that turn's
    position) and text."""

    seq: int
    turn_id: str
    turn_seq: int
    item_id: str
    text: str


def search_entry(kind: str, payload: Any) -> SearchEntry | None:
    """The searchable text of an event, or None (not a completed message, or no text)."""
    if kind != ITEM_COMPLETED or not isinstance(payload, dict):
        return None
    turn_id, item = payload.get("turnId"), payload.get("item")
    if not isinstance(turn_id, str) or not isinstance(item, dict) or item.get("type") not in _SEARCHED_TYPES:
        return None
    item_id = item.get("id")
    if not isinstance(item_id, str):
        return None
    text = item_text(item)
    return SearchEntry(turn_id, item_id, text) if text else None


def item_text(item: dict[str, Any]) -> str:
    """The visible text of a ``userMessage`` (its text inputs, one per line) or ``agentMessage``."""
    if item.get("type") == "agentMessage":
        text = item.get("text")
        return text if isinstance(text, str) else ""
    parts = [
        part["text"]
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    ]
    return "\n".join(parts)


def _fts_phrase(term: str) -> str:
    """``term`` as one FTS5 phrase (every character literal, quotes doubled)."""
    return '"' + term.replace('"', '""') + '"'


def _prepare(conn: sqlite3.Connection) -> None:
    conn.create_function(_CASEFOLD_FN, 1, _casefold, deterministic=True)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# -- writes (worker side, inside the caller's transaction) ----------------------------------------


def add_to_index(conn: sqlite3.Connection, thread_id: str, entries: Iterable[tuple[int, SearchEntry]]) -> None:
    """Index newly inserted events' messages (``(seq, entry)``)."""
    for seq, entry in entries:
        cursor = conn.execute(
            "INSERT INTO search_items (thread_id, seq, turn_id, item_id, text) VALUES (?, ?, ?, ?, ?)",
            (thread_id, seq, entry.turn_id, entry.item_id, entry.text),
        )
        conn.execute("INSERT INTO search_fts (rowid, text) VALUES (?, ?)", (cursor.lastrowid, entry.text))


def clear_index(conn: sqlite3.Connection, thread_id: str) -> None:
    """Forget every indexed message of the thread."""
    conn.execute(
        "INSERT INTO search_fts (search_fts, rowid, text) "
        "SELECT 'delete', rowid, text FROM search_items WHERE thread_id = ?",
        (thread_id,),
    )
    conn.execute("DELETE FROM search_items WHERE thread_id = ?", (thread_id,))


def backfill(conn: sqlite3.Connection) -> None:
    """Index the messages of a store written before the search index existed (migration 3 → 4)."""
    rows = conn.execute(
        "SELECT thread_id, seq, payload FROM events WHERE kind = ? ORDER BY thread_id, seq", (ITEM_COMPLETED,)
    )
    # Row by row: a large store's payloads need not all be in memory at once.
    for thread_id, seq, payload in rows:
        entry = stored_entry(payload)
        if entry is not None:
            add_to_index(conn, thread_id, [(seq, entry)])


def stored_entry(payload: str) -> SearchEntry | None:
    """The searchable text of a stored ``item/completed`` payload (for a backfill), or None;
    a payload that is not JSON indexes nothing rather than stopping the migration."""
    try:
        return search_entry(ITEM_COMPLETED, json.loads(payload))
    except ValueError:
        return None


# -- queries (worker side) ------------------------------------------------------------------------


def _contains(term: str, column: str = "text") -> tuple[str, str]:
    """A condition (and its parameter): ``column`` contains ``term``, case-insensitively. An ASCII
    term is compared with SQLite's own lower(), which runs without a call into Python per row."""
    if term.isascii():
        return f"instr(lower({column}), ?) > 0", term.lower()
    return f"instr({_CASEFOLD_FN}({column}), ?) > 0", term.casefold()


def _thread_clause(conn: sqlite3.Connection, term: str) -> tuple[str, list[Any]]:
    """A WHERE clause on ``threads`` (and its parameters): the thread has a message containing
    ``term``. A term the trigram index finds in fewer than :data:`_COMMON` messages is looked up
    there (a few milliseconds at any store size); a common or short one is checked thread by
    thread in the page's order, which stops as soon as the page is full."""
    if len(term) >= _TRIGRAM:
        phrase = _fts_phrase(term)
        found = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH ? LIMIT ?)", (phrase, _COMMON)
        ).fetchone()[0]
        if found < _COMMON:
            return (
                "id IN (SELECT thread_id FROM search_items WHERE rowid IN "
                "(SELECT rowid FROM search_fts WHERE search_fts MATCH ?))",
                [phrase],
            )
    condition, param = _contains(term)
    return f"EXISTS (SELECT 1 FROM search_items WHERE thread_id = threads.id AND {condition})", [param]


def search_threads(
    conn: sqlite3.Connection, build: Callable[[tuple[str, list[Any]]], tuple[str, list[Any]]], term: str
) -> tuple[list[Any], dict[str, str]]:
    """The rows of a thread page whose SQL ``build`` makes from a WHERE clause (the thread has a
    message containing ``term``), and for each thread the text of its first such message (its
    snippet)."""
    _prepare(conn)
    sql, params = build(_thread_clause(conn, term))
    rows = conn.execute(sql, params).fetchall()
    condition, param = _contains(term)
    snippets: dict[str, str] = {}
    for row in rows:
        thread_id = row[0]
        found = conn.execute(
            f"SELECT text FROM search_items WHERE thread_id = ? AND {condition} ORDER BY seq LIMIT 1",
            (thread_id, param),
        ).fetchone()
        if found is not None:
            snippets[thread_id] = found[0]
    return rows, snippets


def thread_matches(conn: sqlite3.Connection, thread_id: str, term: str, from_seq: int, limit: int) -> list[MatchedItem]:
    """The thread's messages containing ``term`` at or after position ``from_seq``, in order, at
    most ``limit``."""
    _prepare(conn)
    condition, param = _contains(term, "s.text")
    rows = conn.execute(
        "SELECT s.seq, s.turn_id, coalesce(t.started_seq, 0), s.item_id, s.text FROM search_items s "
        "LEFT JOIN history_turns t ON t.thread_id = s.thread_id AND t.turn_id = s.turn_id "
        f"WHERE s.thread_id = ? AND s.seq >= ? AND {condition} ORDER BY s.seq LIMIT ?",
        (thread_id, from_seq, param, limit),
    )
    return [MatchedItem(*row) for row in rows]
