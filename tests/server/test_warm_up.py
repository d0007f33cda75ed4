"""The server loads what a session's first requests need in the background (``WARM_METHODS``):
in a fresh process, once the warm-up has run, the handler module is imported and the params and
reply models are built, before any request arrives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import asyncio, sys
from pathlib import Path
from agent_app_server.core.config import load_config
from agent_app_server.protocol import METHODS
from agent_app_server.server.app import WARM_METHODS, AppServer

async def main() -> None:
    app = await AppServer.open(load_config(Path(sys.argv[1]), []))
    handlers = [f"agent_app_server.server.handlers.{METHODS[method].handlers}" for method in WARM_METHODS]
    models = [model for method in WARM_METHODS for model in (METHODS[method].params, METHODS[method].result)]
    before = [name in sys.modules for name in handlers] + [model.__pydantic_complete__ for model in models]
    app.start_background()
    await app.warmed_up()
    after = [name in sys.modules for name in handlers] + [model.__pydantic_complete__ for model in models]
    await app.close()
    print(before, after)

asyncio.run(main())
"""


def test_the_first_requests_code_loads_before_they_arrive(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    before, after = completed.stdout.strip().split("] [")
    assert "True" not in before
    assert "False" not in after
