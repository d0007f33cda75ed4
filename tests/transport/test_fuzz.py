"""A short seeded run of the wire fuzzer (``agent_app_server.testing.wire_fuzz``) against the real
server, over stdio and over WebSocket: after every batch the server still answers a sentinel
request, and every request got exactly one answer. ``bench/fuzz.py`` runs the long version."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.testing.wire_fuzz import FrameGenerator, handshake, run_fuzz, server_link

MESSAGES = 5_000
SEED = 18


@pytest.mark.parametrize("transport", ["stdio", "websocket"])
async def test_fuzzed_frames_never_crash_hang_or_go_unanswered(transport: str, codex_home: Path) -> None:
    async with server_link(transport, codex_home) as link:
        await handshake(link)
        generator = FrameGenerator(SEED, text_only=transport == "websocket")
        report = await run_fuzz(link, generator, messages=MESSAGES, batch=250)
        assert link.alive()
    assert report.ok, report.summary()
    assert report.messages == MESSAGES
    # The run exercised every kind of case (invalid UTF-8 only where a frame can carry it).
    assert len(report.kinds) == (16 if transport == "websocket" else 17), report.kinds
