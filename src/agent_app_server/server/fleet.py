"""Fleet mode: this server as one of many on one PostgreSQL database (``[store] url``).

Owns: the thread leases this server holds while it runs turns (claimed at ``turn/start``, after
the last owner's release when its turn just ended; renewed by a heartbeat, released once the
turn's end is stored), following threads other servers run (their notifications, read from the
shared log in order on each ``NOTIFY``, relayed to this server's subscribers with the owner's
numbers, none twice; a client resuming here is followed from the log's end, or replayed from its
``afterSeq`` first), forwarding ``turn/interrupt`` and
``turn/steer`` to the owner and running the ones forwarded here, sharing server requests
(approvals) so any server's client may answer (the owner takes the first answer), and failover:
a lease that expired is taken by exactly one server, which stores the dead owner's running turn
as interrupted. The store side of all this is ``store.pg_fleet``. See ``docs/fleet.md``.
Layer: server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ..core.thread_basics import IDLE
from ..core.threads import LoadedThread, active_status
from ..rpc import InvalidRequest, RemoteError
from ..store import NotificationLog
from ..store.pg_fleet import (
    COMMANDS_CHANNEL,
    EVENTS_CHANNEL,
    LEASES_CHANNEL,
    REQUESTS_CHANNEL,
    RESULTS_CHANNEL,
    FleetStore,
    LeaseHeld,
    Signal,
)
from .replay import check_after_seq, replay_entries, send_numbered

if TYPE_CHECKING:
    from .app import AppServer, _PendingRequest
    from .connection import Connection

log = logging.getLogger(__name__)

#: The replay log's flush interval in a fleet: other servers see a notification only once it is
#: in the shared log, so this bounds the cross-server latency a notification adds.
FLUSH_INTERVAL_S = 0.005
#: Notifications the shared log keeps per thread: other servers relay a turn from the log, so it
#: must hold a whole long turn's stream (a 20,000-delta answer) even while a follower lags behind.
KEEP_PER_THREAD = 100_000
#: Notifications read from the shared log per step while relaying (or replaying ``afterSeq``).
RELAY_PAGE = 2000
#: Above every notification number: a read "to the end of the log".
_LOG_END = 1 << 62
#: How long a forwarded command waits for the owner before the client is told it did not answer.
COMMAND_TIMEOUT_S = 10.0
#: How long a ``turn/start`` waits for the last owner to release a thread whose turn has ended
#: (it stores and announces the end first, so a client may start the next turn elsewhere sooner).
HANDOVER_WAIT_S = 5.0


class Fleet:
    """One server's part in a fleet; ``app.fleet`` when the store is shared."""

    def __init__(self, app: AppServer, store: FleetStore, notification_log: NotificationLog) -> None:
        self.app = app
        self.store = store
        self.log = notification_log
        #: The writer id of this server's notification log (its own events come back as signals).
        self.log_writer = str(getattr(notification_log, "writer", ""))
        #: Threads whose lease this server holds.
        self.owned: set[str] = set()
        #: Followed thread → the last notification number relayed to this server's subscribers.
        self._cursors: dict[str, int] = {}
        #: Held while reading the log for the followed threads: one reader moves a cursor at a time.
        self._relay_lock = asyncio.Lock()
        self._commands: dict[int, asyncio.Future[tuple[Any, str | None]]] = {}
        #: Shared request id → this server's pending request (its own requests, as owner).
        self._shared: dict[int, _PendingRequest] = {}
        #: Shared request id → the task asking this server's clients (another server's request).
        self._relays: dict[int, asyncio.Task[None]] = {}
        self._signals: asyncio.Queue[Signal] = asyncio.Queue()
        #: Thread → set when another server releases its lease or logs a notification of it (a
        #: ``turn/start`` here waiting to take it over looks again).
        self._lease_watch: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.listening = asyncio.Event()

    @property
    def server_id(self) -> str:
        return self.store.server_id

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.app.replay.flush_interval_s = FLUSH_INTERVAL_S
        self.app.replay.numbers = self._numbers
        self.app.turns.on_finished(self._turn_finished)
        self._tasks = [
            loop.create_task(self._listen(), name="fleet-listen"),
            loop.create_task(self._dispatch(), name="fleet-dispatch"),
            loop.create_task(self._heartbeat(), name="fleet-heartbeat"),
        ]

    async def close(self) -> None:
        for task in [*self._tasks, *self._relays.values(), *self._background]:
            task.cancel()
        for task in [*self._tasks, *self._relays.values(), *self._background]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.store.close()

    def _spawn(self, work: Awaitable[Any], name: str) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet: %s failed", name)

        task = asyncio.get_running_loop().create_task(run(), name=f"fleet-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ ownership

    def _numbers(self, thread_id: str) -> bool:
        """Only the server running a thread numbers its notifications (one counter per thread in
        the fleet); others send theirs (a status on load, a rename) to their own clients unnumbered.
        A thread not stored yet is known to this server alone."""
        if thread_id in self.owned:
            return True
        thread = self.app.threads.loaded(thread_id)
        return thread is not None and not thread.materialized

    async def claim(self, thread: LoadedThread) -> None:
        """Before a turn starts here: hold the thread's lease, and pick the thread up as the store
        has it (another server may have run turns since it was loaded here)."""
        try:
            await self.store.acquire(thread.id)
        except LeaseHeld:
            await self._take_over_when_released(thread.id)
        # What the last owner wrote and this server's clients have not been sent yet goes first:
        # from here on this server numbers the thread's notifications itself.
        async with self._relay_lock:
            if thread.id in self._cursors and self.app.subscribers(thread.id):
                await self._read_and_relay(thread.id, self._cursors[thread.id])
            self.owned.add(thread.id)
            self._cursors.pop(thread.id, None)
        cut = False
        if thread.materialized:
            cut = await self._recover_cut_turn(thread.id, reason="cut")
            record = await self.app.store.get_thread(thread.id)
            if record is not None:
                record.extra["settings"] = thread.settings.to_json()
                thread.record = record
            # The model context is read back from the store at the turn's start.
            thread.turn_state.context = None
        # After a clean hand-over the log has every number the last owner sent (it released the
        # lease only after writing them); after a dead owner, numbering continues past a gap.
        await self.app.replay.reload(thread.id, crashed=cut)

    async def _take_over_when_released(self, thread_id: str) -> None:
        """Another server holds the thread. While its last turn is over (it is storing and
        announcing the end, then releases), wait for the release and take the lease; when it runs
        a turn (stored before announced), or the release does not come, refuse."""
        watch = self._lease_watch.setdefault(thread_id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANDOVER_WAIT_S
        try:
            while True:
                # Cleared before looking: a release or a new turn from now on wakes the wait.
                watch.clear()
                with contextlib.suppress(LeaseHeld):
                    await self.store.acquire(thread_id)
                    return
                page = await self.app.store.list_turns(thread_id, descending=True, limit=1)
                running = bool(page.rows) and page.rows[0].completed is None
                remaining = deadline - loop.time()
                if running or remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watch.wait(), remaining)
        finally:
            self._lease_watch.pop(thread_id, None)
        raise InvalidRequest(
            f"thread {thread_id} is running a turn on another server of the fleet; wait for its "
            "turn/completed, or use turn/steer to add input or turn/interrupt to stop it"
        )

    async def show_running_elsewhere(
        self, thread_id: str, turns: list[dict[str, Any]], loaded: LoadedThread | None
    ) -> None:
        """A thread read or resumed here while another live server runs its turn (it holds the
        lease): that turn is live, not interrupted (as a fold of the stored log would say), and
        the thread, if loaded here, is active."""
        owner = await self.store.holder(thread_id)
        if owner is None or owner == self.server_id:
            return
        if loaded is not None:
            loaded.status = active_status()
        if not turns:
            return
        page = await self.app.store.list_turns(thread_id, descending=True, limit=1)
        running = page.rows[0].turn_id if page.rows and page.rows[0].completed is None else None
        for turn in turns:
            if turn["id"] == running:
                turn["status"] = "inProgress"

    def _turn_finished(self, runner: Any) -> None:
        thread: LoadedThread = runner.thread
        if thread.id in self.owned:
            self._spawn(self._release_after_store(thread), "release")

    async def _release_after_store(self, thread: LoadedThread) -> None:
        # The turn's end must be in the store, and its last notifications (announced once stored)
        # numbered and in the shared log, before another server may pick the thread up.
        with contextlib.suppress(Exception):
            await self.app.threads.flush(thread)
        await self.app.turns.sink.delivered(thread.id)
        await self.app.replay.flush()
        if thread.active is not None:
            return  # a new turn started here meanwhile: the lease stays
        self.owned.discard(thread.id)
        await self.store.release(thread.id)

    async def _heartbeat(self) -> None:
        interval = self.store.lease_s / 3
        while True:
            try:
                held = await self.store.renew()
                lost = {tid for tid in self.owned if tid not in held}
                for thread_id in lost:
                    log.error("fleet: lost the lease on thread %s (was the database unreachable?)", thread_id)
                for thread_id, owner in await self.store.take_expired():
                    await self._recover_cut_turn(thread_id, reason=f"lease of {owner} expired")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet heartbeat failed")
            await asyncio.sleep(interval)

    async def _recover_cut_turn(self, thread_id: str, *, reason: str) -> bool:
        """Store the thread's last turn as interrupted when it never ended (its server died), and
        tell the thread's followers (True). Called only while no live server holds the thread."""
        page = await self.app.store.list_turns(thread_id, descending=True, limit=1)
        if not page.rows or page.rows[0].completed is not None:
            return False
        started = page.rows[0].started
        turn = {
            **started,
            "items": [],
            "itemsView": "summary",
            "status": "interrupted",
            "error": {
                "message": "the server running this turn went away (its lease expired); the turn stopped there. "
                "Completed items are kept; start a new turn to continue.",
                "codexErrorInfo": "other",
                "additionalDetails": None,
            },
            "completedAt": int(time.time()),
            "durationMs": None,
        }
        log.warning("fleet: thread %s: turn %s marked interrupted (%s)", thread_id, turn.get("id"), reason)
        await self.app.store.append_events(thread_id, [("turn/completed", turn)])
        loaded = self.app.threads.loaded(thread_id)
        if loaded is not None and loaded.active is None:
            loaded.turn_state.context = None
            loaded.status = dict(IDLE)
        # Numbered here, as the thread's last words from its dead owner: past a gap, in the log.
        borrowed = thread_id not in self.owned
        self.owned.add(thread_id)
        try:
            await self.app.replay.reload(thread_id, crashed=True)
            self._cursors.pop(thread_id, None)
            self.app.emit(thread_id, "turn/completed", {"threadId": thread_id, "turn": turn})
            self.app.emit(thread_id, "thread/status/changed", {"threadId": thread_id, "status": dict(IDLE)})
            await self.app.replay.flush()
        finally:
            if borrowed:
                self.owned.discard(thread_id)
        return True

    # ------------------------------------------------------------------ commands

    async def forward(self, thread: LoadedThread, kind: str, params: dict[str, Any]) -> tuple[bool, Any]:
        """Send ``kind`` to the server running the thread: (True, its result), or (False, None)
        when no other live server holds the thread (this server handles the request itself)."""
        if thread.active is not None:
            return False, None
        owner = await self.store.holder(thread.id)
        if owner is None or owner == self.server_id:
            return False, None
        command_id = await self.store.send_command(owner, thread.id, kind, params)
        future: asyncio.Future[tuple[Any, str | None]] = asyncio.get_running_loop().create_future()
        self._commands[command_id] = future
        try:
            # A result that landed before the future existed is picked up here.
            await self._collect_result(command_id)
            result, error = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        except TimeoutError:
            await self.store.drop_command(command_id)
            raise InvalidRequest(
                f"the server running thread {thread.id} did not answer {kind} within {COMMAND_TIMEOUT_S:g} s; it may "
                f"have gone away: retry once its lease expires (at most {self.store.lease_s:g} s)"
            ) from None
        finally:
            self._commands.pop(command_id, None)
        if error is not None:
            raise InvalidRequest(error)
        return True, result

    async def _collect_result(self, command_id: int) -> None:
        future = self._commands.get(command_id)
        if future is None or future.done():
            return
        done, result, error = await self.store.command_result(command_id)
        if done and not future.done():
            future.set_result((result, error))

    async def _run_commands(self) -> None:
        for command in await self.store.take_commands():
            try:
                result = self._execute(command.thread_id, command.kind, command.params)
            except InvalidRequest as exc:
                await self.store.answer_command(command, error=exc.message)
            except Exception as exc:
                log.exception("fleet: command %s failed", command.kind)
                await self.store.answer_command(command, error=f"{command.kind} failed on the owner: {exc}")
            else:
                await self.store.answer_command(command, result=result)

    def _execute(self, thread_id: str, kind: str, params: dict[str, Any]) -> Any:
        thread = self.app.threads.loaded(thread_id)
        runner = thread.active if thread is not None else None
        expected = params.get("turnId") or params.get("expectedTurnId")
        if runner is None:
            if kind == "turn/interrupt" and not expected:
                return {}
            raise InvalidRequest(f"no active turn to {kind.removeprefix('turn/')}")
        if expected and runner.turn_id != expected:
            raise InvalidRequest(f"expected active turn id {expected} but found {runner.turn_id}")
        if kind == "turn/interrupt":
            runner.report_stream_end()
            if runner.task is not None:
                runner.task.cancel()
            return {}
        if kind == "turn/steer":
            runner.pending_input.append(params["input"])
            return {"turnId": runner.turn_id}
        raise InvalidRequest(f"unknown fleet command {kind}")

    # ------------------------------------------------------------------ server requests

    def share_request(self, pending: _PendingRequest) -> None:
        """An approval (or other server request) asked here: other servers' clients get it too."""
        self._spawn(self._share(pending), "share-request")

    async def _share(self, pending: _PendingRequest) -> None:
        request_id = await self.store.share_request(pending.thread_id, pending.method, pending.params)
        pending.shared_id = request_id
        self._shared[request_id] = pending
        if pending.answer.done():
            await self.request_finished(pending)

    def request_done(self, pending: _PendingRequest) -> None:
        self._spawn(self.request_finished(pending), "request-finished")

    async def request_finished(self, pending: _PendingRequest) -> None:
        """The owner's request got its answer (here or from another server): close it everywhere."""
        request_id = pending.shared_id
        if request_id is None:
            return
        self._shared.pop(request_id, None)
        if pending.answer.done() and not pending.answer.cancelled() and pending.answer.exception() is None:
            await self.store.answer_request(request_id, pending.answer.result())
        await self.store.forget_request(request_id, pending.thread_id)

    async def _sync_requests(self, thread_id: str) -> None:
        rows = await self.store.requests(thread_id)
        present = {row.id for row in rows}
        for row in rows:
            mine = self._shared.get(row.id)
            if mine is not None:
                if row.answered and not mine.answer.done():
                    if row.error is not None:
                        error = row.error if isinstance(row.error, dict) else {}
                        mine.answer.set_exception(
                            RemoteError(int(error.get("code", -32603)), str(error.get("message", "error")))
                        )
                    else:
                        mine.answer.set_result(row.answer)
                continue
            if row.owner == self.server_id or row.answered:
                task = self._relays.pop(row.id, None)
                if task is not None:
                    task.cancel()
                continue
            if row.id not in self._relays and self.app.subscribers(thread_id):
                self._relays[row.id] = asyncio.get_running_loop().create_task(
                    self._relay_request(row.id, thread_id, row.method, row.params), name="fleet-relay-request"
                )
        for request_id in [rid for rid in self._relays if rid not in present]:
            self._relays.pop(request_id).cancel()

    async def _relay_request(self, request_id: int, thread_id: str, method: str, params: Any) -> None:
        try:
            answer = await self.app.request(thread_id, method, params, relayed=True)
        except RemoteError as exc:
            await self.store.answer_request(request_id, error={"code": exc.code, "message": exc.message})
        else:
            await self.store.answer_request(request_id, answer)
        finally:
            self._relays.pop(request_id, None)

    # ------------------------------------------------------------------ following other servers

    async def _listen(self) -> None:
        async for signal in self.store.signals(self.listening):
            self._signals.put_nowait(signal)

    async def _dispatch(self) -> None:
        """One signal at a time, in arrival order: a thread's events are relayed in order."""
        while True:
            signal = await self._signals.get()
            try:
                await self._handle(signal)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("fleet: handling %s failed", signal.channel)

    async def _handle(self, signal: Signal) -> None:
        if signal.channel == EVENTS_CHANNEL:
            thread_id, first, last, writer = signal.payload.split(" ")
            self._wake_lease_watch(thread_id)
            if writer != self.log_writer:
                await self._relay_events(thread_id, int(first), int(last))
        elif signal.channel == COMMANDS_CHANNEL:
            if signal.payload == self.server_id:
                await self._run_commands()
        elif signal.channel == RESULTS_CHANNEL:
            await self._collect_result(int(signal.payload))
        elif signal.channel == REQUESTS_CHANNEL:
            await self._sync_requests(signal.payload)
        elif signal.channel == LEASES_CHANNEL:
            self._wake_lease_watch(signal.payload)
        elif signal.channel == "reconnected":
            await self._run_commands()
            for thread_id in await self.store.open_request_threads():
                await self._sync_requests(thread_id)

    def _wake_lease_watch(self, thread_id: str) -> None:
        watch = self._lease_watch.get(thread_id)
        if watch is not None:
            watch.set()

    async def _relay_events(self, thread_id: str, first: int, last: int) -> None:
        """The log has the thread's notifications up to ``last`` (from ``first``): relay what this
        server's subscribers were not sent yet. Reads go to the end of the log, not just to
        ``last``, so signals that queued up meanwhile find their rows relayed already."""
        async with self._relay_lock:
            if thread_id in self.owned or not self.app.subscribers(thread_id):
                self._cursors.pop(thread_id, None)
                return
            cursor = self._cursors.get(thread_id, first - 1)
            if cursor >= last:
                return
            self._cursors[thread_id] = await self._read_and_relay(thread_id, cursor)

    async def _read_and_relay(self, thread_id: str, cursor: int) -> int:
        """Relay every notification of the thread numbered after ``cursor`` that the log has now;
        the last number relayed. Hold ``_relay_lock``."""
        while True:
            entries = await self.log.read_entries(thread_id, cursor, _LOG_END, RELAY_PAGE)
            if not entries:
                return cursor
            if entries[0][0] > cursor + 1 and (await self.log.info(thread_id)).pruned_upto > cursor:
                log.error(
                    "fleet: relaying thread %s fell %d notifications behind what the shared log keeps",
                    thread_id,
                    entries[0][0] - cursor - 1,
                )
            self._deliver(thread_id, entries)
            cursor = entries[-1][0]

    def follow(self, thread_id: str, from_seq: int) -> None:
        """A client here subscribed to a thread this server does not run: relay the thread's
        notifications numbered after ``from_seq`` (unless they are relayed here already), those
        the log got meanwhile at once."""
        self._cursors.setdefault(thread_id, from_seq)
        cursor = self._cursors[thread_id]
        self._signals.put_nowait(Signal(EVENTS_CHANNEL, f"{thread_id} {cursor + 1} {cursor + 1} follow"))

    def follows(self, thread_id: str) -> bool:
        """Whether the thread's notifications reach this server's clients from the shared log
        (another server numbers them, or will: this one runs no turn of it)."""
        return not self._numbers(thread_id)

    async def check_after_seq(self, thread_id: str, after_seq: int | None) -> int:
        """Refuse an ``afterSeq`` the shared log cannot serve exactly; the log's last number."""
        info = await self.log.info(thread_id)
        if after_seq is not None:
            check_after_seq(thread_id, after_seq, info.last_seq, info.pruned_upto)
        return info.last_seq

    async def replay_to(self, conn: Connection, thread_id: str, after_seq: int) -> None:
        """Send ``conn`` the thread's notifications after ``after_seq`` from the shared log, then
        those relayed meanwhile (held since it subscribed: :meth:`Connection.hold`), then live ones.

        Nothing is missed: the relay reads only what the log had committed, and this reads the log
        until it has nothing more, so it ends at or past every number the relay held; the held
        ones at or below where it ended are skipped, so nothing is sent twice."""
        await replay_entries(
            conn,
            thread_id,
            after_seq,
            read=lambda cursor: self.log.read_entries(thread_id, cursor, _LOG_END, RELAY_PAGE),
            pruned_upto=lambda: self._pruned_upto(thread_id),
        )

    async def _pruned_upto(self, thread_id: str) -> int:
        return (await self.log.info(thread_id)).pruned_upto

    def _deliver(self, thread_id: str, entries: list[tuple[int, str, str]]) -> None:
        subscribers = self.app.subscribers(thread_id)
        for seq, method, encoded in entries:
            if method == "thread/status/changed":
                loaded = self.app.threads.loaded(thread_id)
                if loaded is not None and loaded.active is None:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        loaded.status = json.loads(encoded)["params"]["status"]
            send_numbered(subscribers, thread_id, method, seq, encoded)
