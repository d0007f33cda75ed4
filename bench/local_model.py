"""A real local model through our server vs the model server alone (the real-model tier's build).

    .venv/bin/python bench/local_model.py [--server llama-cpp-python|llama-server] [--wire chat|responses]
                                          [--turns N] [--targets ours[,reference]]

SmolLM2-135M-Instruct (``scripts/models.py build`` makes it available) answers the same prompt
``--turns`` times through each target, with a recording proxy between the target and the model
server that stamps every piece of the model's stream as it arrives. Then the exact request the
target sent is replayed straight to the model server, ``--turns`` times. Reported, as medians:

- **model tokens/s**: output tokens ÷ (last text piece - first text piece), model server alone;
- **time to first text**: the request written → the first text piece, model server alone; and
  ``turn/start`` written → the first ``item/agentMessage/delta`` read, through each target;
- **relay lag per delta**: the k-th text piece arriving at the proxy → the k-th
  ``item/agentMessage/delta`` read by the client (median, p90, max over all deltas);
- **prompt**: the request's size (bytes) and the model's count of input tokens.

One warm-up turn comes first (llama.cpp servers reuse the cached prompt prefix after it, so every
measured turn sees the same warm cache). ``reference`` only speaks the Responses wire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import targets as target_defs
from peer import Message, StdioPeer, kill_all

sys.path.insert(0, str(target_defs.BENCH_DIR.parent / "tests"))

from support import local_models

PROMPT = "Write three sentences about lighthouses."


def provider_config(base_url: str, wire: str) -> str:
    return (
        'model = "smollm2"\nmodel_provider = "local"\napproval_policy = "never"\n'
        f'[model_providers.local]\nname = "local"\nbase_url = "{base_url}"\nwire_api = "{wire}"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )


async def one_turn(peer: StdioPeer, deltas: list[float]) -> float:
    """Run one turn on a new thread; return turn/start written → first delta (s)."""
    deltas.clear()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_notification(message: Message) -> None:
        method = message.get("method")
        if method == "item/agentMessage/delta":
            deltas.append(time.perf_counter())
        elif method == "turn/completed" and not done.done():
            done.set_result(None)

    peer.notification_listeners[:] = [on_notification]
    thread = await peer.request("thread/start", {})
    written = time.perf_counter()
    await peer.request("turn/start", {"threadId": thread["thread"]["id"], "input": [{"type": "text", "text": PROMPT}]})
    await asyncio.wait_for(done, 600)
    if not deltas:
        raise RuntimeError("the turn streamed no text")
    return deltas[0] - written


async def through_target(
    target: target_defs.Target, proxy: local_models.RecordingProxy, turns: int, wire: str
) -> dict[str, Any]:
    home = target.root / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(provider_config(proxy.base_url, wire))
    peer = target.peer(home, "local-model")
    first_delta: list[float] = []
    lags: list[float] = []
    try:
        await peer.start()
        await peer.request("initialize", {"clientInfo": {"name": "bench", "version": "1"}})
        await peer.notify("initialized")
        deltas: list[float] = []
        for turn in range(turns + 1):
            proxy.exchanges.clear()
            latency = await one_turn(peer, deltas)
            arrivals = [at for exchange in proxy.exchanges for at, _ in local_models.text_arrivals(exchange)]
            if turn == 0:
                continue  # warm-up
            first_delta.append(latency)
            lags += [client - upstream for upstream, client in zip(arrivals, deltas, strict=False)]
            if len(arrivals) != len(deltas):
                print(f"  note: {len(arrivals)} text pieces upstream, {len(deltas)} deltas", file=sys.stderr)
        request = proxy.exchanges[-1]
    finally:
        await peer.close()
    return {"first_delta": first_delta, "lags": lags, "request": request}


async def model_alone(base_url: str, path: str, body: Any, turns: int) -> dict[str, list[float]]:
    first: list[float] = []
    rates: list[float] = []
    for turn in range(turns + 1):
        written = time.perf_counter()
        pieces: list[float] = []
        output_tokens = 0
        async for arrived, event in local_models.stream_directly(base_url, path, body):
            text = event.get("delta") if event.get("type") == "response.output_text.delta" else None
            for choice in event.get("choices") or ():
                text = text or (choice.get("delta") or {}).get("content")
            if text:
                pieces.append(arrived)
            usage = event.get("usage") or (event.get("response") or {}).get("usage") or {}
            output_tokens = usage.get("completion_tokens") or usage.get("output_tokens") or output_tokens
        if turn == 0 or not pieces:
            continue
        first.append(pieces[0] - written)
        if len(pieces) > 1:
            rates.append((output_tokens or len(pieces)) / (pieces[-1] - pieces[0]))
    return {"first": first, "rates": rates}


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f}" if values else "-"


def lag_text(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered) * 1000:.2f} / {p90 * 1000:.2f} / {ordered[-1] * 1000:.2f}"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["llama-cpp-python", "llama-server"], default="llama-cpp-python")
    parser.add_argument("--wire", choices=["chat", "responses"], default="chat")
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--targets", default="ours")
    args = parser.parse_args()
    on_python = args.server == "llama-cpp-python"
    unavailable = local_models.tier_unavailable() if on_python else local_models.llama_server_unavailable()
    if unavailable:
        print(unavailable, file=sys.stderr)
        return 2
    path = "/chat/completions" if args.wire == "chat" else "/responses"
    run_dir = Path(tempfile.mkdtemp(prefix="local-model-", dir=target_defs.CACHE_DIR))
    make_server = local_models.llama_cpp_python if on_python else local_models.llama_server
    columns: dict[str, dict[str, str]] = {}
    async with make_server(run_dir / "logs") as model:
        for name in args.targets.split(","):
            target = getattr(target_defs, name)(run_dir, model.base_url)
            print(f"[{name}] {args.turns} turns on {args.server} ({args.wire}) ...", file=sys.stderr)
            async with local_models.RecordingProxy(model.port) as proxy:
                seen = await through_target(target, proxy, args.turns, args.wire)
            request = seen["request"]
            alone = await model_alone(model.base_url, path, request.body, args.turns)
            prompt_tokens = _input_tokens(request.text)
            columns[name] = {
                "prompt (request bytes / input tokens)": f"{len(json.dumps(request.body)):,} / {prompt_tokens}",
                "model tokens/s, model server alone": _rate(alone["rates"]),
                "time to first text, model server alone (ms)": ms(alone["first"]),
                "time to first delta through the target (ms)": ms(seen["first_delta"]),
                "relay lag per delta, median / p90 / max (ms)": lag_text(seen["lags"]),
                "deltas measured": str(len(seen["lags"])),
            }
    kill_all()
    print(f"\nSmolLM2-135M on {args.server}, {args.wire} wire; median of {args.turns} turns after 1 warm-up\n")
    print("| metric | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for metric in next(iter(columns.values()), {}):
        print(f"| {metric} | " + " | ".join(column[metric] for column in columns.values()) + " |")
    return 0


def _rate(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def _input_tokens(stream_text: str) -> str:
    for line in reversed(stream_text.splitlines()):
        if line.startswith("data: {"):
            event = json.loads(line[6:])
            usage = event.get("usage") or (event.get("response") or {}).get("usage") or {}
            tokens = usage.get("prompt_tokens") or usage.get("input_tokens")
            if tokens:
                return str(tokens)
    return "?"


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
