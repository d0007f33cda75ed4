"""Oracle check: for the same fake-model script, does our notification sequence match the reference's?

    .venv/bin/python bench/compare_sequences.py [--only NAME ...] [--experimental] [--keep]

For each scenario both servers get a fresh CODEX_HOME (the bench config: mock provider, retries
off), then ``initialize``, ``thread/start`` and one ``turn/start`` answered by the same script. From
``turn/start`` until ``turn/completed`` we record what the client sees, ids and times aside: each
notification's method (with the item type for ``item/*`` lifecycle events, the status type for
``thread/status/changed``, ``willRetry``/``codexErrorInfo`` for ``error``, status and
``codexErrorInfo`` for ``turn/completed``), where the replies to our requests fall, and runs of
the same entry collapsed to ``xN``. The reference's ``warning`` about missing model metadata is
dropped (``mock-model`` is not in its catalog; a documented difference). Prints a side-by-side diff
per scenario; exits 1 if any scenario differs (or fails to run), 0 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import difflib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
import targets as target_defs
from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.fake_model import (
    Script,
    delay,
    disconnect_after,
    http_error,
    response_failed,
    text_reply,
)
from peer import Message, kill_all
from workloads import CLIENT_INFO, initialize

TURN_TIMEOUT_S = 60.0
#: How long to let notifications of ``thread/start`` settle before the turn (the reference sends
#: ``thread/started`` after the reply).
SETTLE_S = 0.3


def _paused_reply(seconds: float) -> Script:
    """A text reply that stops for ``seconds`` after its first text delta."""
    events = text_reply("slow answer", deltas=["slow", " ", "answer"])
    first = next(i for i, step in enumerate(events) if getattr(step, "type", "") == "response.output_text.delta")
    return [*events[: first + 1], delay(seconds), *events[first + 1 :]]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    script: Callable[[], Script]
    interrupt_after_first_delta: bool = False


SCENARIOS = [
    Scenario(
        "reasoning",
        "(a) text reply with a reasoning summary",
        lambda: text_reply("Hello there.", reasoning_summary="Thinking it over."),
    ),
    Scenario("http500", "(b) HTTP 500, request_max_retries=0", lambda: http_error(500, {"error": {"message": "boom"}})),
    Scenario(
        "disconnect",
        "(c) mid-stream disconnect (after the first text delta)",
        lambda: disconnect_after(text_reply("partial", deltas=["par", "tial"]), 4),
    ),
    Scenario("failed", "(d) response.failed server_error", lambda: response_failed("server_error", "model melted")),
    Scenario(
        "context",
        "(e) HTTP 400 context_length_exceeded",
        lambda: http_error(400, {"error": {"code": "context_length_exceeded", "message": "too long"}}),
    ),
    Scenario(
        "interrupt",
        "(f) turn/interrupt after the first delta (model pauses 3 s there)",
        lambda: _paused_reply(3.0),
        interrupt_after_first_delta=True,
    ),
]


def _is_dropped(message: Message) -> bool:
    if message.get("method") != "warning":
        return False
    text = json.dumps(message.get("params"))
    return "Model metadata" in text and "not found" in text


def describe(message: Message) -> str:
    method = str(message.get("method"))
    params = message.get("params") or {}
    if method in ("item/started", "item/completed"):
        return f"{method} {(params.get('item') or {}).get('type')}"
    if method == "thread/status/changed":
        status = params.get("status") or {}
        flags = status.get("activeFlags")
        return f"{method} {status.get('type')}" + (f" {flags}" if flags else "")
    if method == "error":
        info = (params.get("error") or {}).get("codexErrorInfo")
        return f"error willRetry={params.get('willRetry')} codexErrorInfo={json.dumps(info)}"
    if method == "turn/completed":
        turn = params.get("turn") or {}
        info = (turn.get("error") or {}).get("codexErrorInfo")
        return f"turn/completed status={turn.get('status')} codexErrorInfo={json.dumps(info)}"
    return method


def collapse(entries: list[str]) -> list[str]:
    out: list[str] = []
    counts: list[int] = []
    for entry in entries:
        if out and out[-1] == entry:
            counts[-1] += 1
        else:
            out.append(entry)
            counts.append(1)
    return [entry if count == 1 else f"{entry} x{count}" for entry, count in zip(out, counts, strict=True)]


async def record(
    target: target_defs.Target, fake: FakeModelServer, scenario: Scenario, *, experimental: bool
) -> list[str]:
    home = target.new_home(scenario.name)
    peer = target.peer(home, scenario.name)
    seen: list[tuple[int, str]] = []
    replies: list[tuple[int, str]] = []
    recording = False
    first_delta = asyncio.Event()
    completed = asyncio.Event()
    loop = asyncio.get_running_loop()
    started_thread: asyncio.Future[None] = loop.create_future()

    def on_notification(message: Message) -> None:
        method = message.get("method")
        if method == "thread/started" and not started_thread.done():
            started_thread.set_result(None)
        if not recording or _is_dropped(message):
            return
        # Tagged with how many replies the reader had taken in before this notification: the
        # reader handles lines in wire order, whereas an awaited reply resumes its caller later.
        seen.append((peer.responses_received, describe(message)))
        if method == "item/agentMessage/delta":
            first_delta.set()
        elif method == "turn/completed":
            completed.set()

    peer.notification_listeners.append(on_notification)
    try:
        await peer.start()
        if experimental:
            await peer.request(
                "initialize", {"clientInfo": CLIENT_INFO, "capabilities": {"experimentalApi": True}}, within=60
            )
            await peer.notify("initialized")
        else:
            await initialize(peer)
        result = await peer.request("thread/start", {}, within=60)
        thread_id = result["thread"]["id"]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(started_thread, 10)
        await asyncio.sleep(SETTLE_S)
        # The default script rather than the queue: nothing is left over for the next scenario
        # when a server never asks for it.
        fake.default_script = scenario.script()
        recording = True
        replies.append((peer.responses_received + 1, "turn/start"))
        reply = await peer.call(
            "turn/start",
            {"threadId": thread_id, "input": [{"type": "text", "text": "hi", "text_elements": []}]},
            within=60,
        )
        if "error" in reply:
            replies[-1] = (replies[-1][0], "turn/start: error")
            return _merge(seen, replies)
        if scenario.interrupt_after_first_delta:
            turn_id = reply["result"]["turn"]["id"]
            await asyncio.wait_for(first_delta.wait(), TURN_TIMEOUT_S)
            replies.append((peer.responses_received + 1, "turn/interrupt"))
            interrupted = await peer.call("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}, within=30)
            if "error" in interrupted:
                replies[-1] = (replies[-1][0], "turn/interrupt: error")
        try:
            await asyncio.wait_for(completed.wait(), TURN_TIMEOUT_S)
        except TimeoutError:
            seen.append((peer.responses_received, f"(no turn/completed within {TURN_TIMEOUT_S:g} s)"))
        return _merge(seen, replies)
    finally:
        await peer.close()


def _merge(seen: list[tuple[int, str]], replies: list[tuple[int, str]]) -> list[str]:
    """Notifications with a ``(reply ...)`` marker before the first one read after that reply."""
    out: list[str] = []
    pending = sorted(replies)
    for replies_before, entry in seen:
        while pending and pending[0][0] <= replies_before:
            out.append(f"(reply {pending.pop(0)[1]})")
        out.append(entry)
    out += [f"(reply {name})" for _, name in pending]
    return out


def side_by_side(ours: list[str], reference: list[str]) -> tuple[bool, list[str]]:
    width = max([len("ours"), *(len(entry) for entry in ours)]) + 2
    lines = [f"    {'ours':<{width}}  reference", f"    {'-' * (width - 2):<{width}}  ---------"]
    same = True
    for tag, a0, a1, b0, b1 in difflib.SequenceMatcher(a=ours, b=reference, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [
                f"    {ours[i]:<{width}}  {reference[j]}" for i, j in zip(range(a0, a1), range(b0, b1), strict=True)
            ]
            continue
        same = False
        left, right = ours[a0:a1], reference[b0:b1]
        for k in range(max(len(left), len(right))):
            a = left[k] if k < len(left) else ""
            b = right[k] if k < len(right) else ""
            mark = "<" if not b else ">" if not a else "!"
            lines.append(f"  {mark} {a:<{width}}  {b}")
    return same, lines


async def run(args: argparse.Namespace) -> int:
    wanted = set(args.only or [scenario.name for scenario in SCENARIOS])
    run_dir = target_defs.CACHE_DIR / f"seq-{time.strftime('%Y%m%d-%H%M%S')}"
    fake = FakeModelServer(record_requests=False)
    await fake.start()
    mismatches: list[str] = []
    try:
        targets = [target_defs.ours(run_dir, fake.base_url), target_defs.reference(run_dir, fake.base_url)]
        for scenario in SCENARIOS:
            if scenario.name not in wanted:
                continue
            sequences: list[list[str]] = []
            for target in targets:
                print(f"[{target.name}] {scenario.name} ...", file=sys.stderr, flush=True)
                try:
                    sequences.append(collapse(await record(target, fake, scenario, experimental=args.experimental)))
                except Exception as exc:
                    sequences.append([f"(failed: {type(exc).__name__}: {exc})"])
            same, lines = side_by_side(*sequences)
            print(f"## {scenario.title} [{scenario.name}]: {'same' if same else 'DIFFERENT'}")
            print("\n".join(lines))
            print()
            if not same:
                mismatches.append(scenario.name)
    finally:
        if "interrupt" in wanted:
            # Let the interrupted scripts' pause run out: cancelling a fake-model handler inside
            # its delay makes asyncio (3.11) log a spurious CancelledError traceback.
            await asyncio.sleep(3.5)
        await fake.close()
        kill_all()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(f"{len(mismatches)} of {len(wanted)} scenarios differ" + (f": {', '.join(mismatches)}" if mismatches else ""))
    return 1 if mismatches else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", action="append", choices=[s.name for s in SCENARIOS], help="repeatable")
    parser.add_argument(
        "--experimental", action="store_true", help="initialize with capabilities.experimentalApi = true"
    )
    parser.add_argument("--keep", action="store_true", help="keep the CODEX_HOMEs and stderr logs")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    finally:
        kill_all()


if __name__ == "__main__":
    sys.exit(main())
