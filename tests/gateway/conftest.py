"""Fixtures of the gateway's tests: the fake model, our server as real WebSocket processes on a
CODEX_HOME pointing at it, a fake change-management service, and gateway processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.gateway import ChangeManagement, GatewayProcess, StartGateway
from support.model_fixtures import home, model, workspace
from support.ws_client import Spawner, ws_servers

__all__ = ["home", "model", "workspace"]


@pytest.fixture
async def ws_spawn(home: Path, tmp_path: Path) -> AsyncIterator[Spawner]:
    async with ws_servers(home, tmp_path) as spawn:
        yield spawn


@pytest.fixture
async def change_management() -> AsyncIterator[ChangeManagement]:
    async with ChangeManagement() as service:
        yield service


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "gateway.sqlite3"


@pytest.fixture
async def start_gateway(tmp_path: Path, database: Path) -> AsyncIterator[StartGateway]:
    """``start_gateway(servers, policy_text, *flags)``: a gateway process (stopped at the end)."""
    started: list[GatewayProcess] = []

    async def start(servers: list[str], policy: str | Path, *flags: str, ready: bool = True) -> GatewayProcess:
        if isinstance(policy, str):
            path = tmp_path / f"policy-{len(started)}.toml"
            path.write_text(policy)
        else:
            path = policy
        gateway = GatewayProcess(tmp_path, servers, path, database, "--listen", "127.0.0.1:0", *flags)
        started.append(gateway)
        return await gateway.start(ready=ready)

    yield start
    for index, gateway in enumerate(started):
        await gateway.stop()
        print(f"--- gateway {index} log ---\n{gateway.log}")  # shown when the test failed
