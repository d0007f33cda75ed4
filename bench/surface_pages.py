"""History pages and fuzzy file search, ours vs the reference, in one run.

    .venv/bin/python bench/surface_pages.py [--only pages|fuzzy] [--quick] [--targets ours,reference] [--keep]

- **pages**: a thread of 10,000 items (``--quick``: 1,000) built through real turns against the
  fake model (every reply is 20 assistant messages, so a turn adds 21 items), then, in a fresh
  process on that CODEX_HOME: the first ``thread/items/list`` of the stored (not loaded) thread,
  ``thread/resume {excludeTurns: true}``, ``thread/items/list`` pages of 100 walked from
  ``itemsBackwardsCursor`` newest first through the whole thread and 20 pages oldest first, and
  ``thread/turns/list`` pages of 25.
- **fuzzy**: ``fuzzyFileSearch`` over a generated tree of 100,000 files (``--quick``: 10,000) in
  ~8,000 directories with a ``.gitignore``d ``node_modules``: the first search (which walks the
  tree), then a fixed set of queries (median of 3 round-robin runs each), then typing ``s`` …
  ``server_handler`` one keystroke at a time with a cancellation token.

Both servers get the same CODEX_HOME config, fake model and tree (see bench/README.md). Prints a
Markdown table; a ratio above 1.0 means ours is faster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import targets as target_defs
from agent_app_server.testing.fake_model import FakeModelServer, RecordedRequest, Script, _Builder, default_usage
from peer import StdioPeer, kill_all
from workloads import Cell, initialize, progress

MESSAGES_PER_REPLY = 20
PAGE = 100


@dataclass
class Sizes:
    items: int = 10_000
    files: int = 100_000
    walked_asc_pages: int = 20
    turn_pages: int = 20

    @classmethod
    def quick(cls) -> Sizes:
        return cls(items=1_000, files=10_000, walked_asc_pages=5, turn_pages=5)


def many_messages(_request: RecordedRequest) -> Script:
    """One response of ``MESSAGES_PER_REPLY`` short assistant messages."""
    builder = _Builder(None, target_defs.MODEL)
    builder.created()
    for n in range(MESSAGES_PER_REPLY):
        builder.message(f"part {n}", [f"part {n}"])
    builder.completed(default_usage())
    return builder.events


def median_ms(samples: list[float]) -> Cell:
    if not samples:
        return Cell(error="no samples")
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return Cell(statistics.median(samples), note=f"{len(samples)} calls, p90 {p90:.1f} ms, max {ordered[-1]:.1f} ms")


async def timed(peer: StdioPeer, method: str, params: dict[str, Any], within: float = 120) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await peer.request(method, params, within=within)
    return result, (time.perf_counter() - started) * 1000


# --------------------------------------------------------------------------- pages


async def build_thread(target: target_defs.Target, home: Path, items: int) -> tuple[str, int]:
    """A thread with at least ``items`` items, through real turns. Returns (thread id, items)."""
    peer = target.peer(home, "pages-build")
    completed: asyncio.Queue[str] = asyncio.Queue()
    peer.notification_listeners.append(
        lambda message: (
            completed.put_nowait(str(((message.get("params") or {}).get("turn") or {}).get("status")))
            if message.get("method") == "turn/completed"
            else None
        )
    )
    try:
        await peer.start()
        await initialize(peer)
        thread_id = (await peer.request("thread/start", {}, within=60))["thread"]["id"]
        made = 0
        turn = 0
        while made < items:
            text = f"turn {turn}"
            await peer.request(
                "turn/start",
                {"threadId": thread_id, "input": [{"type": "text", "text": text, "text_elements": []}]},
                within=120,
            )
            status = await asyncio.wait_for(completed.get(), 300)
            if status != "completed":
                raise RuntimeError(f"turn {turn} ended {status}")
            made += 1 + MESSAGES_PER_REPLY
            turn += 1
            if turn % 50 == 0:
                progress(f"[{target.name}] {made:,}/{items:,} items")
        return thread_id, made
    finally:
        await peer.close(grace=20.0)


async def measure_pages(target: target_defs.Target, sizes: Sizes) -> dict[str, Cell]:
    home = target.new_home("pages")
    progress(f"[{target.name}] building a thread of {sizes.items:,} items through turns ...")
    started = time.perf_counter()
    try:
        thread_id, made = await build_thread(target, home, sizes.items)
    except Exception as exc:
        return {"items_build": Cell(error=f"building the thread: {exc}")}
    cells = {"items_build": Cell((time.perf_counter() - started), note=f"{made:,} items")}
    peer = target.peer(home, "pages")
    try:
        await peer.start()
        await initialize(peer)
        try:
            _, cold = await timed(peer, "thread/items/list", {"threadId": thread_id, "limit": PAGE})
            cells["items_cold"] = Cell(cold)
        except Exception as exc:
            cells["items_cold"] = Cell(error=str(exc))
        resumed, took = await timed(peer, "thread/resume", {"threadId": thread_id, "excludeTurns": True})
        cells["resume"] = Cell(took)
        samples: list[float] = []
        seen = 0
        cursor = resumed.get("itemsBackwardsCursor")
        try:
            for _ in range(sizes.items // PAGE + 10):
                params: dict[str, Any] = {"threadId": thread_id, "limit": PAGE, "sortDirection": "desc"}
                if cursor:
                    params["cursor"] = cursor
                page, took = await timed(peer, "thread/items/list", params)
                samples.append(took)
                seen += len(page["data"])
                cursor = page.get("nextCursor")
                if not cursor:
                    break
            cursor = None
            for _ in range(sizes.walked_asc_pages):
                params = {"threadId": thread_id, "limit": PAGE, "sortDirection": "asc"}
                if cursor:
                    params["cursor"] = cursor
                page, took = await timed(peer, "thread/items/list", params)
                samples.append(took)
                cursor = page.get("nextCursor")
            cell = median_ms(samples)
            cell.note = f"{cell.note}; {seen:,} items listed newest first"
            cells["items_page"] = cell
        except Exception as exc:
            cells["items_page"] = Cell(error=str(exc))
        try:
            turn_samples = []
            cursor = None
            for _ in range(sizes.turn_pages):
                params = {"threadId": thread_id, "limit": 25}
                if cursor:
                    params["cursor"] = cursor
                page, took = await timed(peer, "thread/turns/list", params)
                turn_samples.append(took)
                cursor = page.get("nextCursor")
                if not cursor:
                    break
            cells["turns_page"] = median_ms(turn_samples)
        except Exception as exc:
            cells["turns_page"] = Cell(error=str(exc))
    except Exception as exc:
        for key in ("items_cold", "resume", "items_page", "turns_page"):
            cells.setdefault(key, Cell(error=str(exc)))
    finally:
        await peer.close()
    return cells


# --------------------------------------------------------------------------- fuzzy

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "util",
    "core",
    "server",
    "client",
    "handler",
    "model",
    "view",
    "test",
    "spec",
    "config",
    "parser",
    "lexer",
    "token",
    "index",
    "cache",
    "store",
    "query",
    "page",
    "file",
    "search",
    "fuzzy",
    "watch",
    "event",
    "loop",
    "thread",
    "turn",
    "item",
]
EXTENSIONS = (".py", ".ts", ".rs", ".md", ".json", ".txt", ".go")
FUZZY_QUERIES = ("s", "srv", "handler", "searchcache", "fuzzy_watch.py", "cfgprs", "alpha beta", "zzq")
TYPED = "server_handler"


def generate_tree(root: Path, files: int) -> int:
    """``files`` empty files in nested directories, plus 1,000 ignored ones. Returns directories."""
    rng = random.Random(3)
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("node_modules/\n*.log\nbuild/\n")
    dirs = [root]
    made = 0
    while made < files:
        if rng.random() < 0.08 or len(dirs) < 5:
            directory = rng.choice(dirs) / f"{rng.choice(WORDS)}_{rng.randint(0, 99)}"
            directory.mkdir(exist_ok=True)
            dirs.append(directory)
            continue
        name = rng.choice(WORDS) + rng.choice(("_", "-", "")) + rng.choice(WORDS) + rng.choice(EXTENSIONS)
        path = rng.choice(dirs) / name
        if not path.exists():
            path.touch()
            made += 1
    ignored = root / "node_modules" / "pkg"
    ignored.mkdir(parents=True)
    for n in range(1_000):
        (ignored / f"f{n}.js").touch()
    return len(dirs)


async def measure_fuzzy(target: target_defs.Target, tree: Path) -> dict[str, Cell]:
    home = target.new_home("fuzzy")
    peer = target.peer(home, "fuzzy")
    cells: dict[str, Cell] = {}
    roots = [str(tree)]
    try:
        await peer.start()
        await initialize(peer)
        result, took = await timed(peer, "fuzzyFileSearch", {"query": "handler", "roots": roots})
        files = result.get("files", [])
        ignored = sum(1 for match in files if "node_modules" in match.get("path", ""))
        top = files[0]["path"] if files else "-"
        cells["fuzzy_cold"] = Cell(took, note=f"{len(files)} results, top `{top}`, {ignored} from ignored dirs")
        # Round robin, so that no search follows the same query (a server may reuse the work of a
        # query that the next one extends, as happens when typing; that is measured below).
        runs: dict[str, list[float]] = {query: [] for query in FUZZY_QUERIES}
        for _ in range(3):
            for query in FUZZY_QUERIES:
                _, took = await timed(peer, "fuzzyFileSearch", {"query": query, "roots": roots})
                runs[query].append(took)
        per_query = [statistics.median(runs[query]) for query in FUZZY_QUERIES]
        detail = ", ".join(f"`{q}` {t:.0f}" for q, t in zip(FUZZY_QUERIES, per_query, strict=True))
        cells["fuzzy_warm"] = Cell(statistics.median(per_query), note=f"per query (ms): {detail}")
        typing = []
        for end in range(1, len(TYPED) + 1):
            params = {"query": TYPED[:end], "roots": roots, "cancellationToken": "typing"}
            _, took = await timed(peer, "fuzzyFileSearch", params)
            typing.append(took)
        cells["fuzzy_typing"] = Cell(sum(typing), note=f"{len(typing)} keystrokes, slowest {max(typing):.0f} ms")
    except Exception as exc:
        for key in ("fuzzy_cold", "fuzzy_warm", "fuzzy_typing"):
            cells.setdefault(key, Cell(error=str(exc)))
    finally:
        await peer.close()
    return cells


# --------------------------------------------------------------------------- report

ROWS = [
    ("items_build", "building the thread through turns (s)", False),
    ("items_cold", "`thread/items/list` first page of 100, thread not loaded (ms)", True),
    ("resume", "`thread/resume {excludeTurns}` (ms)", True),
    ("items_page", "`thread/items/list` page of 100, median (ms)", True),
    ("turns_page", "`thread/turns/list` page of 25, median (ms)", True),
    ("fuzzy_cold", "`fuzzyFileSearch` first search, walks the tree (ms)", True),
    ("fuzzy_warm", "`fuzzyFileSearch` warm, median over queries (ms)", True),
    ("fuzzy_typing", "`fuzzyFileSearch` typing 14 keystrokes, total (ms)", True),
]


def render(results: dict[str, dict[str, Cell]], header: list[str], rows: list[tuple[str, str, bool]] = ROWS) -> str:
    lines = [*header, "", "Ratio > 1.0 means ours is faster (reference ÷ ours).", ""]
    lines += ["| metric | ours | reference | ratio |", "|---|---:|---:|---:|"]
    notes: list[str] = []

    def text(cell: Cell | None, where: str) -> str:
        if cell is None:
            return "not run"
        if cell.error is not None:
            notes.append(f"{where}: {cell.error}")
            return f"error [{len(notes)}]"
        value = "-" if cell.value is None else f"{cell.value:,.1f}"
        if cell.note:
            notes.append(f"{where}: {cell.note}")
            value += f" [{len(notes)}]"
        return value

    for key, label, compare in rows:
        ours, ref = results.get("ours", {}).get(key), results.get("reference", {}).get(key)
        if ours is None and ref is None:
            continue
        ratio = "—"
        if compare and ours and ref and ours.value and ref.value:
            ratio = f"{ref.value / ours.value:.2f}"
        lines.append(f"| {label} | {text(ours, f'ours, {key}')} | {text(ref, f'reference, {key}')} | {ratio} |")
    if notes:
        lines.append("")
        lines += [f"[{n}] {note.replace('|', '/')}" for n, note in enumerate(notes, 1)]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    sizes = Sizes.quick() if args.quick else Sizes()
    wanted = set(args.only or ("pages", "fuzzy"))
    run_dir = target_defs.CACHE_DIR / f"surface-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    header = [f"# history pages and fuzzy search ({'quick' if args.quick else 'full'} run)", ""]
    fake = FakeModelServer(default_script=many_messages, record_requests=False)
    await fake.start()
    results: dict[str, dict[str, Cell]] = {}
    try:
        available = []
        for name in [name.strip() for name in args.targets.split(",") if name.strip()]:
            try:
                target = (target_defs.ours if name == "ours" else target_defs.reference)(run_dir, fake.base_url)
            except target_defs.Unavailable as exc:
                header.append(f"- {name}: unavailable ({exc})")
                continue
            header.append(f"- {name}: `{target.description}`")
            available.append(target)
        if "pages" in wanted:
            for target in available:
                results.setdefault(target.name, {}).update(await measure_pages(target, sizes))
        if "fuzzy" in wanted:
            tree = run_dir / "tree"
            progress(f"generating a tree of {sizes.files:,} files ...")
            dirs = await asyncio.to_thread(generate_tree, tree, sizes.files)
            header.append(f"- tree: {sizes.files:,} files (+1,000 gitignored) in {dirs:,} directories")
            for target in available:
                progress(f"[{target.name}] fuzzyFileSearch ...")
                results.setdefault(target.name, {}).update(await measure_fuzzy(target, tree))
    finally:
        await fake.close()
        kill_all()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(render(results, header))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=("pages", "fuzzy"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--targets", default="ours,reference")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
