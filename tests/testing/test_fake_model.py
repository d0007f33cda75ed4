"""The fake Responses API server, read back with a bare asyncio HTTP client.

A hand-written client (rather than an SDK) keeps these tests about the bytes on the wire: status
line, headers, SSE framing and the JSON every event carries.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from agent_app_server.testing import (
    FakeModelServer,
    custom_tool_call_reply,
    delay,
    disconnect_after,
    function_call_reply,
    http_error,
    response_failed,
    text_reply,
)


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """(event name, data) per SSE frame; also checks the name matches the data's type."""
        parsed = []
        for frame in self.body.decode().split("\n\n"):
            if not frame:
                continue
            fields = dict(line.split(": ", 1) for line in frame.split("\n"))
            data = json.loads(fields["data"])
            assert fields["event"] == data["type"]
            parsed.append((fields["event"], data))
        return parsed


async def http(
    server: FakeModelServer,
    method: str = "POST",
    path: str = "/v1/responses",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> HttpReply:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", "Host: fake", f"Content-Length: {len(payload)}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await writer.drain()
        raw_head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = raw_head.decode().strip().split("\r\n")
        reply_headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
        if "content-length" in reply_headers:
            data = await reader.readexactly(int(reply_headers["content-length"]))
        else:
            data = await reader.read()
        return HttpReply(int(status_line.split(" ")[1]), reply_headers, data)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.fixture
async def fake() -> Any:
    async with FakeModelServer() as server:
        yield server


async def test_text_reply_stream_shape(fake: FakeModelServer) -> None:
    fake.enqueue(text_reply("Hello there", deltas=["Hel", "lo ", "there"], response_id="resp_1"))
    reply = await http(fake, body={"model": "mock-model", "stream": True})

    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["connection"] == "close"
    assert "content-length" not in reply.headers
    events = reply.events()
    assert [name for name, _ in events] == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    created = events[0][1]["response"]
    assert created["id"] == "resp_1" and created["status"] == "in_progress" and created["output"] == []

    added = events[1][1]
    item_id = added["item"]["id"]
    assert added["output_index"] == 0
    assert added["item"] == {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    deltas = [data for name, data in events if name == "response.output_text.delta"]
    for data in deltas:
        assert (data["item_id"], data["output_index"], data["content_index"]) == (item_id, 0, 0)
    assert [d["delta"] for d in deltas] == ["Hel", "lo ", "there"]
    assert events[6][1]["text"] == "Hello there"
    assert events[7][1]["part"] == {"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello there"}

    done_item = events[8][1]["item"]
    assert done_item["status"] == "completed" and done_item["content"][0]["text"] == "Hello there"
    completed = events[9][1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"] == [done_item]
    usage = completed["usage"]
    assert set(usage) == {
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
    }
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert "cached_tokens" in usage["input_tokens_details"]
    assert "reasoning_tokens" in usage["output_tokens_details"]


async def test_reasoning_summary_precedes_the_message(fake: FakeModelServer) -> None:
    fake.enqueue(text_reply("ok", reasoning_summary="thinking hard", usage={"custom": 1}))
    events = (await http(fake, body={})).events()
    names = [name for name, _ in events]
    assert names[:8] == [
        "response.created",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    reasoning = events[7][1]["item"]
    assert reasoning["type"] == "reasoning"
    assert reasoning["summary"] == [{"type": "summary_text", "text": "thinking hard"}]
    assert all(data["summary_index"] == 0 for _, data in events[2:7])
    message_added = events[8][1]
    assert message_added["output_index"] == 1 and message_added["item"]["type"] == "message"
    assert events[-1][1]["response"]["usage"] == {"custom": 1}
    assert len(events[-1][1]["response"]["output"]) == 2


async def test_deltas_must_add_up() -> None:
    with pytest.raises(ValueError):
        text_reply("abc", deltas=["a", "b"])


async def test_tool_call_replies(fake: FakeModelServer) -> None:
    fake.enqueue(
        function_call_reply("exec_command", '{"cmd":"ls"}', "call_1"),
        custom_tool_call_reply("apply_patch", "*** Begin Patch", "call_2"),
    )
    function_events = (await http(fake, body={})).events()
    custom_events = (await http(fake, body={})).events()

    assert [name for name, _ in function_events][1:-1] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    call = function_events[-2][1]["item"]
    assert call["type"] == "function_call" and call["status"] == "completed"
    assert (call["name"], call["arguments"], call["call_id"]) == ("exec_command", '{"cmd":"ls"}', "call_1")
    assert function_events[3][1]["arguments"] == '{"cmd":"ls"}'

    assert [name for name, _ in custom_events][1:-1] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]
    custom = custom_events[-2][1]["item"]
    assert custom["type"] == "custom_tool_call"
    assert (custom["name"], custom["input"], custom["call_id"]) == ("apply_patch", "*** Begin Patch", "call_2")


async def test_http_error_with_headers(fake: FakeModelServer) -> None:
    body = {"error": {"type": "usage_limit_reached", "message": "limit"}}
    fake.enqueue(http_error(429, body, headers={"retry-after": "3"}))
    reply = await http(fake, body={})
    assert reply.status == 429
    assert reply.headers["retry-after"] == "3"
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.body) == body


async def test_response_failed(fake: FakeModelServer) -> None:
    fake.enqueue(response_failed("context_length_exceeded", "too long"))
    events = (await http(fake, body={})).events()
    assert [name for name, _ in events] == ["response.created", "response.failed"]
    failed = events[1][1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "context_length_exceeded", "message": "too long"}


async def test_disconnect_mid_stream(fake: FakeModelServer) -> None:
    fake.enqueue(disconnect_after(text_reply("one two three four"), 4))
    events = (await http(fake, body={})).events()
    assert len(events) == 4
    assert events[-1][0] == "response.output_text.delta"


async def test_abort_before_headers(fake: FakeModelServer) -> None:
    fake.enqueue(disconnect_after(text_reply("x"), 0, abort=True))
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await http(fake, body={})


async def test_delay_between_events(fake: FakeModelServer) -> None:
    script = text_reply("a b")
    fake.enqueue([*script[:2], delay(0.2), *script[2:]])
    started = time.monotonic()
    events = (await http(fake, body={})).events()
    assert time.monotonic() - started >= 0.2
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))


async def test_queue_order_then_default(fake: FakeModelServer) -> None:
    fake.enqueue(text_reply("first"), lambda request: text_reply(f"echo {request.body['n']}"))
    texts = []
    for n in range(3):
        events = (await http(fake, body={"n": n})).events()
        texts.append(next(data["text"] for name, data in events if name == "response.output_text.done"))
    assert texts[:2] == ["first", "echo 1"]
    assert texts[2]  # the default reply
    assert fake.pending == 0


async def test_default_replies_mint_fresh_item_ids(fake: FakeModelServer) -> None:
    first = (await http(fake, body={})).events()
    second = (await http(fake, body={})).events()
    assert first[1][1]["item"]["id"] != second[1][1]["item"]["id"]
    assert first[0][1]["response"]["id"] != second[0][1]["response"]["id"]


async def test_requests_are_recorded(fake: FakeModelServer) -> None:
    await http(fake, body={"model": "m", "input": []}, headers={"X-Codex-Thing": "yes", "Authorization": "Bearer k"})
    async with asyncio.timeout(5):
        requests = await fake.wait_for_requests(1)
    request = requests[0]
    assert (request.method, request.path) == ("POST", "/v1/responses")
    assert request.headers["x-codex-thing"] == "yes"
    assert request.headers["authorization"] == "Bearer k"
    assert request.body == {"model": "m", "input": []}


async def test_models_and_unknown_paths(fake: FakeModelServer) -> None:
    models = await http(fake, "GET", "/v1/models?client_version=1")
    assert models.status == 200
    listing = json.loads(models.body)
    assert listing["object"] == "list" and listing["data"][0]["id"] == "mock-model"
    missing = await http(fake, "GET", "/v1/nothing")
    assert missing.status == 404
    assert fake.responses_served == 0


async def test_keep_alive_for_plain_responses(fake: FakeModelServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    try:
        for _ in range(2):
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: fake\r\n\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(
                next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[1]
            )
            assert json.loads(await reader.readexactly(length))["object"] == "list"
    finally:
        writer.close()
        await writer.wait_closed()


async def test_chunked_request_body(fake: FakeModelServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    payload = json.dumps({"chunked": True}).encode()
    writer.write(
        b"POST /v1/responses HTTP/1.1\r\nHost: fake\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(payload):x}\r\n".encode()
        + payload
        + b"\r\n0\r\n\r\n"
    )
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 200 OK")
    writer.close()
    await writer.wait_closed()
    assert fake.requests[0].body == {"chunked": True}


async def test_malformed_request_gets_400(fake: FakeModelServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    writer.write(b"garbage\r\n\r\n")
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 400")
    writer.close()
    await writer.wait_closed()


async def test_twenty_thousand_deltas_stream_quickly(fake: FakeModelServer) -> None:
    pieces = [f"{i % 10}" for i in range(20_000)]
    fake.enqueue(text_reply("".join(pieces), deltas=pieces))
    started = time.monotonic()
    events = (await http(fake, body={})).events()
    elapsed = time.monotonic() - started
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert deltas == pieces
    assert elapsed < 5.0, f"streaming 20,000 deltas took {elapsed:.2f}s"


async def test_concurrent_streams(fake: FakeModelServer) -> None:
    fake.enqueue(*(text_reply(f"reply {i}") for i in range(10)))
    replies = await asyncio.gather(*(http(fake, body={"i": i}) for i in range(10)))
    texts = sorted(
        next(data["text"] for name, data in reply.events() if name == "response.output_text.done") for reply in replies
    )
    assert texts == sorted(f"reply {i}" for i in range(10))


async def test_close_ends_open_streams() -> None:
    server = FakeModelServer()
    await server.start()
    server.enqueue([*text_reply("hang")[:2], delay(30)])
    request = asyncio.create_task(http(server, body={}))
    async with asyncio.timeout(5):
        await server.wait_for_requests(1)
        await server.close()
        reply = await request
    assert len(reply.events()) == 2
