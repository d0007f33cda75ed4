"""Per-call latency tables, ours vs the reference: run one measurement on each target in turn and
print a Markdown table (one row per metric, one column per target), plus the median / p95 helper
such tables use. Shared by ``surface.py`` and ``plugins.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent_app_server.testing.fake_model import FakeModelServer

# Run as a script, this directory is on sys.path: the helpers are plain modules next to this file.
from peer import kill_all
from targets import Target, Unavailable, ours, reference

Measure = Callable[[Target], Awaitable[dict[str, str]]]


def median_p95(samples: list[float]) -> str:
    """Seconds → ``median / p95`` in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:7.2f} / {p95 * 1000:7.2f}"


async def print_table(measure: Measure, *, only: str | None, models: tuple[str, ...] = ("mock-model",)) -> None:
    """Measure ``ours`` then ``reference`` (or ``only`` one) against a fake model; print the table."""
    results: dict[str, dict[str, str]] = {}
    async with FakeModelServer(models=models) as model:
        with tempfile.TemporaryDirectory(dir=Path.home()) as run_dir:
            for name, make in (("ours", ours), ("reference", reference)):
                if only and only != name:
                    continue
                try:
                    target = make(Path(run_dir), model.base_url)
                except Unavailable as exc:
                    print(f"{name}: unavailable ({exc})", file=sys.stderr)
                    continue
                results[name] = await measure(target)
    kill_all()
    names = list(results)
    keys = list(next(iter(results.values()))) if results else []
    print(f"| call (ms) | {' | '.join(names)} |")
    print("|---|" + "---|" * len(names))
    for key in keys:
        print(f"| {key} | " + " | ".join(results[name].get(key, "n/a") for name in names) + " |")
