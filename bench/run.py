"""Benchmark our app server against the reference ``codex app-server`` in one run.

    .venv/bin/python bench/run.py [--only NAME ...] [--quick] [--targets ours,reference] [--keep]

Both servers run the same client workload over stdio, with fresh CODEX_HOMEs and the same mock
provider config pointing at an in-process fake Responses API server. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
import targets as target_defs
from agent_app_server.testing import FakeModelServer
from peer import kill_all
from workloads import Cell, Cells, Counts, progress, session, spawn_to_initialize, streaming, thread_list

GROUPS = ("spawn", "rtt", "pipeline", "rss", "list", "streaming")

Better = Literal["lower", "higher"] | None


@dataclass(frozen=True)
class Row:
    key: str
    group: str
    label: Callable[[Counts], str]
    better: Better
    fmt: Callable[[float], str]


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def _us(value: float) -> str:
    return f"{value:,.0f}"


def _mib(value: float) -> str:
    return f"{value:,.1f}"


def _count(value: float) -> str:
    return f"{int(value):,}"


ROWS = [
    Row("spawn_ms", "spawn", lambda c: f"spawn → initialize response (ms, median of {c.spawn_runs})", "lower", _ms),
    Row(
        "spawn_thread_ms",
        "spawn",
        lambda c: f"spawn → first `thread/start` answered, sent after the handshake (ms, median of {c.spawn_runs})",
        "lower",
        _ms,
    ),
    Row(
        "first_thread_ms",
        "spawn",
        lambda c: (
            f"first `thread/start` in the process, sent {c.pause_s:g} s after the handshake: round trip "
            f"(ms, median of {c.paused_runs})"
        ),
        "lower",
        _ms,
    ),
    Row("idle_rss_mib", "rss", lambda c: "idle RSS after initialize and one request (MiB, VmRSS)", "lower", _mib),
    Row(
        "rtt_median_us",
        "rtt",
        lambda c: f"round trip `thread/loaded/list`, median (µs, {c.round_trips:,} sequential)",
        "lower",
        _us,
    ),
    Row("rtt_p99_us", "rtt", lambda c: "round trip `thread/loaded/list`, p99 (µs)", "lower", _us),
    Row(
        "pipe_rate",
        "pipeline",
        lambda c: f"pipelined {c.pipelined:,} `thread/loaded/list`: answered req/s",
        "higher",
        _count,
    ),
    Row("pipe_results", "pipeline", lambda c: "pipelined: results", None, _count),
    Row("pipe_overloaded", "pipeline", lambda c: "pipelined: -32001 overloaded errors", None, _count),
    Row("pipe_other_errors", "pipeline", lambda c: "pipelined: other errors", None, _count),
    Row(
        "pipe_unanswered",
        "pipeline",
        lambda c: f"pipelined: never answered (after {c.straggler_wait_s:g} s straggler wait)",
        None,
        _count,
    ),
    Row("peak_rss_mib", "rss", lambda c: "peak RSS after the workloads above (MiB, VmHWM)", "lower", _mib),
    Row(
        "list_ms",
        "list",
        lambda c: f"`thread/list` page of 25, {c.stored_threads:,} stored threads (ms, median of {c.list_calls})",
        "lower",
        _ms,
    ),
    Row("list_how", "list", lambda c: "how the stored threads were created", None, _count),
    Row(
        "stream_rate",
        "streaming",
        lambda c: f"streaming {c.stream_deltas:,} one-char deltas: `item/agentMessage/delta` per s at the client",
        "higher",
        _count,
    ),
    Row(
        "stream_turn_ms",
        "streaming",
        lambda c: f"streaming {c.stream_deltas:,} deltas: `turn/start` sent → `turn/completed` read (ms)",
        "lower",
        _ms,
    ),
]


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cell_text(row: Row, cell: Cell | None, notes: list[str], where: str) -> str:
    if cell is None:
        return "not run"
    if cell.error is not None:
        short = cell.error if len(cell.error) <= 90 else cell.error[:87] + "..."
        if short != cell.error:
            notes.append(f"{where}: {cell.error}")
        return f"error: {_escape(short)}"
    if cell.value is None:
        return _escape(cell.note or "-")
    text = row.fmt(cell.value)
    if cell.note:
        notes.append(f"{where}: {cell.note}")
        text += f" [{len(notes)}]"
    return text


def _ratio(row: Row, ours: Cell | None, reference: Cell | None) -> str:
    if row.better is None or ours is None or reference is None or ours.value is None or reference.value is None:
        return "—"
    numerator, denominator = (reference.value, ours.value) if row.better == "lower" else (ours.value, reference.value)
    if denominator == 0:
        return "—"
    return f"{numerator / denominator:.2f}"


def render(results: dict[str, Cells], counts: Counts, header: list[str]) -> str:
    notes: list[str] = []
    lines = [*header, ""]
    lines.append(
        "Ratio > 1.0 means ours is better (reference ÷ ours for times and memory, ours ÷ reference for rates)."
    )
    lines.append("")
    lines.append("| metric | ours | reference | ratio |")
    lines.append("|---|---:|---:|---:|")
    for row in ROWS:
        ours = results.get("ours", {}).get(row.key)
        reference = results.get("reference", {}).get(row.key)
        if ours is None and reference is None:
            continue
        cells = [
            _cell_text(row, ours, notes, f"ours, {row.key}"),
            _cell_text(row, reference, notes, f"reference, {row.key}"),
        ]
        lines.append(f"| {_escape(row.label(counts))} | {cells[0]} | {cells[1]} | {_ratio(row, ours, reference)} |")
    if notes:
        lines.append("")
        lines += [f"[{number}] {_escape(note)}" for number, note in enumerate(notes, 1)]
    return "\n".join(lines)


def _unavailable(keys: list[str]) -> Cells:
    return {key: Cell(note="unavailable (see above)") for key in keys}


async def run(args: argparse.Namespace) -> int:
    counts = Counts.quick() if args.quick else Counts()
    wanted = set(args.only or GROUPS)
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    run_dir = target_defs.CACHE_DIR / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Cells] = {name: {} for name in names}
    header = [
        f"# agent-app-server vs codex app-server ({'quick' if args.quick else 'full'} run, "
        f"{time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"- host: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
    ]
    fake = FakeModelServer(record_requests=False)
    await fake.start()
    try:
        available: list[target_defs.Target] = []
        for name in names:
            try:
                if name == "ours":
                    target = target_defs.ours(run_dir, fake.base_url)
                elif name == "reference":
                    target = target_defs.reference(run_dir, fake.base_url)
                else:
                    raise target_defs.Unavailable(f"unknown target {name!r}")
            except target_defs.Unavailable as exc:
                results[name] = _unavailable([row.key for row in ROWS if row.group in wanted])
                header.append(f"- {name}: unavailable ({exc})")
                continue
            header.append(f"- {name}: `{target.description}`")
            available.append(target)
        if "spawn" in wanted:
            for target in available:
                progress(f"[{target.name}] spawn → initialize → thread/start ...")
                results[target.name].update(await spawn_to_initialize(target, counts))
        if wanted & {"rtt", "pipeline", "rss"}:
            for target in available:
                results[target.name].update(await session(target, counts, wanted))
        if "list" in wanted:
            for target in available:
                results[target.name].update(await thread_list(target, counts))
        if "streaming" in wanted:
            for target in available:
                results[target.name].update(await streaming(target, fake, counts))
    finally:
        await fake.close()
        kill_all()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    header.append(f"- fake model: {fake.responses_served} `/v1/responses` requests served")
    if args.keep:
        header.append(f"- homes and stderr logs kept in `{run_dir}`")
    print(render(results, counts, header))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        help="run only this metric group (repeatable); rss alone measures an idle session",
    )
    parser.add_argument("--quick", action="store_true", help="reduced counts: a smoke test of about a minute")
    parser.add_argument("--targets", default="ours,reference", help="comma-separated: ours, reference")
    parser.add_argument("--keep", action="store_true", help="keep the run's CODEX_HOMEs and stderr logs")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
