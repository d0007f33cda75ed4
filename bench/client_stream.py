"""The client's cost, measured: a 20,000-delta turn read through ``AsyncClient`` vs a raw JSONL line
reader (``bench/peer.py``) on the same server, and ``exec`` spawn-to-final-message for a one-line
answer, ours vs the reference's ``codex exec``, both against the same fake model.

    .venv/bin/python bench/client_stream.py [--deltas 20000] [--rounds 3] [--exec-runs 5] [--no-reference]

Readers alternate round by round, each on a fresh server process with one warm-up turn; the
median of the rounds is reported. Rates are deltas/s at the client between the first and the last
``item/agentMessage/delta``. Target: AsyncClient at least 0.8 times the raw reader.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from agent_app_server.client import AsyncClient
from agent_app_server.testing import FakeModelServer, text_reply
from peer import env_with
from targets import BENCH_DIR, Target, Unavailable, ours, reference


def big_reply(n: int) -> list[object]:
    return list(text_reply("x" * n, deltas=["x"] * n))


async def raw_reader(target: Target, fake: FakeModelServer, n: int) -> tuple[float, float]:
    """deltas/s and turn ms through the raw line reader."""
    home = target.new_home("raw")
    peer = target.peer(home, "raw")
    times: list[float] = []
    done: asyncio.Future[None] | None = None

    def on_message(message: dict[str, object]) -> None:
        method = message.get("method")
        if method == "item/agentMessage/delta":
            times.append(time.perf_counter())
        elif method == "turn/completed" and done is not None and not done.done():
            done.set_result(None)

    peer.notification_listeners.append(on_message)
    await peer.start()
    try:
        await peer.request(
            "initialize", {"clientInfo": {"name": "bench_raw", "version": "1"}, "capabilities": {}}, within=60
        )
        await peer.notify("initialized")
        thread_id = (await peer.request("thread/start", {}, within=60))["thread"]["id"]
        for label in ("warm-up", "measured"):
            if label == "measured":
                fake.enqueue(big_reply(n))
            times.clear()
            done = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await peer.request(
                "turn/start",
                {"threadId": thread_id, "input": [{"type": "text", "text": label, "text_elements": []}]},
                within=60,
            )
            await asyncio.wait_for(done, 300)
        finished = time.perf_counter()
        assert len(times) == n, f"raw reader got {len(times)} deltas of {n}"
        return (n - 1) / (times[-1] - times[0]), (finished - started) * 1000
    finally:
        await peer.close()


async def client_reader(target: Target, fake: FakeModelServer, n: int) -> tuple[float, float]:
    """deltas/s and turn ms through AsyncClient (turn.events())."""
    home = target.new_home("client")
    env = {"CODEX_HOME": str(home), "MOCK_API_KEY": "x"}
    async with await AsyncClient.spawn(target.argv, env=env, cwd=str(target.workspace)) as client:
        thread = await client.start_thread()
        for label in ("warm-up", "measured"):
            if label == "measured":
                fake.enqueue(big_reply(n))
            times: list[float] = []
            started = time.perf_counter()
            turn = await thread.turn(label)
            async for event in turn.events():
                if event.method == "item/agentMessage/delta":
                    times.append(time.perf_counter())
            await turn.wait(check=True)
            finished = time.perf_counter()
        assert len(times) == n, f"AsyncClient got {len(times)} deltas of {n}"
        return (n - 1) / (times[-1] - times[0]), (finished - started) * 1000


async def exec_once(argv: list[str], home: Path, cwd: Path, expected: str) -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env_with({"CODEX_HOME": str(home), "MOCK_API_KEY": "x"}),
        cwd=cwd,
    )
    assert process.stdout is not None
    # Spawn → the final message on stdout (the process may spend more time exiting).
    output = b""
    while expected.encode() not in output:
        chunk = await asyncio.wait_for(process.stdout.read(4096), 120)
        if not chunk:
            raise RuntimeError(f"{argv[0]} exited without printing {expected!r} (printed {output[-300:]!r})")
        output += chunk
    elapsed = time.perf_counter() - started
    await process.wait()
    return elapsed * 1000


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--exec-runs", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="run-client-", dir=BENCH_DIR / ".cache" if _mk_cache() else None))
    answer = "The answer is 42."
    async with FakeModelServer(default_script=lambda _request: text_reply(answer), record_requests=False) as fake:
        target = ours(run_dir, fake.base_url)
        rates: dict[str, list[float]] = {"raw": [], "client": []}
        turn_ms: dict[str, list[float]] = {"raw": [], "client": []}
        for round_ in range(args.rounds):
            for name, reader in (("raw", raw_reader), ("client", client_reader)):
                rate, ms = await reader(target, fake, args.deltas)
                rates[name].append(rate)
                turn_ms[name].append(ms)
                print(f"round {round_ + 1} {name}: {rate:,.0f} deltas/s, turn {ms:,.0f} ms", file=sys.stderr)
        raw_rate, client_rate = statistics.median(rates["raw"]), statistics.median(rates["client"])
        print(f"| metric ({args.deltas:,} deltas, median of {args.rounds}) | AsyncClient | raw line reader | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| deltas/s at the client | {client_rate:,.0f} | {raw_rate:,.0f} | {client_rate / raw_rate:.2f} |")
        client_ms, raw_ms = statistics.median(turn_ms["client"]), statistics.median(turn_ms["raw"])
        print(f"| turn/start → turn/completed (ms) | {client_ms:,.0f} | {raw_ms:,.0f} | {raw_ms / client_ms:.2f} |")

        exec_rows: dict[str, list[float]] = {}
        commands = {"ours": [*target.argv, "exec", "--cwd", str(target.workspace), "hi"]}
        if not args.no_reference:
            try:
                ref = reference(run_dir, fake.base_url)
                commands["reference"] = [ref.argv[0], "exec", "--skip-git-repo-check", "-C", str(ref.workspace), "hi"]
            except Unavailable as exc:
                print(f"reference unavailable: {exc}", file=sys.stderr)
        for name, argv in commands.items():
            home = (target if name == "ours" else ref).new_home("exec")
            cwd = (target if name == "ours" else ref).workspace
            await exec_once(argv, home, cwd, answer)  # warm-up (first-use setup)
            exec_rows[name] = [await exec_once(argv, home, cwd, answer) for _ in range(args.exec_runs)]
        print()
        print(f"| `exec` spawn → final message on stdout (ms, median of {args.exec_runs}) | ours | reference | ratio |")
        print("|---|---:|---:|---:|")
        ours_ms = statistics.median(exec_rows["ours"])
        if "reference" in exec_rows:
            ref_ms = statistics.median(exec_rows["reference"])
            print(f"| one-line answer | {ours_ms:,.0f} | {ref_ms:,.0f} | {ref_ms / ours_ms:.2f} |")
        else:
            print(f"| one-line answer | {ours_ms:,.0f} | — | — |")
    return 0


def _mk_cache() -> bool:
    try:
        (BENCH_DIR / ".cache").mkdir(exist_ok=True)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main()))
