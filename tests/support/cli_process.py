"""Running ``agent-app-server`` subcommands as a user would: a real process, bounded."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


async def cli(home: Path, *args: str, stdin: str | None = None, cwd: Path | None = None) -> Ran:
    """``python -m agent_app_server ARGS`` with CODEX_HOME=home; bounded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CODEX_HOME": str(home)},
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin is not None else None), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())
