"""The history index: which logged events are turns and items, so that a page of either is a
keyed range read instead of a fold over the whole log.

Owns: recognising the history events the core appends (``turn/started``, ``item/completed``,
``turn/completed``; the names and payload shapes are the core's, see ``core/history.py``), the
``history_turns`` / ``history_items`` rows that mirror them (kept in the same transaction as the
events), the page queries over those rows, and :class:`MemoryHistory`, the same pages over an
in-memory event list (ephemeral threads never reach the database). Imports only the standard
library and this package.

Positions are event seqs: a turn sits at the seq of its ``turn/started`` event, an item at the
seq of its ``item/completed`` event. Seqs of a kept prefix survive ``replace_events`` (a revert
keeps a prefix of the log), so a position stays valid for as long as its event does; every
anchor also names the turn or item it points at, so a position whose event is gone is refused.
Layer: store (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .records import AnchorNotFound, EventRecord, HistoryAnchor, HistoryItem, HistoryPage, HistoryTurn

#: Event kinds as ``core/history.py`` writes them (a store test pins the two sets together).
TURN_STARTED = "turn/started"
ITEM_COMPLETED = "item/completed"
TURN_COMPLETED = "turn/completed"
INDEXED_KINDS = (TURN_STARTED, ITEM_COMPLETED, TURN_COMPLETED)

#: What ``list_turns`` puts in each turn's ``items``: nothing, all of them, or the first item of
#: one type and the last of another (the core asks for the first user message and the final answer).
ItemsView = Literal["none", "all", "summary"]

# One covering index per table beyond the keys: a turn's items in order, with their types and ids,
# serve the per-turn pages, the summary picks and anchor lookups without touching the rows, and
# every index is one more B-tree each append has to update.
V2_DDL = """
CREATE TABLE history_turns (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    started_seq INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    completed_seq INTEGER,
    PRIMARY KEY (thread_id, started_seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX history_turns_id ON history_turns (thread_id, turn_id);
CREATE TABLE history_items (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_type TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
) WITHOUT ROWID;
CREATE INDEX history_items_turn ON history_items (thread_id, turn_id, seq, item_type, item_id);
"""


@dataclass(slots=True, frozen=True)
class IndexEntry:
    """What one history event adds to the index; ``kind`` is the event kind."""

    kind: str
    turn_id: str
    item_id: str = ""
    item_type: str = ""


def index_entry(kind: str, payload: Any) -> IndexEntry | None:
    """The index entry of an event, or None for events the index does not track (or malformed ones)."""
    if kind not in INDEXED_KINDS or not isinstance(payload, dict):
        return None
    if kind == ITEM_COMPLETED:
        turn_id, item = payload.get("turnId"), payload.get("item")
        if not isinstance(turn_id, str) or not isinstance(item, dict):
            return None
        item_id, item_type = item.get("id"), item.get("type")
        if not isinstance(item_id, str) or not isinstance(item_type, str):
            return None
        return IndexEntry(kind, turn_id, item_id, item_type)
    turn_id = payload.get("id")
    return IndexEntry(kind, turn_id) if isinstance(turn_id, str) else None


# -- writes (worker side, inside the caller's transaction) ----------------------------------------


def add_to_index(conn: sqlite3.Connection, thread_id: str, entries: Iterable[tuple[int, IndexEntry]]) -> None:
    """Mirror newly inserted events (``(seq, entry)`` in seq order) into the index tables."""
    started, completed, items = index_rows(thread_id, entries)
    # Starts before completions: a turn that starts and ends within one batch must exist to be
    # completed. A repeated turn/started keeps the turn where it first appeared, as the fold does.
    conn.executemany(
        "INSERT INTO history_turns (thread_id, started_seq, turn_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", started
    )
    conn.executemany(
        "INSERT INTO history_items (thread_id, seq, turn_id, item_id, item_type) VALUES (?, ?, ?, ?, ?)", items
    )
    conn.executemany("UPDATE history_turns SET completed_seq = ? WHERE thread_id = ? AND turn_id = ?", completed)


def index_rows(
    thread_id: str, entries: Iterable[tuple[int, IndexEntry]]
) -> tuple[list[tuple[str, int, str]], list[tuple[int, str, str]], list[tuple[str, int, str, str, str]]]:
    """The parameter rows of the index writes: turns started (thread, seq, turn), turns completed
    (seq, thread, turn) and items (thread, seq, turn, item id, item type)."""
    started: list[tuple[str, int, str]] = []
    completed: list[tuple[int, str, str]] = []
    items: list[tuple[str, int, str, str, str]] = []
    for seq, entry in entries:
        if entry.kind == TURN_STARTED:
            started.append((thread_id, seq, entry.turn_id))
        elif entry.kind == TURN_COMPLETED:
            completed.append((seq, thread_id, entry.turn_id))
        else:
            items.append((thread_id, seq, entry.turn_id, entry.item_id, entry.item_type))
    return started, completed, items


def clear_index(conn: sqlite3.Connection, thread_id: str) -> None:
    conn.execute("DELETE FROM history_turns WHERE thread_id = ?", (thread_id,))
    conn.execute("DELETE FROM history_items WHERE thread_id = ?", (thread_id,))


def backfill(conn: sqlite3.Connection) -> None:
    """Index the history events of a database written before the index existed (migration 1 → 2)."""
    rows = conn.execute(
        "SELECT thread_id, seq, kind, payload FROM events WHERE kind IN (?, ?, ?) ORDER BY thread_id, seq",
        INDEXED_KINDS,
    )
    current: str | None = None
    batch: list[tuple[int, IndexEntry]] = []
    for thread_id, seq, kind, payload in rows.fetchall():
        if thread_id != current:
            if current is not None:
                add_to_index(conn, current, batch)
            current, batch = thread_id, []
        entry = index_entry(kind, json.loads(payload))
        if entry is not None:
            batch.append((seq, entry))
    if current is not None:
        add_to_index(conn, current, batch)


# -- page reads (worker side) ---------------------------------------------------------------------


def bounds(anchor: HistoryAnchor | None, descending: bool, column: str, param: str = "?") -> tuple[str, list[Any]]:
    """The condition (and its parameter) that starts a page at ``anchor``."""
    if anchor is None:
        return "", []
    op = ("<=" if anchor.inclusive else "<") if descending else (">=" if anchor.inclusive else ">")
    return f" AND {column} {op} {param}", [anchor.seq]


def _payloads(conn: sqlite3.Connection, thread_id: str, seqs: list[int]) -> dict[int, tuple[Any, int]]:
    if not seqs:
        return {}
    rows = conn.execute(
        "SELECT seq, payload, created_at_ms FROM events "
        "WHERE thread_id = ? AND seq IN (SELECT value FROM json_each(?))",
        (thread_id, json.dumps(seqs)),
    )
    return {seq: (json.loads(payload), ms) for seq, payload, ms in rows}


def item_of(seq: int, turn_id: str, item_id: str, payload: Any, created_at_ms: int) -> HistoryItem:
    return HistoryItem(seq=seq, turn_id=turn_id, item_id=item_id, item=payload["item"], created_at_ms=created_at_ms)


def list_turns(
    conn: sqlite3.Connection,
    thread_id: str,
    anchor: HistoryAnchor | None,
    descending: bool,
    limit: int,
    items: ItemsView,
    summary: tuple[str, str],
) -> HistoryPage[HistoryTurn]:
    if anchor is not None:
        found = conn.execute(
            "SELECT 1 FROM history_turns WHERE thread_id = ? AND started_seq = ? AND turn_id = ?",
            (thread_id, anchor.seq, anchor.key),
        ).fetchone()
        if found is None:
            raise AnchorNotFound(anchor)
    bound, params = bounds(anchor, descending, "started_seq")
    order = "DESC" if descending else "ASC"
    rows = conn.execute(
        f"SELECT started_seq, turn_id, completed_seq FROM history_turns WHERE thread_id = ?{bound} "
        f"ORDER BY started_seq {order} LIMIT ?",
        (thread_id, *params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    turn_ids = [turn_id for _, turn_id, _ in rows]
    item_rows: list[tuple[int, str, str]] = []
    if items == "all" and turn_ids:
        # INDEXED BY: ordering by seq tempts the planner into walking every item of the thread.
        item_rows = conn.execute(
            "SELECT seq, turn_id, item_id FROM history_items INDEXED BY history_items_turn WHERE thread_id = ? "
            "AND turn_id IN (SELECT value FROM json_each(?))",
            (thread_id, json.dumps(turn_ids)),
        ).fetchall()
        item_rows.sort()
    elif items == "summary" and turn_ids:
        first_type, last_type = summary
        for pick, item_type in (("min", first_type), ("max", last_type)):
            item_rows += conn.execute(
                f"SELECT {pick}(seq), turn_id, item_id FROM history_items INDEXED BY history_items_turn "
                "WHERE thread_id = ? "
                "AND turn_id IN (SELECT value FROM json_each(?)) AND item_type = ? GROUP BY turn_id",
                (thread_id, json.dumps(turn_ids), item_type),
            ).fetchall()
        item_rows.sort()
    payloads = _payloads(conn, thread_id, payload_seqs(rows, item_rows))
    return HistoryPage(assemble_turns(rows, item_rows, payloads), more)


#: A page's turn rows (started seq, turn id, completed seq) and item rows (seq, turn id, item id).
TurnRow = tuple[int, str, int | None]
ItemRow = tuple[int, str, str]


def payload_seqs(rows: Sequence[TurnRow], item_rows: Sequence[ItemRow]) -> list[int]:
    """The events whose payloads a page of turns needs."""
    wanted = [seq for seq, _, _ in rows]
    wanted += [completed for _, _, completed in rows if completed is not None]
    wanted += [seq for seq, _, _ in item_rows]
    return wanted


def assemble_turns(
    rows: Sequence[TurnRow], item_rows: Sequence[ItemRow], payloads: dict[int, tuple[Any, int]]
) -> list[HistoryTurn]:
    """The page's turns from its index rows and the payloads (by seq) they point at."""
    by_turn: dict[str, list[HistoryItem]] = {turn_id: [] for _, turn_id, _ in rows}
    for seq, turn_id, item_id in item_rows:
        payload, ms = payloads[seq]
        by_turn[turn_id].append(item_of(seq, turn_id, item_id, payload, ms))
    return [
        HistoryTurn(
            seq=seq,
            turn_id=turn_id,
            started=payloads[seq][0],
            completed=None if completed is None else payloads[completed][0],
            items=by_turn[turn_id],
        )
        for seq, turn_id, completed in rows
    ]


def list_items(
    conn: sqlite3.Connection,
    thread_id: str,
    turn_id: str | None,
    anchor: HistoryAnchor | None,
    descending: bool,
    limit: int,
) -> HistoryPage[HistoryItem]:
    if anchor is not None:
        found = conn.execute(
            "SELECT 1 FROM history_items WHERE thread_id = ? AND seq = ? AND item_id = ?",
            (thread_id, anchor.seq, anchor.key),
        ).fetchone()
        if found is None:
            raise AnchorNotFound(anchor)
    bound, params = bounds(anchor, descending, "h.seq")
    where = "h.thread_id = ?"
    args: list[Any] = [thread_id]
    if turn_id is not None:
        where += " AND h.turn_id = ?"
        args.append(turn_id)
    order = "DESC" if descending else "ASC"
    rows = conn.execute(
        "SELECT h.seq, h.turn_id, h.item_id, e.payload, e.created_at_ms FROM history_items h "
        f"JOIN events e ON e.thread_id = h.thread_id AND e.seq = h.seq WHERE {where}{bound} "
        f"ORDER BY h.seq {order} LIMIT ?",
        (*args, *params, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    return HistoryPage(
        [
            item_of(seq, row_turn, item_id, json.loads(payload), ms)
            for seq, row_turn, item_id, payload, ms in rows[:limit]
        ],
        more,
    )


def find_turn(conn: sqlite3.Connection, thread_id: str, turn_id: str) -> int | None:
    row = conn.execute(
        "SELECT started_seq FROM history_turns WHERE thread_id = ? AND turn_id = ?", (thread_id, turn_id)
    ).fetchone()
    return None if row is None else int(row[0])


def find_item(conn: sqlite3.Connection, thread_id: str, turn_id: str, item_id: str) -> int | None:
    row = conn.execute(
        "SELECT min(seq) FROM history_items WHERE thread_id = ? AND turn_id = ? AND item_id = ?",
        (thread_id, turn_id, item_id),
    ).fetchone()
    return None if row[0] is None else int(row[0])


def heads(conn: sqlite3.Connection, thread_id: str) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
    """Inclusive anchors at the newest turn and the newest item (None when there are none)."""
    turn = conn.execute(
        "SELECT started_seq, turn_id FROM history_turns WHERE thread_id = ? ORDER BY started_seq DESC LIMIT 1",
        (thread_id,),
    ).fetchone()
    item = conn.execute(
        "SELECT seq, item_id FROM history_items WHERE thread_id = ? ORDER BY seq DESC LIMIT 1", (thread_id,)
    ).fetchone()
    return (
        None if turn is None else HistoryAnchor(turn[0], turn[1], inclusive=True),
        None if item is None else HistoryAnchor(item[0], item[1], inclusive=True),
    )


# -- the same pages over an event list in memory ----------------------------------------------------


class MemoryHistory:
    """Pages over a list of events held in memory, with the store's semantics.

    Built per request from the event list (an ephemeral thread's log lives only in memory and is
    never long-lived), which costs one pass over it; the pages themselves are bisections.
    """

    def __init__(self, events: Sequence[EventRecord]) -> None:
        self._turns: list[list[Any]] = []  # [started_seq, turn_id, started payload, completed payload]
        self._turn_at: dict[str, int] = {}
        self._items: list[HistoryItem] = []
        self._by_turn: dict[str, list[tuple[HistoryItem, str]]] = {}
        for event in events:
            entry = index_entry(event.kind, event.payload)
            if entry is None:
                continue
            if entry.kind == TURN_STARTED:
                if entry.turn_id not in self._turn_at:
                    self._turn_at[entry.turn_id] = len(self._turns)
                    self._turns.append([event.seq, entry.turn_id, event.payload, None])
            elif entry.kind == TURN_COMPLETED:
                index = self._turn_at.get(entry.turn_id)
                if index is not None:
                    self._turns[index][3] = event.payload
            else:
                item = item_of(event.seq, entry.turn_id, entry.item_id, event.payload, event.created_at_ms)
                self._items.append(item)
                self._by_turn.setdefault(entry.turn_id, []).append((item, entry.item_type))
        self._turn_seqs = [turn[0] for turn in self._turns]
        self._item_seqs = [item.seq for item in self._items]

    @staticmethod
    def _window(seqs: list[int], anchor: HistoryAnchor | None, descending: bool) -> range:
        """Indexes into ``seqs`` (ascending) in page order, starting at the anchor."""
        if descending:
            end = len(seqs)
            if anchor is not None:
                end = (bisect.bisect_right if anchor.inclusive else bisect.bisect_left)(seqs, anchor.seq)
            return range(end - 1, -1, -1)
        start = 0
        if anchor is not None:
            start = (bisect.bisect_left if anchor.inclusive else bisect.bisect_right)(seqs, anchor.seq)
        return range(start, len(seqs))

    def list_turns(
        self,
        anchor: HistoryAnchor | None,
        descending: bool,
        limit: int,
        items: ItemsView,
        summary: tuple[str, str],
    ) -> HistoryPage[HistoryTurn]:
        if anchor is not None:
            index = self._turn_at.get(anchor.key)
            if index is None or self._turns[index][0] != anchor.seq:
                raise AnchorNotFound(anchor)
        window = self._window(self._turn_seqs, anchor, descending)
        picked = [self._turns[i] for i in window[: limit + 1]]
        more = len(picked) > limit
        turns = []
        for seq, turn_id, started, completed in picked[:limit]:
            own = self._by_turn.get(turn_id, [])
            if items == "none":
                chosen: list[HistoryItem] = []
            elif items == "all":
                chosen = [item for item, _ in own]
            else:
                first = next((item for item, kind in own if kind == summary[0]), None)
                last = next((item for item, kind in reversed(own) if kind == summary[1]), None)
                chosen = sorted((item for item in (first, last) if item is not None), key=lambda item: item.seq)
            turns.append(HistoryTurn(seq=seq, turn_id=turn_id, started=started, completed=completed, items=chosen))
        return HistoryPage(turns, more)

    def list_items(
        self, turn_id: str | None, anchor: HistoryAnchor | None, descending: bool, limit: int
    ) -> HistoryPage[HistoryItem]:
        if anchor is not None:
            index = bisect.bisect_left(self._item_seqs, anchor.seq)
            at = self._items[index] if index < len(self._items) else None
            if at is None or at.seq != anchor.seq or at.item_id != anchor.key:
                raise AnchorNotFound(anchor)
        page: list[HistoryItem] = []
        for index in self._window(self._item_seqs, anchor, descending):
            item = self._items[index]
            if turn_id is None or item.turn_id == turn_id:
                page.append(item)
                if len(page) > limit:
                    break
        return HistoryPage(page[:limit], len(page) > limit)

    def find_turn(self, turn_id: str) -> int | None:
        index = self._turn_at.get(turn_id)
        return None if index is None else int(self._turns[index][0])

    def find_item(self, turn_id: str, item_id: str) -> int | None:
        return next((item.seq for item, _ in self._by_turn.get(turn_id, []) if item.item_id == item_id), None)

    def heads(self) -> tuple[HistoryAnchor | None, HistoryAnchor | None]:
        turn = self._turns[-1] if self._turns else None
        item = self._items[-1] if self._items else None
        return (
            None if turn is None else HistoryAnchor(turn[0], turn[1], inclusive=True),
            None if item is None else HistoryAnchor(item.seq, item.item_id, inclusive=True),
        )
