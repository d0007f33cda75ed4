"""A CODEX_HOME whose config points the `mock` provider at a fake model server (as the
reference README does for its oracle runs)."""

from __future__ import annotations

import sys
from pathlib import Path

#: The test MCP server (``support/mcp_echo_server.py``) as a stdio server named ``echo``, as a
#: config.toml table.
ECHO_SERVER = Path(__file__).resolve().parent / "mcp_echo_server.py"
MCP_CONFIG = f'[mcp_servers.echo]\ncommand = "{sys.executable}"\nargs = ["{ECHO_SERVER}"]\nstartup_timeout_sec = 30\n'


def write_mock_config(
    codex_home: Path, base_url: str, *, model: str = "mock-model", wire_api: str = "responses", extra: str = ""
) -> None:
    (codex_home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "mock"\n'
        f"{extra}\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{base_url}"\n'
        f'wire_api = "{wire_api}"\n'
        'env_key = "MOCK_API_KEY"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
