"""The wire fuzzer, long run: hostile frames against our server over stdio and WebSocket.

    .venv/bin/python bench/fuzz.py [--messages 100000] [--seed 18] [--batch 500] [--transports stdio,websocket]

The generator and the checks are ``agent_app_server.testing.wire_fuzz`` (the suite runs the same
thing for 5,000 messages): mutated valid requests, wrong types in every field, ids of every JSON
type, deep nesting, invalid UTF-8 (stdio only: a WebSocket text frame cannot carry it), lone
surrogates, huge strings, truncated and padded JSON. After every batch a sentinel request must be
answered, and at the end every request must have exactly one answer and every frame that is not
a request exactly the ``id: null`` error it deserves.

Printed per transport (Markdown table on stdout): messages/s (frames written ÷ wall time,
including the wait for every answer), peak RSS of the server (``VmHWM``), crashes (the process
exited), hangs (a sentinel not answered within ``--answer-timeout``), unanswered / answered twice
/ unexpected answers. Exit status 1 when any of those is non-zero. Only our server is fuzzed:
the reference answers no malformed frame at all (``rpc:parse-error-reply``), so "one answer per
frame" cannot be checked on it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from agent_app_server.testing.wire_fuzz import FrameGenerator, FuzzReport, handshake, run_fuzz, server_link


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def fuzz(transport: str, args: argparse.Namespace) -> tuple[FuzzReport, float, bool]:
    with tempfile.TemporaryDirectory(prefix="fuzz-home-") as home:
        async with server_link(transport, Path(home)) as link:
            await handshake(link)
            generator = FrameGenerator(args.seed, text_only=transport == "websocket")
            report = await run_fuzz(
                link, generator, messages=args.messages, batch=args.batch, answer_timeout=args.answer_timeout
            )
            crashed = link.process.returncode is not None
            peak = float("nan") if crashed else _peak_rss_mib(link.process.pid)
    return report, peak, crashed


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--answer-timeout", type=float, default=30.0)
    parser.add_argument("--transports", default="stdio,websocket")
    args = parser.parse_args()
    rows = []
    failed = False
    for transport in args.transports.split(","):
        print(f"fuzzing over {transport}: {args.messages} messages ...", file=sys.stderr)
        report, peak, crashed = await fuzz(transport, args)
        print(f"  {report.summary()}", file=sys.stderr)
        hangs = report.sentinel_missed
        failed = failed or crashed or not report.ok
        rows.append(
            f"| {transport} | {report.messages:,} | {report.messages / report.seconds:,.0f} | {peak:.0f} | "
            f"{int(crashed)} | {hangs} | {len(report.unanswered)} | {len(report.duplicated)} | "
            f"{len(report.unexpected)} | {report.null_errors_received:,}/{report.null_errors_expected:,} |"
        )
    print(
        "| transport | messages | messages/s | peak RSS MiB | crashes | hangs | unanswered | answered twice "
        "| unexpected | null-id errors (got/expected) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
