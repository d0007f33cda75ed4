"""The terminal UI keeping up with the fastest stream: the time from the last delta of a
20,000-delta answer reaching the UI to the frame that shows its last character, and how long a
keystroke takes to appear in the composer while an answer streams.

    .venv/bin/python bench/tui_render.py [--deltas 20000] [--rounds 3] [--keys 40]

The UI runs headless (Textual's test driver) on an embedded server of ours with the fake model;
a "frame" is Textual's composed screen (``post_display_hook``); writing it to a real terminal is
not counted. Two answer shapes: one paragraph (the worst case: every frame re-lays the whole
paragraph out) and paragraphs of 50 words (a typical answer). Target (issue 12): fully drawn
within 1 s of the last delta; a keystroke echoed within one frame (16.7 ms at 60 Hz).
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from textual import events

from agent_app_server.client import Event
from agent_app_server.embedded import connect_embedded
from agent_app_server.testing import FakeModelServer, paced, text_reply
from agent_app_server.tui.app import ConnectionWatch, TuiApp
from agent_app_server.tui.cells import AnswerCell


class TimedApp(TuiApp):
    """Records when deltas arrive and when frames are composed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_delta_at = 0.0
        self.deltas = 0
        self.frames: list[float] = []
        self.on_frame: list[Any] = []

    async def on_server_event(self, event: Event) -> None:
        if event.method == "item/agentMessage/delta":
            self.deltas += 1
            self.last_delta_at = time.perf_counter()
        await super().on_server_event(event)

    def post_display_hook(self) -> None:
        super().post_display_hook()
        now = time.perf_counter()
        self.frames.append(now)
        for check in list(self.on_frame):
            check(now)


def answer(deltas: int, paragraph_words: int | None) -> tuple[str, list[str]]:
    pieces = []
    for index in range(deltas):
        end = "\n\n" if paragraph_words and (index + 1) % paragraph_words == 0 else " "
        pieces.append(f"w{index}{end}")
    return "".join(pieces), pieces


async def open_app(home: Path, workspace: Path) -> tuple[TimedApp, Any]:
    watch = ConnectionWatch()
    client = await connect_embedded(home, options=watch.options())
    return TimedApp(client, connection=watch, cwd=str(workspace)), client


async def drawn_after_last_delta(
    home: Path, workspace: Path, fake: FakeModelServer, deltas: int, shape: int | None
) -> float:
    """Milliseconds from the last delta reaching the UI to the first frame showing all of it."""
    text, pieces = answer(deltas, shape)
    fake.enqueue(text_reply(text, deltas=pieces))
    app, client = await open_app(home, workspace)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.thread_id is None:
                await pilot.pause(0.01)
            done = asyncio.get_running_loop().create_future()

            def check(now: float) -> None:
                cells = list(app.transcript.query(AnswerCell))
                if cells and app.deltas == deltas and cells[0].drawn == text and not done.done():
                    done.set_result(now)

            app.on_frame.append(check)
            await app.submit("stream it")
            drawn_at = await asyncio.wait_for(done, 120)
            return (drawn_at - app.last_delta_at) * 1000
    finally:
        await client.aclose()


async def echo_latencies(home: Path, workspace: Path, fake: FakeModelServer, keys: int) -> list[float]:
    """Milliseconds from a key event to the frame showing it in the composer, while 20,000 deltas stream."""
    text, pieces = answer(20_000, 50)
    fake.enqueue(paced(text_reply(text, deltas=pieces), every=200, pause=0.05))
    app, client = await open_app(home, workspace)
    latencies: list[float] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.thread_id is None:
                await pilot.pause(0.01)
            await app.submit("stream it")
            while app.deltas < 500:
                await pilot.pause(0.01)
            for index in range(keys):
                char = "abcdefghij"[index % 10]
                expected = len(app.composer.text) + 1
                shown = asyncio.get_running_loop().create_future()

                def check(now: float, expected: int = expected, shown: Any = shown) -> None:
                    if len(app.composer.text) >= expected and not shown.done():
                        shown.set_result(now)

                app.on_frame.append(check)
                sent = time.perf_counter()
                app.post_message(events.Key(char, char))
                at = await asyncio.wait_for(shown, 10)
                app.on_frame.remove(check)
                latencies.append((at - sent) * 1000)
                await asyncio.sleep(0.05)  # a typist's pace
            typed_by = app.deltas
            # Let the answer finish, so nothing is cut off mid-stream on the way out.
            while app.turns_completed == 0:
                await pilot.pause(0.05)
            print(f"  (the keys were typed while the first {typed_by} of 20000 deltas arrived)")
    finally:
        await client.aclose()
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home, workspace = Path(tmp) / "home", Path(tmp) / "ws"
        home.mkdir()
        workspace.mkdir()
        async with FakeModelServer() as fake:
            (home / "config.toml").write_text(
                f'model = "mock-model"\nmodel_provider = "mock"\n[model_providers.mock]\nname = "mock"\n'
                f'base_url = "{fake.base_url}"\nwire_api = "responses"\nenv_key = "MOCK_API_KEY"\n'
                "request_max_retries = 0\nstream_max_retries = 0\n"
            )
            os.environ.setdefault("MOCK_API_KEY", "bench")
            for label, shape in (("one paragraph", None), ("paragraphs of 50 words", 50)):
                runs = [
                    await drawn_after_last_delta(home, workspace, fake, args.deltas, shape) for _ in range(args.rounds)
                ]
                each = ", ".join(f"{r:.0f}" for r in runs)
                print(
                    f"{args.deltas} deltas, {label}: last delta → fully drawn "
                    f"median {statistics.median(runs):.0f} ms (runs: {each}; target < 1000)"
                )
            latencies = await echo_latencies(home, workspace, fake, args.keys)
            latencies.sort()
            p95 = latencies[int(len(latencies) * 0.95) - 1]
            print(
                f"keystroke echo while streaming: median {statistics.median(latencies):.1f} ms, "
                f"p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms over {len(latencies)} keys (one frame at 60 Hz: 16.7 ms)"
            )


if __name__ == "__main__":
    asyncio.run(main())
