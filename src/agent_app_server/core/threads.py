"""Threads: creation, loading, listing, naming, archiving — the durable conversation container.

Owns: the set of loaded threads, their settings and status, and the mapping between the store's
records and the wire ``Thread``. Emits thread-scoped notifications through an :class:`EventSink`;
who receives them (subscriptions, connections) is the server's business.
Layer: core (imports protocol, rpc, store).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..rpc.errors import InvalidParams
from ..store import EventRecord, InvalidCursor, SectionRecord, ThreadQuery, ThreadRecord, ThreadStore
from .config import Config
from .errors import InvalidCursorError, ThreadNotFound, checked_thread_id
from .history import CONTEXT_KINDS, fold_context, last_turn_interrupted, turn_started_positions
from .journal import Event, ThreadJournal
from .thread_basics import (
    IDLE,
    NO_SECTION,
    ClientIdentity,
    ThreadSettings,
    default_settings,
    new_thread_record,
    wire_thread,
)
from .turn_state import TurnState

if TYPE_CHECKING:
    from ..protocol import Thread
    from .turns import TurnRunner

#: ``thread/list`` page size when the client gives none (the reference's default).
DEFAULT_LIST_LIMIT = 25
MAX_LIST_LIMIT = 1000
MAX_EXCLUDED_IDS = 100

#: Source kinds listed when ``sourceKinds`` is omitted: interactive work, including threads of
#: custom app-server clients (the reference files those under "vscode", so it lists them too).
DEFAULT_SOURCE_KINDS = ("cli", "vscode", "appServer", "unknown")

WireStatus = dict[str, Any]
NOT_LOADED: WireStatus = {"type": "notLoaded"}
SYSTEM_ERROR: WireStatus = {"type": "systemError"}
WAITING_ON_APPROVAL = "waitingOnApproval"


def active_status(*, waiting_on_approval: bool = False) -> WireStatus:
    """``{type: active, activeFlags}``: a turn runs (and may wait for the client's approval)."""
    return {"type": "active", "activeFlags": [WAITING_ON_APPROVAL] if waiting_on_approval else []}


class EventSink(Protocol):
    """Where thread-scoped notifications go (the server fans them out to subscribers)."""

    def emit(self, thread_id: str | None, method: str, params: Any) -> None: ...

    def emit_encoded(self, thread_id: str, method: str, encoded: str) -> None:
        """An already-serialized notification (the streaming hot path)."""
        ...

    async def request(self, thread_id: str, method: str, params: Any, *, notify_resolved: bool = True) -> Any:
        """Ask the thread's clients (approvals, dynamic tool calls); the first answer wins.

        Waits until some client answers (a client that never does blocks only the caller).
        Raises ``RemoteError`` when the answer is an error. ``serverRequest/resolved`` follows
        an answer when ``notify_resolved``, and always when the caller stops waiting.
        """
        ...


@dataclass(slots=True)
class LoadedThread:
    """A thread held in memory: its record, whether the store has it yet, its live status, and
    the state its turns carry (``turn_state``, owned by ``core.turns``)."""

    record: ThreadRecord
    settings: ThreadSettings
    ephemeral: bool = False
    materialized: bool = False
    #: Written by ``TurnEngine.set_status`` while turns run (it also tells subscribers).
    status: WireStatus = field(default_factory=lambda: dict(IDLE))
    #: The event log of an ephemeral thread, which never reaches the store.
    memory_events: list[EventRecord] = field(default_factory=list)
    #: History events on their way to the store (see ``ThreadManager.commit``).
    journal: ThreadJournal = field(default_factory=ThreadJournal)
    turn_state: TurnState = field(default_factory=TurnState)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def active(self) -> TurnRunner | None:
        """The turn running now, if any."""
        return self.turn_state.active

    @active.setter
    def active(self, runner: TurnRunner | None) -> None:
        self.turn_state.active = runner


#: The reference's built-in section (fixed id, as clients know it); it cannot be renamed or deleted.
PINNED_SECTION = SectionRecord("01984de2-8f74-7c91-a3b2-5c5e937cf318", "Pinned", None, 0)


class ThreadManager:
    """All threads of one server process: the loaded ones in memory, the rest in the store."""

    def __init__(self, config: Config, store: ThreadStore, sink: EventSink) -> None:
        self._config = config
        self._store = store
        self._sink = sink
        self._loaded: dict[str, LoadedThread] = {}

    @property
    def config(self) -> Config:
        return self._config

    def reload(self, config: Config) -> None:
        """Threads started from now on use ``config``'s defaults; loaded threads keep theirs."""
        self._config = config

    @property
    def store(self) -> ThreadStore:
        return self._store

    # ------------------------------------------------------------------ lookup

    def loaded(self, thread_id: str) -> LoadedThread | None:
        return self._loaded.get(thread_id)

    def loaded_ids(self) -> list[str]:
        return sorted(self._loaded)

    def loaded_threads(self) -> list[LoadedThread]:
        return list(self._loaded.values())

    def require_loaded(self, thread_id: str) -> LoadedThread:
        thread = self._loaded.get(checked_thread_id(thread_id))
        if thread is None:
            raise InvalidParams(f"thread not loaded: {thread_id}; call thread/resume first")
        return thread

    async def _record(self, thread_id: str) -> tuple[ThreadRecord, LoadedThread | None]:
        canonical = checked_thread_id(thread_id)
        loaded = self._loaded.get(canonical)
        if loaded is not None:
            return loaded.record, loaded
        record = await self._store.get_thread(canonical)
        if record is None:
            raise ThreadNotFound(thread_id)
        return record, None

    # ------------------------------------------------------------------ create

    def default_settings(self, cwd: str | None = None) -> ThreadSettings:
        return default_settings(self._config, cwd)

    def start_thread(
        self,
        client: ClientIdentity,
        settings: ThreadSettings,
        *,
        ephemeral: bool = False,
        record: ThreadRecord | None = None,
    ) -> LoadedThread:
        """A new idle thread, in memory until its first turn (as the reference does); ``record``:
        the one the stdio fast start already answered with (``server.early_thread``)."""
        if record is None:
            record = new_thread_record(client, settings)
        thread = LoadedThread(record=record, settings=settings, ephemeral=ephemeral)
        self._loaded[record.id] = thread
        _preload_model_sdk()
        return thread

    async def materialize(self, thread: LoadedThread) -> None:
        """Write a thread to the store (at its first turn). Ephemeral threads never are."""
        if thread.ephemeral or thread.materialized:
            return
        thread.record.extra["settings"] = thread.settings.to_json()
        await self._store.put_thread(thread.record)
        thread.materialized = True

    # ------------------------------------------------------------------ history writes

    def commit(self, thread: LoadedThread) -> asyncio.Future[None] | None:
        """Start storing the thread's journal; the future resolves once all of it is stored
        (None: nothing is waiting). Announce a stored fact only after that."""
        return thread.journal.commit(lambda events: self._store_events(thread, events))

    async def flush(self, thread: LoadedThread) -> None:
        """Store everything journaled so far; raises the error of a failed write."""
        stored = self.commit(thread)
        if stored is not None:
            await asyncio.wait((stored,))
        failure, thread.journal.failure = thread.journal.failure, None
        if failure is not None:
            raise failure

    async def _store_events(self, thread: LoadedThread, events: list[Event]) -> None:
        """Append to the thread's log in one transaction: the store's for a thread that has one
        (written at its first event), memory for an ephemeral one."""
        if thread.ephemeral:
            base = len(thread.memory_events)
            stamp = time.time_ns() // 1_000_000
            thread.memory_events.extend(
                EventRecord(thread.id, base + offset, kind, payload, stamp)
                for offset, (kind, payload) in enumerate(events, start=1)
            )
            return
        await self.materialize(thread)
        record = thread.record
        record.updated_at = int(time.time())
        await self._store.append_events(
            thread.id, events, thread_updates={"updated_at": record.updated_at, "preview": record.preview}
        )

    # ------------------------------------------------------------------ wire views

    def to_wire(self, record: ThreadRecord, loaded: LoadedThread | None, turns: list[Any] | None = None) -> Thread:
        from ..protocol import Thread

        return Thread.model_validate(
            wire_thread(
                record,
                status=loaded.status if loaded is not None else NOT_LOADED,
                settings=loaded.settings if loaded is not None else None,
                ephemeral=loaded.ephemeral if loaded is not None else False,
                section=self._section_fields(record),
                turns=turns,
            )
        )

    def _section_fields(self, record: ThreadRecord) -> dict[str, Any]:
        membership = record.extra.get("section")
        if not isinstance(membership, dict):
            return NO_SECTION
        section_id = membership.get("id")
        section = PINNED_SECTION if section_id == PINNED_SECTION.id else self._store.sections.get(str(section_id))
        if section is None:
            return NO_SECTION
        return {
            "section": {"id": section.id, "name": section.name, "appearance": section.appearance},
            "sectionEnteredAt": membership.get("enteredAt"),
        }

    async def read(self, thread_id: str) -> tuple[ThreadRecord, LoadedThread | None]:
        return await self._record(thread_id)

    # ------------------------------------------------------------------ list

    async def list_threads(
        self,
        *,
        cursor: str | None,
        limit: int | None,
        sort_key: str | None,
        sort_direction: str | None,
        archived: bool | None,
        model_providers: list[str] | None,
        source_kinds: list[str] | None,
        cwds: list[str] | None,
        search_term: str | None,
        excluded_ids: list[str] | None,
        section_id: str | None = None,
    ) -> tuple[list[Thread], str | None, str | None]:
        if limit is not None and limit < 1:
            raise InvalidParams("limit must be at least 1 (omit it for the default page of 25)")
        effective_limit = min(limit or DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)
        key: Literal["created_at", "updated_at", "section_position"] = "created_at"
        if sort_key in ("updated_at", "recency_at"):
            key = "updated_at"
        elif sort_key == "section_position":
            if section_id is None:
                raise InvalidParams("section-position sorting requires a section filter (sectionId)")
            key = "section_position"
        if excluded_ids is not None and len(excluded_ids) > MAX_EXCLUDED_IDS:
            raise InvalidParams(
                f"excludedThreadIds has {len(excluded_ids)} entries; at most {MAX_EXCLUDED_IDS} are allowed"
            )
        excluded = [checked_thread_id(value) for value in excluded_ids or []]
        query = ThreadQuery(
            sort_key=key,
            # A section's order is top to bottom unless the client asks for the reverse.
            descending=sort_direction == "desc" if key == "section_position" else sort_direction != "asc",
            cursor=cursor,
            limit=effective_limit,
            archived=bool(archived),
            model_providers=model_providers or None,
            source_kinds=list(source_kinds) if source_kinds else list(DEFAULT_SOURCE_KINDS),
            cwds=cwds or None,
            search_term=search_term or None,
            exclude_ids=excluded or None,
            section_id=section_id,
        )
        try:
            page = await self._store.list_threads(query)
        except InvalidCursor:
            raise InvalidCursorError(cursor or "") from None
        threads = [self.to_wire(record, self._loaded.get(record.id)) for record in page.records]
        return threads, page.next_cursor, page.backwards_cursor

    # ------------------------------------------------------------------ mutate

    async def set_name(self, thread_id: str, name: str) -> tuple[str, str]:
        record, loaded = await self._record(thread_id)
        trimmed = name.strip()
        if not trimmed:
            raise InvalidParams("name must not be empty")
        record.name = trimmed
        if loaded is None or loaded.materialized:
            await self._store.update_thread(record.id, name=trimmed)
        return record.id, trimmed

    async def save_extra(self, record: ThreadRecord, loaded: LoadedThread | None) -> None:
        """Store the record's ``extra`` after a change; a loaded thread not written yet keeps it
        in memory until its first turn writes the whole record."""
        if loaded is None or loaded.materialized:
            await self._store.update_thread(record.id, extra=record.extra)

    async def update_git_info(self, thread_id: str, changes: dict[str, str | None]) -> ThreadRecord:
        """Patch the thread's stored Git metadata (wire names: ``sha``, ``branch``, ``originUrl``);
        a None value clears that field."""
        record, loaded = await self._record(thread_id)
        merged = {"sha": None, "branch": None, "originUrl": None, **(record.extra.get("gitInfo") or {}), **changes}
        record.extra["gitInfo"] = merged if any(value is not None for value in merged.values()) else None
        if loaded is None or loaded.materialized:
            await self._store.update_thread(record.id, extra=record.extra)
        return record

    async def archive(self, thread_id: str) -> str:
        record, loaded = await self._record(thread_id)
        if loaded is not None and not loaded.materialized:
            raise InvalidParams(
                f"thread {record.id} has no stored history yet (threads are saved at their first turn); "
                "there is nothing to archive"
            )
        if loaded is not None:
            self.unload(record.id)
        record.archived = True
        record.archived_at = int(time.time())
        await self._store.update_thread(record.id, archived=True, archived_at=record.archived_at)
        return record.id

    async def unarchive(self, thread_id: str) -> ThreadRecord:
        record, _loaded = await self._record(thread_id)
        await self._store.update_thread(record.id, archived=False, archived_at=None)
        record.archived = False
        record.archived_at = None
        return record

    async def delete(self, thread_id: str) -> str:
        """Unload the thread and remove its stored history; its canonical id.

        The caller interrupts a running turn first, so nothing writes to the thread afterwards.
        """
        canonical = checked_thread_id(thread_id)
        was_loaded = canonical in self._loaded
        self.unload(canonical)
        if not await self._store.delete_thread(canonical) and not was_loaded:
            raise InvalidParams(f"no rollout found for thread id {thread_id}")
        return canonical

    # ------------------------------------------------------------------ history

    async def events(self, thread_id: str, kinds: list[str] | None = None) -> list[EventRecord]:
        """A thread's event log, wherever it lives (memory for ephemeral threads)."""
        loaded = self._loaded.get(thread_id)
        if loaded is not None and loaded.ephemeral:
            return [event for event in loaded.memory_events if kinds is None or event.kind in kinds]
        if loaded is not None and not loaded.materialized:
            return []
        return await self._store.read_events(thread_id, kinds=kinds)

    async def resume(self, thread_id: str) -> tuple[LoadedThread, bool]:
        """The loaded thread, loading it from the store if needed; the flag says it was loaded now."""
        canonical = checked_thread_id(thread_id)
        loaded = self._loaded.get(canonical)
        if loaded is not None:
            return loaded, False
        record = await self._store.get_thread(canonical)
        if record is None:
            raise InvalidParams(f"no rollout found for thread id {thread_id}")
        defaults = self.default_settings(record.cwd if os.path.isabs(record.cwd) else None)
        settings = ThreadSettings.from_json(record.extra.get("settings") or {}, defaults)
        # As the reference: a resumed thread runs under the configured sandbox, not the one it
        # was created with, so a restart never silently widens what commands may do.
        settings.sandbox_policy = defaults.sandbox_policy
        thread = LoadedThread(record=record, settings=settings, materialized=True)
        self._loaded[canonical] = thread
        _preload_model_sdk()
        return thread, True

    async def fork(
        self,
        source_id: str,
        client: ClientIdentity,
        settings: ThreadSettings,
        *,
        last_turn_id: str | None,
        ephemeral: bool,
    ) -> LoadedThread:
        """A new thread with a copy of the source's history (through ``last_turn_id``).

        A running source forks as if its turn had been interrupted: its unfinished turn is
        copied without a completion (read back as ``interrupted``) and the fork's next request
        tells the model so, as it does when the copied history ends with an interrupted turn.
        """
        record, loaded = await self._record(source_id)
        events = await self.events(record.id)
        running = loaded is not None and loaded.active is not None
        if last_turn_id is not None:
            positions = turn_started_positions(events)
            if last_turn_id not in positions:
                raise InvalidParams(f"turn not found: {last_turn_id}")
            if running and loaded is not None and loaded.active is not None and loaded.active.turn_id == last_turn_id:
                raise InvalidParams(f"turn {last_turn_id} is still in progress; fork through an earlier turn")
            later = [index for turn, index in positions.items() if index > positions[last_turn_id]]
            events = events[: min(later)] if later else events
            running = False
        fork = self.start_thread(client, settings, ephemeral=ephemeral)
        fork.record.forked_from_id = record.id
        fork.record.name = record.name
        fork.record.preview = record.preview
        fork.turn_state.context = fold_context([event for event in events if event.kind in CONTEXT_KINDS])
        fork.turn_state.abort_note_pending = running or last_turn_interrupted(events)
        copied = [(event.kind, event.payload) for event in events]
        if ephemeral:
            fork.memory_events = [
                EventRecord(fork.id, seq, kind, payload, event.created_at_ms)
                for seq, ((kind, payload), event) in enumerate(zip(copied, events, strict=True), start=1)
            ]
        elif copied:
            await self.materialize(fork)
            await self._store.append_events(fork.id, copied)
        return fork

    async def revert(self, thread: LoadedThread, before_turn_id: str) -> None:
        """Drop ``before_turn_id`` and every later turn from the thread's history."""
        events = await self.events(thread.id)
        positions = turn_started_positions(events)
        if before_turn_id not in positions:
            raise InvalidParams(f"turn not found: {before_turn_id}")
        kept = events[: positions[before_turn_id]]
        thread.turn_state.context = fold_context([event for event in kept if event.kind in CONTEXT_KINDS])
        thread.record.updated_at = int(time.time())
        if thread.ephemeral:
            thread.memory_events = kept
        elif thread.materialized:
            await self._store.replace_events(
                thread.id,
                [(event.kind, event.payload) for event in kept],
                thread_updates={"updated_at": thread.record.updated_at},
            )

    def unload(self, thread_id: str) -> None:
        if self._loaded.pop(thread_id, None) is not None:
            self._sink.emit(thread_id, "thread/status/changed", {"threadId": thread_id, "status": NOT_LOADED})


def _preload_model_sdk() -> None:
    """A turn will soon need the model SDK: import it in the background, starting after the
    current request's answer is written (loading the model layer and the import's share of the
    GIL would otherwise delay the first ``thread/start`` answer of a fresh process)."""
    try:
        asyncio.get_running_loop().call_soon(_start_sdk_preload)
    except RuntimeError:  # no loop: a synchronous caller, nothing to answer first
        _start_sdk_preload()


def _start_sdk_preload() -> None:
    # Imported here, lazily, so that start-up does not load the model layer.
    from .model import preload_sdk_soon

    preload_sdk_soon()
