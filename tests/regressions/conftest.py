"""A real server whose working directory and home are known, with a fake model behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer
from support.model_config import write_mock_config
from support.server_process import ServerProcess

Spawn = Callable[..., Coroutine[Any, Any, ServerProcess]]


@dataclass
class Placed:
    """The server, the directory it runs in and its ``$HOME``."""

    server: ServerProcess
    cwd: Path
    home: Path
    model: FakeModelServer


@pytest.fixture
async def placed(spawn: Spawn, codex_home: Path, tmp_path: Path) -> AsyncIterator[Placed]:
    cwd, home = tmp_path / "workdir", tmp_path / "home"
    (cwd / "src").mkdir(parents=True)
    (cwd / "src" / "main.py").write_text("print('hi')\n")
    home.mkdir()
    async with FakeModelServer() as model:
        write_mock_config(codex_home, model.base_url)
        server = await spawn(cwd=cwd, env={"HOME": str(home), "MOCK_API_KEY": "x"})
        await server.initialize(experimental=True)
        yield Placed(server, cwd, home, model)
