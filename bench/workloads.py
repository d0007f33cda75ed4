"""The client workloads, identical for both targets. Each returns ``Cell``s instead of raising, so
one failing metric (or a server that errors or dies) never hides the others."""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_app_server.testing import FakeModelServer, text_reply
from peer import Message, PeerError, RpcError, StdioPeer, memory_mib
from targets import MODEL, Target

CLIENT_INFO = {"name": "agent-bench", "title": "agent-app-server bench", "version": "0.1.0"}
OVERLOADED = -32001
METHOD_NOT_FOUND = -32601


@dataclass
class Counts:
    spawn_warmups: int = 2
    spawn_runs: int = 15
    #: Processes whose first ``thread/start`` waits this long after the handshake (an IDE user).
    paused_runs: int = 5
    pause_s: float = 1.0
    round_trips: int = 2_000
    round_trip_budget_s: float = 120.0
    pipelined: int = 10_000
    straggler_wait_s: float = 10.0
    pipeline_budget_s: float = 120.0
    stored_threads: int = 1_000
    creation_concurrency: int = 2
    creation_batch: int = 50
    creation_budget_s: float = 900.0
    list_calls: int = 50
    stream_deltas: int = 20_000

    @classmethod
    def quick(cls) -> Counts:
        return cls(
            spawn_warmups=1,
            spawn_runs=5,
            paused_runs=3,
            round_trips=300,
            round_trip_budget_s=20.0,
            pipelined=2_000,
            straggler_wait_s=3.0,
            pipeline_budget_s=20.0,
            stored_threads=40,
            creation_budget_s=30.0,
            list_calls=10,
            stream_deltas=2_000,
        )


@dataclass
class Cell:
    value: float | None = None
    error: str | None = None
    #: Shown after the value (e.g. how many requests failed along the way).
    note: str | None = None


Cells = dict[str, Cell]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, PeerError | RpcError) else f"{type(exc).__name__}: {text}"


def _error_cells(keys: list[str], exc: BaseException) -> Cells:
    return {key: Cell(error=_describe(exc)) for key in keys}


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def initialize(peer: StdioPeer) -> Message:
    reply = await peer.call("initialize", {"clientInfo": CLIENT_INFO}, within=60)
    if "error" in reply:
        raise RpcError(reply["error"])
    await peer.notify("initialized")
    return reply


# --------------------------------------------------------------------------- 1. spawn


async def spawn_to_initialize(target: Target, counts: Counts) -> Cells:
    """Start-up as an IDE sees it: spawn → ``initialize`` answered, and (in the same runs) spawn →
    the first ``thread/start`` answered, sent right after the handshake; then, in other processes,
    the round trip of a first ``thread/start`` sent ``pause_s`` after the handshake (a user who
    opens a thread once the window is up: the time a server spends loading after its answer)."""
    home = target.new_home("spawn")
    samples: dict[str, list[float]] = {"spawn_ms": [], "spawn_thread_ms": [], "first_thread_ms": []}
    total = counts.spawn_warmups + counts.spawn_runs
    for run in range(total + counts.paused_runs):
        peer = target.peer(home, f"spawn-{run:02d}")
        try:
            started = time.perf_counter()
            await peer.start()
            await initialize(peer)
            initialized = time.perf_counter()
            if run >= total:
                await asyncio.sleep(counts.pause_s)
            sent = time.perf_counter()
            await peer.request("thread/start", {}, within=60)
            thread_started = time.perf_counter()
        except Exception as exc:
            return _error_cells(list(samples), RuntimeError(f"run {run + 1}: {_describe(exc)}"))
        finally:
            await peer.close()
        if run >= total:
            samples["first_thread_ms"].append((thread_started - sent) * 1000)
        elif run >= counts.spawn_warmups:
            samples["spawn_ms"].append((initialized - started) * 1000)
            samples["spawn_thread_ms"].append((thread_started - started) * 1000)
    return {
        key: Cell(statistics.median(values), note=f"min {min(values):.0f}, max {max(values):.0f}")
        for key, values in samples.items()
    }


# --------------------------------------------------------------------------- 2-4. one session


async def session(target: Target, counts: Counts, wanted: set[str]) -> Cells:
    """One process: idle RSS after initialize, sequential round trips, the pipelined burst, then
    peak RSS (so the peak reflects everything that ran in it)."""
    cells: Cells = {}
    home = target.new_home("session")
    peer = target.peer(home, "session")
    try:
        await peer.start()
        await initialize(peer)
        # After one answered request: a server that answers initialize before it has loaded (ours
        # over stdio) would otherwise be measured half-started.
        await peer.request("thread/loaded/list", {}, within=60)
        cells["idle_rss_mib"] = _memory(peer, "VmRSS")
        if "rtt" in wanted:
            progress(f"[{target.name}] {counts.round_trips} sequential round trips ...")
            cells.update(await _guard(["rtt_median_us", "rtt_p99_us"], lambda: round_trips(peer, counts)))
        if "pipeline" in wanted:
            progress(f"[{target.name}] {counts.pipelined} pipelined requests ...")
            keys = ["pipe_rate", "pipe_results", "pipe_overloaded", "pipe_other_errors", "pipe_unanswered"]
            cells.update(await _guard(keys, lambda: pipelined(peer, counts)))
        cells["peak_rss_mib"] = _memory(peer, "VmHWM")
    except Exception as exc:
        keys = ["idle_rss_mib", "rtt_median_us", "rtt_p99_us", "peak_rss_mib"]
        keys += ["pipe_rate", "pipe_results", "pipe_overloaded", "pipe_other_errors", "pipe_unanswered"]
        for key, cell in _error_cells(keys, exc).items():
            cells.setdefault(key, cell)
    finally:
        await peer.close()
    return cells


def _memory(peer: StdioPeer, field: str) -> Cell:
    try:
        return Cell(memory_mib(peer.pid, field))
    except Exception as exc:
        return Cell(error=_describe(exc))


async def _guard(keys: list[str], run: Callable[[], Awaitable[Cells]]) -> Cells:
    try:
        return await run()
    except Exception as exc:
        return _error_cells(keys, exc)


async def round_trips(peer: StdioPeer, counts: Counts) -> Cells:
    samples: list[float] = []
    errors = 0
    first_error: str | None = None
    deadline = time.monotonic() + counts.round_trip_budget_s
    for _ in range(counts.round_trips):
        if time.monotonic() > deadline:
            break
        started = time.perf_counter_ns()
        reply = await peer.call("thread/loaded/list", {}, within=10)
        elapsed_us = (time.perf_counter_ns() - started) / 1000
        if "error" in reply:
            errors += 1
            first_error = first_error or str(RpcError(reply["error"]))
            continue
        samples.append(elapsed_us)
    if not samples:
        message = f"all {errors} replies were errors: {first_error}" if errors else "no samples"
        return {"rtt_median_us": Cell(error=message), "rtt_p99_us": Cell(error=message)}
    notes = []
    if len(samples) + errors < counts.round_trips:
        notes.append(f"time budget hit after {len(samples) + errors}")
    if errors:
        notes.append(f"{errors} error replies, e.g. {first_error}")
    note = "; ".join(notes) or None
    return {
        "rtt_median_us": Cell(statistics.median(samples), note=note),
        "rtt_p99_us": Cell(percentile(samples, 0.99)),
    }


async def pipelined(peer: StdioPeer, counts: Counts) -> Cells:
    prepared = [peer.prepare("thread/loaded/list", {}) for _ in range(counts.pipelined)]
    futures = [future for _, _, future in prepared]
    burst = b"".join(line for _, line, _ in prepared)
    finished = 0

    def on_done(_future: asyncio.Future[Message]) -> None:
        nonlocal finished
        finished += 1

    for future in futures:
        future.add_done_callback(on_done)
    started = time.perf_counter()
    writer = asyncio.create_task(peer.write(burst))
    hard_deadline = started + counts.pipeline_budget_s
    write_error: str | None = None
    try:
        # Done callbacks run one loop iteration late; polling also bounds the wait for stragglers.
        while finished < len(futures):
            await asyncio.sleep(0.02)
            now = time.perf_counter()
            if writer.done() and (failure := writer.exception()) is not None:
                write_error = _describe(failure)
                break
            quiet_since = max(peer.last_response_at, started)
            if writer.done() and now - quiet_since > counts.straggler_wait_s:
                break
            if now > hard_deadline:
                break
    finally:
        if not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        for request_id, _, future in prepared:
            peer.forget(request_id)
            if not future.done():
                future.cancel()
    results = overloaded = other = 0
    other_example: str | None = None
    lost: str | None = None
    for future in futures:
        if future.cancelled():
            continue
        if (failure := future.exception()) is not None:
            lost = lost or _describe(failure)
            continue
        reply = future.result()
        if "error" in reply:
            code = reply["error"].get("code") if isinstance(reply["error"], dict) else None
            if code == OVERLOADED:
                overloaded += 1
            else:
                other += 1
                other_example = other_example or str(RpcError(reply["error"]))
        else:
            results += 1
    total_answered = results + overloaded + other
    span = peer.last_response_at - started
    rate = Cell(total_answered / span) if total_answered and span > 0 else Cell(error="no replies")
    if write_error:
        rate.note = f"write failed: {write_error}"
    return {
        "pipe_rate": rate,
        "pipe_results": Cell(results),
        "pipe_overloaded": Cell(overloaded),
        "pipe_other_errors": Cell(other, note=other_example),
        "pipe_unanswered": Cell(len(futures) - total_answered, note=lost),
    }


# --------------------------------------------------------------------------- 5. thread/list


class _NoTurns(Exception):
    """``turn/start`` is not implemented (method not found)."""


def _is_method_not_found(error: RpcError) -> bool:
    message = str(error.error.get("message", "")).lower() if isinstance(error.error, dict) else ""
    return error.code == METHOD_NOT_FOUND or "method not found" in message


async def thread_list(target: Target, counts: Counts) -> Cells:
    home = target.new_home("list")
    how: str
    try:
        created = await create_threads_by_turns(target, home, counts)
        how = f"{created} via thread/start + turn/start"
    except _NoTurns as exc:
        home = target.new_home("list-seeded")
        progress(f"[{target.name}] turn/start not implemented ({exc}); seeding the store directly ...")
        try:
            await seed_store(home, target.workspace, counts.stored_threads)
        except Exception as seed_exc:
            return {"list_ms": Cell(error=f"seeding through the store failed: {_describe(seed_exc)}")}
        how = f"{counts.stored_threads} SEEDED through the store API (turn/start: {exc})"
    except Exception as exc:
        return {"list_ms": Cell(error=f"creating threads: {_describe(exc)}"), "list_how": Cell(note="—")}

    # A fresh process: the page is read from what was persisted, not from threads still in memory.
    peer = target.peer(home, "list")
    try:
        await peer.start()
        await initialize(peer)
        samples: list[float] = []
        page_size: int | None = None
        for _ in range(counts.list_calls):
            started = time.perf_counter()
            result = await peer.request("thread/list", {"limit": 25}, within=30)
            samples.append((time.perf_counter() - started) * 1000)
            page_size = len(result.get("data", []))
        listed = await count_listed(peer)
        note = f"page had {page_size}; {listed} listed in total"
        return {"list_ms": Cell(statistics.median(samples), note=note), "list_how": Cell(note=how)}
    except Exception as exc:
        return {"list_ms": Cell(error=_describe(exc)), "list_how": Cell(note=how)}
    finally:
        await peer.close()


async def count_listed(peer: StdioPeer, *, max_pages: int = 100) -> int:
    total = 0
    cursor: str | None = None
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        result = await peer.request("thread/list", params, within=30)
        total += len(result.get("data", []))
        cursor = result.get("nextCursor")
        if not cursor:
            break
    return total


async def create_threads_by_turns(target: Target, home: Path, counts: Counts) -> int:
    """Creates ``stored_threads`` threads, each with one turn answered by the fake model, a few
    in flight at a time. Returns how many turns finished. Raises ``_NoTurns`` when the server
    does not know ``turn/start``.

    The server is restarted every ``creation_batch`` threads because every thread a process has
    started stays loaded: one reference process holding hundreds of threads grew past 500 MiB.
    Concurrency is kept low on purpose: the reference's turns get slower (not faster) with more in
    flight, and each of its turns also gets slower as stored threads accumulate (about 100 ms with
    none, several hundred ms with a few hundred), so this setup dominates a full run's duration.
    """
    progress(f"[{target.name}] creating {counts.stored_threads} threads through turns ...")
    state = _Creation(target, counts)
    batch = 0
    while state.next_index < counts.stored_threads and time.monotonic() < state.deadline:
        batch += 1
        end = min(counts.stored_threads, state.next_index + counts.creation_batch)
        peer = target.peer(home, f"create-{batch:03d}")
        try:
            await state.run_batch(peer, end)
        finally:
            # EOF on stdin lets the server finish persisting before it exits.
            await peer.close(grace=10.0)
        if state.errors:
            break
    finished = state.completed + state.failed
    if state.errors and finished == 0:
        raise state.errors[0]
    if finished < counts.stored_threads:
        reason = _describe(state.errors[0]) if state.errors else "time budget exhausted"
        progress(f"[{target.name}] stopped at {finished} threads: {reason}")
    if state.failed:
        progress(f"[{target.name}] {state.failed} turns did not complete (first: {state.first_failure})")
    return finished


class _Creation:
    def __init__(self, target: Target, counts: Counts) -> None:
        self.target = target
        self.counts = counts
        self.next_index = 0
        self.completed = 0
        self.failed = 0
        self.first_failure: str | None = None
        self.errors: list[BaseException] = []
        self.started = time.monotonic()
        self.deadline = self.started + counts.creation_budget_s

    async def run_batch(self, peer: StdioPeer, end: int) -> None:
        completions: dict[str, asyncio.Future[str]] = {}

        def on_notification(message: Message) -> None:
            if message.get("method") != "turn/completed":
                return
            params = message.get("params") or {}
            future = completions.get(str(params.get("threadId")))
            if future is not None and not future.done():
                future.set_result(str((params.get("turn") or {}).get("status")))

        peer.notification_listeners.append(on_notification)
        await peer.start()
        await initialize(peer)
        stop = asyncio.Event()

        async def one(index: int) -> None:
            result = await peer.request("thread/start", {}, within=60)
            thread_id = result["thread"]["id"]
            done = completions[thread_id] = asyncio.get_running_loop().create_future()
            text = f"bench thread {index}"
            try:
                await peer.request(
                    "turn/start",
                    {"threadId": thread_id, "input": [{"type": "text", "text": text, "text_elements": []}]},
                    within=60,
                )
            except RpcError as exc:
                if _is_method_not_found(exc):
                    raise _NoTurns(str(exc)) from exc
                raise
            status = await asyncio.wait_for(done, 120)
            del completions[thread_id]
            if status == "completed":
                self.completed += 1
            else:
                self.failed += 1
                self.first_failure = self.first_failure or status
            finished = self.completed + self.failed
            if finished % 50 == 0 or finished == self.counts.stored_threads:
                elapsed = time.monotonic() - self.started
                total = self.counts.stored_threads
                progress(f"[{self.target.name}] {finished}/{total} threads with a turn ({elapsed:.1f}s)")

        async def worker() -> None:
            while not stop.is_set() and self.next_index < end and time.monotonic() < self.deadline:
                index = self.next_index
                self.next_index += 1
                try:
                    await one(index)
                except BaseException:
                    stop.set()
                    raise

        workers = [asyncio.create_task(worker()) for _ in range(self.counts.creation_concurrency)]
        outcomes = await asyncio.gather(*workers, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, _NoTurns):
                raise outcome
        self.errors += [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


async def seed_store(home: Path, workspace: Path, count: int) -> None:
    # Imported here: the store is being written concurrently and must not break the other metrics.
    from agent_app_server.store import ThreadRecord, ThreadStore

    try:
        from agent_app_server.core.config import STATE_DIR_NAME
    except Exception:
        STATE_DIR_NAME = "agent-app-server"
    path = home / STATE_DIR_NAME / "state.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    now = int(time.time())
    store = await ThreadStore.open(path)
    try:
        for index in range(count):
            created = now - count + index
            await store.put_thread(
                ThreadRecord(
                    id=_uuid7(created * 1000, rng),
                    created_at=created,
                    updated_at=created,
                    cwd=str(workspace),
                    model_provider="mock",
                    source_kind="vscode",
                    source="vscode",
                    originator=CLIENT_INFO["name"],
                    preview=f"bench thread {index}",
                    model=MODEL,
                    cli_version="0.169.0",
                )
            )
    finally:
        await store.close()


def _uuid7(unix_ms: int, rng: random.Random) -> str:
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


# --------------------------------------------------------------------------- 6. streaming


async def streaming(target: Target, fake: FakeModelServer, counts: Counts) -> Cells:
    """One turn whose reply is ``stream_deltas`` one-character text deltas, after one warm-up turn
    (default script) in the same process and thread. Measured at the client: deltas/s between the
    first and the last ``item/agentMessage/delta``, and ``turn/start`` written → ``turn/completed``
    read. ``fake`` is the shared ``FakeModelServer``: the big script is enqueued right before the
    measured turn, so the warm-up gets the default reply."""
    keys = ["stream_rate", "stream_turn_ms"]
    home = target.new_home("streaming")
    peer = target.peer(home, "streaming")
    state: dict[str, Any] = {"deltas": 0, "first": None, "last": None, "done": None}

    def on_notification(message: Message) -> None:
        method = message.get("method")
        if method == "item/agentMessage/delta":
            now = time.perf_counter()
            state["deltas"] += 1
            if state["first"] is None:
                state["first"] = now
            state["last"] = now
        elif method == "turn/completed":
            done = state["done"]
            if done is not None and not done.done():
                turn = (message.get("params") or {}).get("turn") or {}
                done.set_result((time.perf_counter(), str(turn.get("status"))))

    async def turn(text: str) -> tuple[float, float, str]:
        loop = asyncio.get_running_loop()
        state.update(deltas=0, first=None, last=None, done=loop.create_future())
        started = time.perf_counter()
        await peer.request(
            "turn/start",
            {"threadId": thread_id, "input": [{"type": "text", "text": text, "text_elements": []}]},
            within=60,
        )
        finished, status = await asyncio.wait_for(state["done"], 180)
        if status != "completed":
            raise PeerError(f"turn ended {status}")
        return started, finished, status

    peer.notification_listeners.append(on_notification)
    try:
        await peer.start()
        await initialize(peer)
        result = await peer.request("thread/start", {}, within=60)
        thread_id = result["thread"]["id"]
        progress(f"[{target.name}] streaming: warm-up turn ...")
        await turn("warm up")
        n = counts.stream_deltas
        fake.enqueue(text_reply("x" * n, deltas=["x"] * n))
        progress(f"[{target.name}] streaming: {n:,} deltas ...")
        started, finished, _ = await turn("stream")
        received = state["deltas"]
        first, last = state["first"], state["last"]
        cells: Cells = {"stream_turn_ms": Cell((finished - started) * 1000)}
        note = None if received == n else f"{received:,} deltas received of {n:,}"
        if received >= 2 and first is not None and last is not None and last > first:
            cells["stream_rate"] = Cell(received / (last - first), note=note)
        else:
            cells["stream_rate"] = Cell(error=f"{received} deltas received")
        return cells
    except Exception as exc:
        return _error_cells(keys, exc)
    finally:
        await peer.close()
