"""Frames that once killed the server or silenced a connection, over stdio and WebSocket.

Each test is named after the defect it guards against (issue 18); each ends by checking that the
same connection still answers a sentinel request.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from agent_app_server.rpc.state import MAX_JSON_DEPTH
from support.server_process import ServerProcess
from support.wire import Wire

SENTINEL = "thread/loaded/list"


async def assert_still_serving(wire: Wire) -> None:
    assert "result" in await wire.call(SENTINEL, {})
    assert wire.alive()


def nested_params(depth: int) -> str:
    """A valid request whose whole message nests ``depth`` levels (envelope and params included)."""
    inner = depth - 2
    return json.dumps({"id": 41, "method": SENTINEL, "params": {"a": "@"}}).replace('"@"', "[" * inner + "]" * inner)


@pytest.mark.compat("rpc:parse-error-reply")
@pytest.mark.parametrize("frame", ["[" * 1000, nested_params(980), nested_params(MAX_JSON_DEPTH + 1)])
async def test_deeply_nested_json_does_not_end_the_process_or_drop_the_connection(wire: Wire, frame: str) -> None:
    before = len(wire.received)
    await wire.send_text(frame)
    await assert_still_serving(wire)
    errors = [m for m in wire.received[before:] if "error" in m]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, -32700)]
    assert f"more than {MAX_JSON_DEPTH} levels" in errors[0]["error"]["message"]


async def test_nesting_up_to_the_limit_is_accepted(wire: Wire) -> None:
    answer = wire.expect(41, SENTINEL)
    await wire.send_text(nested_params(MAX_JSON_DEPTH))
    assert "result" in await asyncio.wait_for(answer, 20)


@pytest.mark.compat("rpc:lone-surrogates")
@pytest.mark.parametrize(
    "frame",
    [
        r'{"id": "\ud800", "method": "thread/loaded/list", "params": {}}',
        r'{"id": 42, "method": "x\ud800", "params": {}}',
        r'{"id": 42, "method": "thread/name/set", "params": {"threadId": "THREAD", "name": "\udc00"}}',
    ],
)
async def test_a_lone_surrogate_to_be_echoed_back_does_not_silence_the_connection(wire: Wire, frame: str) -> None:
    thread_id = (await wire.call("thread/start", {}))["result"]["thread"]["id"]
    before = len(wire.received)
    await wire.send_text(frame.replace("THREAD", thread_id))
    await assert_still_serving(wire)
    errors = [m for m in wire.received[before:] if "error" in m]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, -32700)]
    assert "lone surrogate" in errors[0]["error"]["message"]
    thread = (await wire.call("thread/read", {"threadId": thread_id}))["result"]["thread"]
    assert thread["name"] is None


@pytest.mark.compat("rpc:lone-surrogates")
async def test_a_reply_that_is_not_utf8_encodable_is_escaped_not_lost(wire: Wire, tmp_path: Path) -> None:
    # os.listdir hands a file name that is not UTF-8 to Python as a lone surrogate (\udcff).
    directory = tmp_path / "names"
    directory.mkdir()
    (directory / os.fsdecode(b"\xff.txt")).touch()
    answer = await wire.call("fs/readDirectory", {"path": str(directory)})
    assert [entry["fileName"] for entry in answer["result"]["entries"]] == ["\udcff.txt"]
    await assert_still_serving(wire)


@pytest.mark.compat("rpc:lone-surrogates")
async def test_a_surrogate_encoded_as_utf8_bytes_is_refused_as_invalid_utf8(server: ServerProcess) -> None:
    before = len(server.received)
    await server.send_raw(b'{"id": 7, "method": "x\xed\xa0\x80", "params": {}}\n')
    assert "result" in await server.call(SENTINEL, {})
    errors = [m for m in server.received[before:] if "error" in m]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, -32700)]
