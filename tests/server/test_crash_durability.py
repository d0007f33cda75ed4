"""kill -9 at many points of a turn: what a client was told is complete survives the crash.

A real server process on a real CODEX_HOME, the fake model, and a kill triggered by what the
client reads (never by time): before any model output, mid-stream, after items, during an
approval wait, during a running command. After each kill the server restarts on the same home;
``agent_app_server.testing.crash`` checks ``thread/read``, the turn status and the next model
request. ``bench/crash_kills.py`` runs the full list (≥ 30 kills) against us and the reference.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing import FakeModelServer
from agent_app_server.testing.crash import CrashRun, scenarios
from support.model_config import write_mock_config
from support.schema_check import SchemaChecker

pytestmark = pytest.mark.compat("turn:crash-context")


@pytest.fixture
async def model() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


def crash_run(codex_home: Path, workspace: Path, model: FakeModelServer, checker: SchemaChecker) -> CrashRun:
    write_mock_config(codex_home, model.base_url)
    workspace.mkdir(exist_ok=True)
    run = CrashRun(
        [sys.executable, "-m", "agent_app_server"],
        env={**os.environ, "CODEX_HOME": str(codex_home), "MOCK_API_KEY": "test-key"},
        cwd=workspace,
        model=model,
        observer=checker.check,
        exact=True,
    )
    model.default_script = run.script_source
    return run


async def test_kill_minus_9_loses_no_announced_item(codex_home: Path, tmp_path: Path, model: FakeModelServer) -> None:
    checker = SchemaChecker()
    run = crash_run(codex_home, tmp_path / "workspace", model, checker)
    plan = scenarios(item_points=(2, 3, 4, 6), notification_points=(5, 14))
    report = await run.run(plan)
    assert report.kills == len(plan) >= 12
    assert report.announced > 2 * report.kills
    assert report.lost == [], report.summary()
    assert report.context_missing == [], report.summary()
    assert report.problems == [], report.summary()
    assert not checker.violations, checker.violations[:5]


async def test_next_turn_after_a_crash_is_told_the_last_one_was_cut(
    codex_home: Path, tmp_path: Path, model: FakeModelServer
) -> None:
    checker = SchemaChecker()
    run = crash_run(codex_home, tmp_path / "workspace", model, checker)
    plan = [next(s for s in scenarios() if "stalled after the first delta" in s.name)]
    report = await run.run(plan)
    assert (report.kills, report.lost, report.problems) == (1, [], []), report.summary()
    last: dict[str, Any] = model.response_requests()[-1].body
    texts = [part.get("text", "") for item in last["input"] for part in item.get("content") or []]
    assert texts[-1] == "task: final turn, not killed"
    assert "<turn_aborted>" in texts[-2]


def test_scenarios_cover_the_kill_points_the_issue_names() -> None:
    names = " | ".join(scenario.name for scenario in scenarios())
    for point in ("before any model output", "mid-stream", "after item", "approval wait", "running command"):
        assert point in names
    assert len(scenarios(rounds=2)) >= 30
