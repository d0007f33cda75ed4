"""``thread/search`` over many stored threads and ``thread/delete`` of a long thread, ours vs the
reference, in one run.

    .venv/bin/python bench/thread_search.py [--only search|delete] [--quick] [--targets ours,reference]
        [--threads 10000] [--turn-threads 300] [--items 10000] [--postgresql] [--keep]

- **search**: the same threads on both servers, built through real turns (``--turn-threads``, one
  turn each: the prompt ``bench thread <n>`` and the fake model's reply), then, in a fresh process
  on that CODEX_HOME, ``thread/search`` pages of 25 for a term every thread contains (walked
  through every page), for one most threads contain, for a rare one and for a one-character one
  (each term's first page repeated); p50 and p99 per page. The reference persists a thread only
  through a turn, and each of its turns slows as threads accumulate, so 10,000 threads cannot be
  built on it in a bench's time: ours alone also gets ``--threads`` (10,000) threads with the
  same messages **seeded through its store API** (``ThreadStore``, the same rows a turn writes);
  with ``--postgresql``, the same seeded threads in a throw-away PostgreSQL cluster, searched by
  ours started with ``--store-url``.
- **delete**: a thread of ``--items`` items (10,000) built through real turns (every reply is 20
  assistant messages), then in a fresh process ``thread/delete`` of it (the thread not loaded),
  and ``thread/read`` answering "not found" after.

Both servers get the same config and fake model (see bench/README.md). Prints a Markdown table;
a ratio above 1.0 means ours is faster (reference ÷ ours).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import targets as target_defs
from agent_app_server.testing.fake_model import FakeModelServer
from peer import StdioPeer, kill_all
from surface_pages import build_thread, many_messages, render, timed
from workloads import CLIENT_INFO, Cell, Counts, create_threads_by_turns, percentile, progress

PAGE = 25
#: The fake model's default reply, which the seeded threads carry too.
REPLY = "Hello from the fake model."
#: Every thread's prompt is ``bench thread <n>``: (term, what it finds).
TERMS = (
    ("bench thread", "every thread"),
    ("thread 1", "threads whose number starts with 1"),
    ("thread 4242", "one thread at 10,000 (none below 4,243)"),
    ("7", "one character: every number with a 7"),
)
FIRST_PAGE_RUNS = 20
#: Pages walked for the term every thread contains (all of them, at most this many).
MAX_WALKED_PAGES = 400


@dataclass
class Sizes:
    seeded_threads: int = 10_000
    turn_threads: int = 300
    items: int = 10_000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(seeded_threads=1_000, turn_threads=20, items=1_000)


async def initialize_experimental(peer: StdioPeer) -> None:
    reply = await peer.call(
        "initialize", {"clientInfo": CLIENT_INFO, "capabilities": {"experimentalApi": True}}, within=60
    )
    if "error" in reply:
        raise RuntimeError(f"initialize: {reply['error']}")
    await peer.notify("initialized")


def per_page(samples: list[float], note: str) -> tuple[Cell, Cell]:
    if not samples:
        return Cell(error="no samples"), Cell(error="no samples")
    return (
        Cell(percentile(samples, 0.5), note=f"{len(samples)} pages; {note}"),
        Cell(percentile(samples, 0.99), note=f"max {max(samples):.1f} ms"),
    )


# --------------------------------------------------------------------------- search


def sqlite_store(home: Path) -> Path:
    """Where our server keeps the threads of ``home`` by default."""
    from agent_app_server.core.config import STATE_DIR_NAME

    path = home / STATE_DIR_NAME / "state.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def seed_threads(location: Path | str, workspace: Path, count: int) -> None:
    """``count`` threads as one turn each writes them (the prompt and the fake model's reply), in
    the store at ``location`` (a SQLite file, or a PostgreSQL URL)."""
    from agent_app_server.store import ThreadRecord, ThreadStore

    rng = random.Random(1)
    now = int(time.time())
    store = await ThreadStore.open(location)
    try:
        for index in range(count):
            created = now - count + index
            thread_id = str(_uuid7(created * 1000 + index % 1000, rng))
            prompt = f"bench thread {index}"
            await store.put_thread(
                ThreadRecord(
                    id=thread_id,
                    created_at=created,
                    updated_at=created,
                    cwd=str(workspace),
                    model_provider="mock",
                    source_kind="vscode",
                    source="vscode",
                    originator=CLIENT_INFO["name"],
                    preview=prompt,
                    model=target_defs.MODEL,
                    cli_version="0.169.0",
                )
            )
            turn_id = str(_uuid7(created * 1000 + index % 1000, rng))
            user = {"type": "userMessage", "id": f"{turn_id}-u", "content": [{"type": "text", "text": prompt}]}
            agent = {"type": "agentMessage", "id": f"{turn_id}-a", "text": REPLY}
            turn = {"id": turn_id, "items": [], "status": "completed", "error": None}
            await store.append_events(
                thread_id,
                [
                    ("turn/started", {**turn, "status": "inProgress"}),
                    ("item/completed", {"threadId": thread_id, "turnId": turn_id, "item": user}),
                    ("item/completed", {"threadId": thread_id, "turnId": turn_id, "item": agent}),
                    ("turn/completed", turn),
                ],
            )
    finally:
        await store.close()


async def analyze(pg_url: str) -> None:
    """Refresh the planner's statistics after the bulk load, as autovacuum soon would (a plan
    made from an empty table's statistics is not what a server meets)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute("ANALYZE")


def _uuid7(unix_ms: int, rng: random.Random) -> str:
    import uuid

    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


async def search_pages(target: target_defs.Target, home: Path, suffix: str) -> dict[str, Cell]:
    """Search pages on the threads stored in ``home``, in a fresh process."""
    cells: dict[str, Cell] = {}
    peer = target.peer(home, f"search{suffix}")
    try:
        await peer.start()
        await initialize_experimental(peer)
        # The first search in a process also pays for what it loads once; measured on its own.
        _, took = await timed(peer, "thread/search", {"searchTerm": "warm-up", "limit": PAGE})
        cells[f"first{suffix}"] = Cell(took)
        walked: list[float] = []
        found = 0
        cursor = None
        for _ in range(MAX_WALKED_PAGES):
            params: dict[str, Any] = {"searchTerm": TERMS[0][0], "limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            page, took = await timed(peer, "thread/search", params)
            walked.append(took)
            found += len(page["data"])
            cursor = page.get("nextCursor")
            if not cursor:
                break
        cells[f"walk{suffix}"], cells[f"walk_p99{suffix}"] = per_page(walked, f"{found:,} threads found")
        for key, (term, meaning) in zip(("common", "rare", "one"), TERMS[1:], strict=False):
            samples = []
            hits = 0
            for _ in range(FIRST_PAGE_RUNS):
                page, took = await timed(peer, "thread/search", {"searchTerm": term, "limit": PAGE})
                samples.append(took)
                hits = len(page["data"])
            cells[f"{key}{suffix}"], cells[f"{key}_p99{suffix}"] = per_page(
                samples, f"`{term}` ({meaning}): {hits} on the first page"
            )
    except Exception as exc:
        cells.setdefault(f"walk{suffix}", Cell(error=str(exc)))
    finally:
        await peer.close()
    return cells


async def measure_search(target: target_defs.Target, sizes: Sizes, pg_url: str | None = None) -> dict[str, Cell]:
    home = target.new_home("search-turns")
    counts = Counts(stored_threads=sizes.turn_threads)
    started = time.perf_counter()
    try:
        made = await create_threads_by_turns(target, home, counts)
    except Exception as exc:
        return {"build": Cell(error=f"building threads: {exc}")}
    cells = {"build": Cell(time.perf_counter() - started, note=f"{made:,} threads")}
    cells.update(await search_pages(target, home, ""))
    if target.name == "ours":
        seeded = target.new_home("search-seeded")
        progress(f"[ours] seeding {sizes.seeded_threads:,} threads through the store ...")
        await seed_threads(sqlite_store(seeded), target.workspace, sizes.seeded_threads)
        cells.update(await search_pages(target, seeded, "_seeded"))
        if pg_url is not None:
            progress(f"[ours] seeding {sizes.seeded_threads:,} threads into PostgreSQL ...")
            await seed_threads(pg_url, target.workspace, sizes.seeded_threads)
            await analyze(pg_url)
            on_postgres = dataclasses.replace(target, argv=[*target.argv, "--store-url", pg_url])
            cells.update(await search_pages(on_postgres, target.new_home("search-pg"), "_pg"))
    return cells


# --------------------------------------------------------------------------- delete


async def measure_delete(target: target_defs.Target, sizes: Sizes) -> dict[str, Cell]:
    home = target.new_home("delete")
    progress(f"[{target.name}] building a thread of {sizes.items:,} items through turns ...")
    started = time.perf_counter()
    try:
        thread_id, made = await build_thread(target, home, sizes.items)
    except Exception as exc:
        return {"delete_build": Cell(error=f"building the thread: {exc}")}
    cells = {"delete_build": Cell(time.perf_counter() - started, note=f"{made:,} items")}
    peer = target.peer(home, "delete")
    try:
        await peer.start()
        await initialize_experimental(peer)
        # Warm: what a process does once for any thread request is not the deletion's cost.
        await peer.request("thread/list", {"limit": 1}, within=30)
        _, took = await timed(peer, "thread/delete", {"threadId": thread_id})
        reply = await peer.call("thread/read", {"threadId": thread_id}, within=30)
        gone = "error" in reply
        cells["delete"] = Cell(took, note=f"{made:,} items; thread/read after: {'not found' if gone else 'FOUND'}")
    except Exception as exc:
        cells["delete"] = Cell(error=str(exc))
    finally:
        await peer.close()
    return cells


# --------------------------------------------------------------------------- report

ROWS = [
    ("build", "search: building the threads through turns (s)", False),
    ("first", "`thread/search` first in a fresh process (ms)", True),
    ("walk", "`thread/search` every thread matches, page of 25, p50 (ms)", True),
    ("walk_p99", "… p99 (ms)", True),
    ("common", "`thread/search` many threads match, first page, p50 (ms)", True),
    ("common_p99", "… p99 (ms)", True),
    ("rare", "`thread/search` one thread matches, p50 (ms)", True),
    ("rare_p99", "… p99 (ms)", True),
    ("one", "`thread/search` one-character term, first page, p50 (ms)", True),
    ("one_p99", "… p99 (ms)", True),
    ("first_seeded", "seeded threads: first search in a fresh process (ms)", False),
    ("walk_seeded", "seeded threads: every thread matches, page of 25, p50 (ms)", False),
    ("walk_p99_seeded", "… p99 (ms)", False),
    ("common_seeded", "seeded threads: many match, first page, p50 (ms)", False),
    ("common_p99_seeded", "… p99 (ms)", False),
    ("rare_seeded", "seeded threads: one matches, p50 (ms)", False),
    ("rare_p99_seeded", "… p99 (ms)", False),
    ("one_seeded", "seeded threads: one-character term, first page, p50 (ms)", False),
    ("one_p99_seeded", "… p99 (ms)", False),
    ("first_pg", "PostgreSQL store, seeded threads: first search in a fresh process (ms)", False),
    ("walk_pg", "PostgreSQL store, seeded threads: every thread matches, page of 25, p50 (ms)", False),
    ("walk_p99_pg", "… p99 (ms)", False),
    ("common_pg", "PostgreSQL store, seeded threads: many match, first page, p50 (ms)", False),
    ("common_p99_pg", "… p99 (ms)", False),
    ("rare_pg", "PostgreSQL store, seeded threads: one matches, p50 (ms)", False),
    ("rare_p99_pg", "… p99 (ms)", False),
    ("one_pg", "PostgreSQL store, seeded threads: one-character term, first page, p50 (ms)", False),
    ("one_p99_pg", "… p99 (ms)", False),
    ("delete_build", "delete: building the thread through turns (s)", False),
    ("delete", "`thread/delete` of the thread, not loaded (ms)", True),
]


def make_targets(names: str, run_dir: Path, model_base_url: str, header: list[str]) -> list[target_defs.Target]:
    available = []
    for name in [name.strip() for name in names.split(",") if name.strip()]:
        try:
            target = (target_defs.ours if name == "ours" else target_defs.reference)(run_dir, model_base_url)
        except target_defs.Unavailable as exc:
            header.append(f"- {name}: unavailable ({exc})")
            continue
        if f"- {name}: `{target.description}`" not in header:
            header.append(f"- {name}: `{target.description}`")
        available.append(target)
    return available


async def run(args: argparse.Namespace) -> int:
    sizes = Sizes.quick() if args.quick else Sizes()
    if args.threads is not None:
        sizes.seeded_threads = args.threads
    if args.turn_threads is not None:
        sizes.turn_threads = args.turn_threads
    if args.items is not None:
        sizes.items = args.items
    wanted = set(args.only or ("search", "delete"))
    run_dir = target_defs.CACHE_DIR / f"search-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    header = [
        f"# thread/search and thread/delete ({'quick' if args.quick else 'full'} run)",
        "",
        f"- search: {sizes.turn_threads:,} threads through turns on each server; "
        f"ours also {sizes.seeded_threads:,} seeded through its store",
        f"- delete: a thread of {sizes.items:,} items through turns",
    ]

    results: dict[str, dict[str, Cell]] = {}
    cluster = None
    pg_url = None
    if args.postgresql and "search" in wanted:
        from agent_app_server.testing.pg_cluster import TempCluster

        progress("starting a throw-away PostgreSQL cluster ...")
        cluster = TempCluster()
        cluster.start()
        pg_url = cluster.create_database("search")
        header.append(
            f"- ours on PostgreSQL too: the same {sizes.seeded_threads:,} threads seeded into a local cluster"
        )
    try:
        # One fake model per section: search threads get one short reply per turn, the deleted
        # thread's turns twenty messages each.
        for section, script in (("search", None), ("delete", many_messages)):
            if section not in wanted:
                continue
            fake = FakeModelServer(default_script=script, record_requests=False)
            await fake.start()
            (run_dir / section).mkdir(parents=True, exist_ok=True)
            try:
                for target in make_targets(args.targets, run_dir / section, fake.base_url, header):
                    if section == "search":
                        cells = await measure_search(target, sizes, pg_url)
                    else:
                        cells = await measure_delete(target, sizes)
                    results.setdefault(target.name, {}).update(cells)
            finally:
                await fake.close()
    finally:
        kill_all()
        if cluster is not None:
            cluster.stop()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(render(results, header, ROWS))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=("search", "delete"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--targets", default="ours,reference")
    parser.add_argument("--threads", type=int, help="threads seeded into our store (default 10,000)")
    parser.add_argument("--turn-threads", type=int, help="threads built through turns on each server (default 300)")
    parser.add_argument("--items", type=int, help="items of the thread deleted (default 10,000)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--postgresql", action="store_true", help="also search the seeded threads with ours on a PostgreSQL store"
    )
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
