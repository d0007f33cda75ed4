"""Fixtures for the terminal UI's tests: a fake model, a CODEX_HOME pointing at it, and the app
running headless (Textual's pilot) on an embedded server of ours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.embedded import connect_embedded
from agent_app_server.tui.app import ConnectionWatch, TuiApp
from support.model_fixtures import home, model, workspace
from support.tui import Driver, OpenApp

__all__ = ["home", "model", "workspace"]


@pytest.fixture
def open_app(home: Path, workspace: Path) -> OpenApp:
    """``async with open_app(prompt=..., overrides=[...]) as driver``: the app on an embedded server."""

    @asynccontextmanager
    async def run(
        *, overrides: tuple[str, ...] = (), size: tuple[int, int] = (100, 40), **kwargs: Any
    ) -> AsyncIterator[Driver]:
        watch = ConnectionWatch()
        client = await connect_embedded(home, overrides=overrides, options=watch.options())
        try:
            app = TuiApp(client, connection=watch, cwd=str(workspace), **kwargs)
            async with app.run_test(size=size) as pilot:
                driver = Driver(app, pilot)
                await driver.until(lambda: app.ready.is_set() and app.thread_id is not None, "the thread to start")
                yield driver
        finally:
            await client.aclose()

    return run
