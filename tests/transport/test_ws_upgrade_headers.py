"""Header edge cases on the WebSocket upgrade, through the real server process."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from support.ws_client import ws_servers

TOKEN = "capability-token-for-tests"


async def upgrade_status(url: str, headers: list[tuple[str, str]]) -> tuple[int, str]:
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            await ws.close()
            return 101, ""
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.body.decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([f"Bearer {TOKEN}", "Bearer wrong"], (101, "")),
        (["Bearer wrong", f"Bearer {TOKEN}"], (401, "invalid websocket bearer token")),
        ([f"Bearer {TOKEN}", f"Bearer {TOKEN}"], (101, "")),
    ],
)
async def test_two_authorization_headers_are_not_an_internal_error(
    codex_home: Path, tmp_path: Path, headers: list[str], expected: tuple[int, str]
) -> None:
    """Issue 18.5: two headers gave HTTP 500; like the reference, the first one is the credential."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    async with ws_servers(codex_home, tmp_path) as spawn:
        server = await spawn(args=("--ws-auth", "capability-token", "--ws-token-file", str(token_file)))
        assert await upgrade_status(server.url, [("Authorization", value) for value in headers]) == expected
        # The refusal or acceptance left the listener serving.
        assert await upgrade_status(server.url, [("Authorization", f"Bearer {TOKEN}")]) == (101, "")
