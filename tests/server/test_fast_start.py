"""The stdio fast start (``server.handshake``): ``initialize`` answered before the server loads,
exactly as the full path would answer it, and everything read with it served afterwards, in order
and once."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest

from agent_app_server.protocol import ClientInfo, InitializeCapabilities, InitializeParams
from agent_app_server.server import handshake
from agent_app_server.server.handshake import Handshake, fast_handshake, read_whole_lines
from agent_app_server.transport.stdio import DEFAULT_MAX_LINE_BYTES
from support.server_process import ServerProcess

CLIENT = {"name": "ide", "version": "1.0"}

#: (params, whether the fast path takes them); the rest goes to the full path.
SAMPLES: list[tuple[Any, bool]] = [
    ({"clientInfo": CLIENT}, True),
    ({"clientInfo": {**CLIENT, "title": "IDE"}}, True),
    ({"clientInfo": {**CLIENT, "title": None}, "capabilities": None}, True),
    ({"clientInfo": CLIENT, "capabilities": {}}, True),
    ({"clientInfo": CLIENT, "capabilities": {"experimentalApi": True}}, True),
    ({"clientInfo": CLIENT, "capabilities": {"optOutNotificationMethods": ["thread/started"]}}, True),
    ({"clientInfo": CLIENT, "capabilities": {"optOutNotificationMethods": None, "eventReplay": True}}, True),
    ({"clientInfo": CLIENT, "capabilities": {"extensions": {"x": 1}, "requestAttestation": False}}, True),
    ({"clientInfo": {**CLIENT, "extra": [1]}, "unknownTopLevel": 1}, True),
    (None, False),
    ([], False),
    ({}, False),
    ({"capabilities": {}}, False),
    ({"clientInfo": {"name": "ide"}}, False),
    ({"clientInfo": {**CLIENT, "version": 1}}, False),
    ({"clientInfo": {**CLIENT, "title": 5}}, False),
    ({"clientInfo": "ide"}, False),
    ({"clientInfo": CLIENT, "capabilities": []}, False),
    ({"clientInfo": CLIENT, "capabilities": {"experimentalApi": 1}}, False),
    ({"clientInfo": CLIENT, "capabilities": {"experimentalApi": "yes"}}, False),
    ({"clientInfo": CLIENT, "capabilities": {"optOutNotificationMethods": "thread/started"}}, False),
    ({"clientInfo": CLIENT, "capabilities": {"optOutNotificationMethods": [1]}}, False),
    ({"clientInfo": CLIENT, "capabilities": {"extensions": []}}, False),
    # snake_case names are the models' to interpret (they populate by name as well as alias).
    ({"client_info": CLIENT}, False),
    ({"clientInfo": CLIENT, "client_info": CLIENT}, False),
    ({"clientInfo": CLIENT, "capabilities": {"experimental_api": True}}, False),
]


def _full_path(params: Any) -> Handshake:
    model = InitializeParams.model_validate(params)
    capabilities = model.capabilities
    return Handshake.of(
        model.client_info.name,
        params.get("capabilities"),
        capabilities.opt_out_notification_methods if capabilities is not None else None,
        bool(capabilities.experimental_api) if capabilities is not None else False,
    )


@pytest.mark.parametrize(("params", "fast"), SAMPLES)
def test_the_fast_path_takes_only_what_the_models_read_the_same(params: Any, fast: bool) -> None:
    taken = fast_handshake(params)
    assert (taken is not None) == fast
    if taken is not None:
        assert taken == _full_path(params)


def test_the_field_tables_are_the_models() -> None:
    assert set(InitializeParams.model_fields) == {"client_info", "capabilities"}
    info = ClientInfo.model_fields.values()
    assert set(handshake.CLIENT_INFO_FIELDS) == {field.alias for field in info}
    assert set(handshake.CLIENT_INFO_REQUIRED) == {field.alias for field in info if field.is_required()}
    capabilities = InitializeCapabilities.model_fields.values()
    assert set(handshake.CAPABILITY_FIELDS) == {field.alias for field in capabilities}
    assert not any(field.is_required() for field in capabilities)
    assert handshake.MAX_LINE_BYTES == DEFAULT_MAX_LINE_BYTES


def _read(*writes: bytes, close: bool = True, max_line: int = 16) -> tuple[list[bytes | None], bool]:
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, b"".join(writes))
        if close:
            os.close(write_fd)
        return read_whole_lines(read_fd, max_line)
    finally:
        os.close(read_fd)
        if not close:
            os.close(write_fd)


def test_reading_stops_at_a_line_boundary() -> None:
    assert _read(b"one\n", close=False) == ([b"one\n"], False)
    assert _read(b"one\ntwo\n\nthree\n", close=False) == ([b"one\n", b"two\n", b"\n", b"three\n"], False)
    assert _read(b"one\ntw", b"o\n", close=False) == ([b"one\n", b"two\n"], False)


def test_reading_to_the_end_of_input() -> None:
    assert _read(b"one\nlast") == ([b"one\n", b"last"], True)
    assert _read(b"") == ([], True)
    assert _read(b"one\n  ") == ([b"one\n"], True)


def test_an_overlong_line_is_discarded_and_marked() -> None:
    assert _read(b"x" * 40 + b"\nnext\n", close=False) == ([None, b"next\n"], False)
    assert _read(b"ok\n" + b"y" * 20 + b"\n", close=False) == ([b"ok\n", None], False)
    assert _read(b"z" * 40) == ([None], True)


@pytest.mark.subprocess  # the fast start runs only in the real stdio process
async def test_requests_sent_with_initialize_are_answered_in_order_once(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    messages: list[dict[str, Any]] = [
        {"id": 1, "method": "initialize", "params": {"clientInfo": CLIENT}},
        {"method": "initialized"},
        {"id": 2, "method": "thread/loaded/list", "params": {}},
        {"id": 3, "method": "thread/start", "params": {}},
        {"id": 4, "method": "initialize", "params": {"clientInfo": CLIENT}},
        {"id": 5, "method": "thread/loaded/list", "params": {}},
    ]
    methods = {message["id"]: message["method"] for message in messages if "id" in message}
    answers = [server.expect(request_id, method) for request_id, method in methods.items()]
    await server.send_raw(b"".join(json.dumps(message).encode() + b"\n" for message in messages))
    replies = await asyncio.wait_for(asyncio.gather(*answers), 30)
    assert "userAgent" in replies[0]["result"]
    assert replies[1]["result"] == {"data": [], "nextCursor": None}
    thread_id = replies[2]["result"]["thread"]["id"]
    assert replies[3]["error"] == {"code": -32600, "message": "Already initialized"}
    assert replies[4]["result"]["data"] == [thread_id]
    responses = [message["id"] for message in server.received if "id" in message and "method" not in message]
    assert responses == [1, 2, 3, 4, 5]


@pytest.mark.subprocess  # the fast start runs only in the real stdio process
async def test_the_full_path_answers_what_the_fast_path_leaves(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    # snake_case: not the fast path's to decide; the models accept it by name.
    response = await server.call("initialize", {"client_info": {"name": "snake", "version": "1"}})
    assert response["result"]["userAgent"].startswith("snake/0.169.0 (")
    assert (await server.call("initialize", {"clientInfo": CLIENT}))["error"]["message"] == "Already initialized"


@pytest.mark.subprocess  # the fast start runs only in the real stdio process
async def test_the_fast_answer_is_the_full_paths(spawn) -> None:  # type: ignore[no-untyped-def]
    fast: ServerProcess = await spawn()
    full: ServerProcess = await spawn()
    await full.send({"method": "initialized"})  # first is not initialize: the server answers it
    fast_result = await fast.result("initialize", {"clientInfo": CLIENT})
    full_result = await full.result("initialize", {"clientInfo": CLIENT})
    assert fast_result == full_result


@pytest.mark.subprocess  # the fast start runs only in the real stdio process
async def test_an_invalid_first_message_is_answered_as_before(spawn) -> None:  # type: ignore[no-untyped-def]
    server: ServerProcess = await spawn()
    await server.send_raw(b"{not json\n")
    response = await server.call("initialize", {"clientInfo": {"name": 7, "version": "1"}})
    assert response["error"]["code"] == -32602 and "clientInfo.name" in response["error"]["message"]
    await server.initialize()
    parse_errors = [m for m in server.received if m.get("error", {}).get("code") == -32700]
    assert len(parse_errors) == 1 and parse_errors[0]["id"] is None
