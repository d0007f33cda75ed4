"""Bad input never crashes the server, and every request gets exactly one answer (over stdio)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from support.server_process import ServerProcess

#: Raw bytes on the real stdio transport: framing, encoding and size limits are the subject.
pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json\n", -32700),
        (b"[1,2]\n", -32600),
        (b"[]\n", -32600),
        (b"42\n", -32600),
        (b'{"id": true, "method": "thread/loaded/list"}\n', -32600),
        (b'{"id": 1e400, "method": "thread/loaded/list"}\n', -32600),
        (b'{"id": 123456789012345678901234567890, "method": "thread/loaded/list"}\n', -32600),
        (b"\xff\xfe garbage bytes\n", -32700),
    ],
)
@pytest.mark.compat("rpc:parse-error-reply")
@pytest.mark.compat("rpc:id-range")
async def test_malformed_messages_get_errors_and_the_connection_stays(
    server: ServerProcess, raw: bytes, code: int
) -> None:
    before = len(server.received)
    await server.send_raw(raw)
    response = await server.call("thread/loaded/list", {})
    assert "result" in response
    errors = [m for m in server.received[before:] if "error" in m]
    assert [(e["id"], e["error"]["code"]) for e in errors] == [(None, code)]
    assert errors[0]["error"]["message"]


async def test_empty_lines_are_ignored(server: ServerProcess) -> None:
    await server.send_raw(b"\n\n   \n")
    assert "result" in await server.call("thread/loaded/list", {})
    assert not [m for m in server.received if "error" in m]


async def test_message_without_method_or_result(server: ServerProcess) -> None:
    future = server.expect(18, "thread/loaded/list")
    await server.send({"id": 18})
    response = await asyncio.wait_for(future, 10)
    assert response["error"]["code"] == -32600


@pytest.mark.compat("rpc:standard-codes")
async def test_unknown_method_is_method_not_found(server: ServerProcess) -> None:
    error = (await server.call("foo/bar", {}))["error"]
    assert error["code"] == -32601 and "foo/bar" in error["message"]
    # A reference method we have not implemented is also -32601, never a fake result.
    error = (await server.call("app/list", {}))["error"]
    assert error["code"] == -32601 and "app/list" in error["message"]


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("thread/read", {"threadId": 5}, "threadId"),
        ("thread/read", {"threadId": "x", "includeTurns": "yes"}, "includeTurns"),
        ("thread/list", {"limit": -1}, "limit"),
        ("thread/list", {"sortKey": "name"}, "sortKey"),
        ("thread/start", {"approvalPolicy": "sometimes"}, "approvalPolicy"),
        ("thread/name/set", {"threadId": "x"}, "name"),
        ("thread/loaded/list", [], "params"),
        ("thread/loaded/list", "text", "params"),
    ],
)
async def test_bad_params_name_the_field(server: ServerProcess, method: str, params: object, field: str) -> None:
    error = (await server.call(method, params))["error"]
    assert error["code"] == -32602
    assert f"`{field}`" in error["message"], error["message"]


@pytest.mark.compat("rpc:params-optional")
async def test_missing_params_is_an_empty_object(server: ServerProcess) -> None:
    assert "result" in await server.call("thread/loaded/list")


async def test_duplicate_ids_both_answered(server: ServerProcess) -> None:
    server.expect(77, "thread/loaded/list")
    answers = server.watch(lambda m: m.get("id") == 77 and "method" not in m, count=2)
    await server.send({"id": 77, "method": "thread/loaded/list", "params": {}})
    await server.send({"id": 77, "method": "thread/loaded/list", "params": {}})
    assert all("result" in answer for answer in await asyncio.wait_for(answers, 20))


async def test_a_huge_message_is_refused_and_the_server_survives(server: ServerProcess) -> None:
    big = json.dumps({"id": 1, "method": "thread/name/set", "params": {"threadId": "x", "name": "n" * 5_000_000}})
    future = server.expect(1, "thread/name/set")
    await server.send_raw(big.encode() + b"\n")
    answer = await asyncio.wait_for(future, 20)
    assert answer["error"]["code"] == -32602
    assert "result" in await server.call("thread/loaded/list", {})


@pytest.mark.compat("rpc:never-drop-replies")
async def test_ten_thousand_pipelined_requests_all_answered(server: ServerProcess) -> None:
    total = 10_000
    futures = [server.expect(i, "thread/loaded/list") for i in range(100_000, 100_000 + total)]
    payload = b"".join(
        json.dumps({"id": i, "method": "thread/loaded/list", "params": {}}).encode() + b"\n"
        for i in range(100_000, 100_000 + total)
    )
    await server.send_raw(payload)
    responses = await asyncio.wait_for(asyncio.gather(*futures), 120)
    outcome = Counter("result" if "result" in r else r["error"]["code"] for r in responses)
    assert sum(outcome.values()) == total
    assert set(outcome) <= {"result", -32001}, outcome
    ids = [m["id"] for m in server.received if isinstance(m.get("id"), int) and m["id"] >= 100_000]
    assert len(ids) == len(set(ids)) == total, "every request answered exactly once"
