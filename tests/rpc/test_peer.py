"""The JSON-RPC peer on an in-memory transport pair: envelope errors, ids, concurrency, overload."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from agent_app_server.rpc import (
    ConnectionClosed,
    InvalidParams,
    Peer,
    PeerLimits,
    RemoteError,
    Reply,
    RequestId,
)
from agent_app_server.rpc.state import MAX_JSON_DEPTH
from agent_app_server.transport import MemoryStream, memory_pair


class EchoDispatcher:
    """A dispatcher with a few behaviours to exercise the peer; it knows nothing of our server."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.peer: Peer | None = None
        self.notifications: list[tuple[str, Any]] = []

    async def handle_request(self, method: str, params: Any, request_id: RequestId) -> Any:
        if method == "echo":
            return params
        if method == "block":
            await self.release.wait()
            return "released"
        if method == "bad_params":
            raise InvalidParams("Invalid params: `threadId` must be a string")
        if method == "crash":
            raise RuntimeError("boom")
        if method == "then":
            assert self.peer is not None
            return Reply({"ok": True}, lambda: self.peer.send_notification("after", {}, emittedAtMs=1))  # type: ignore[union-attr]
        if method == "ask_client":
            assert self.peer is not None
            return await self.peer.request("client/question", {"q": params})
        raise AssertionError(method)

    async def handle_notification(self, method: str, params: Any) -> None:
        self.notifications.append((method, params))


class Client:
    def __init__(self, stream: MemoryStream) -> None:
        self.stream = stream

    async def send(self, message: Any) -> None:
        await self.stream.send_many([message if isinstance(message, str) else json.dumps(message)])

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.stream.receive(), timeout)
        assert raw is not None
        return json.loads(raw)  # type: ignore[no-any-return]


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Client, EchoDispatcher, Peer]]:
    server_end, client_end = memory_pair()
    dispatcher = EchoDispatcher()
    peer = Peer(server_end, dispatcher, limits=PeerLimits(max_pending_requests=8, outbound_high_water=64))
    dispatcher.peer = peer
    task = asyncio.create_task(peer.serve())
    yield Client(client_end), dispatcher, peer
    dispatcher.release.set()
    await client_end.close()
    await asyncio.wait_for(task, 5)


async def test_echo_keeps_id_type(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    for request_id in (0, 7, "abc", -1, 2**63 - 1):
        await client.send({"id": request_id, "method": "echo", "params": {"x": 1}})
        assert await client.receive() == {"id": request_id, "result": {"x": 1}}


async def test_jsonrpc_field_is_accepted(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": 3})
    assert await client.receive() == {"id": 1, "result": 3}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", -32700),
        ("[1, 2]", -32600),
        ("42", -32600),
        ('"text"', -32600),
        ('{"id": true, "method": "echo"}', -32600),
        ('{"id": 1.5, "method": "echo"}', -32600),
        ('{"id": {"a": 1}, "method": "echo"}', -32600),
        (json.dumps({"id": 2**64, "method": "echo"}), -32600),
        ('{"id": 18}', -32600),
        ("[" * 1000, -32700),
        ('{"id": 1, "method": "echo", "params": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}", -32700),
        (r'{"id": "\ud800", "method": "echo"}', -32700),
        (r'{"id": 1, "method": "echo", "params": "\udc00 and \ud83d\ude00"}', -32700),
    ],
)
async def test_bad_envelopes_get_null_id_errors_and_the_connection_survives(
    pair: tuple[Client, EchoDispatcher, Peer], frame: str, code: int
) -> None:
    client, _, _ = pair
    await client.send(frame)
    reply = await client.receive()
    expected_id = 18 if frame == '{"id": 18}' else None
    assert reply["id"] == expected_id
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    await client.send({"id": 99, "method": "echo", "params": "still here"})
    assert await client.receive() == {"id": 99, "result": "still here"}


async def test_method_must_be_a_string(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"id": 4, "method": 12})
    reply = await client.receive()
    assert reply["id"] == 4 and reply["error"]["code"] == -32600
    assert "method" in reply["error"]["message"]


async def test_handler_errors_map_to_codes(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"id": 1, "method": "bad_params"})
    assert (await client.receive())["error"] == {
        "code": -32602,
        "message": "Invalid params: `threadId` must be a string",
    }
    await client.send({"id": 2, "method": "crash"})
    error = (await client.receive())["error"]
    assert error["code"] == -32603 and "boom" in error["message"]


async def test_slow_handler_does_not_block_the_next(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, dispatcher, _ = pair
    await client.send({"id": 1, "method": "block"})
    await client.send({"id": 2, "method": "echo", "params": "fast"})
    assert await client.receive() == {"id": 2, "result": "fast"}
    dispatcher.release.set()
    assert await client.receive() == {"id": 1, "result": "released"}


async def test_overload_answers_every_request_exactly_once(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, dispatcher, _ = pair
    for i in range(20):
        await client.send({"id": i, "method": "block"})
    overloaded = set()
    for _ in range(12):
        reply = await client.receive()
        assert reply["error"] == {"code": -32001, "message": "Server overloaded; retry later."}
        overloaded.add(reply["id"])
    dispatcher.release.set()
    released = {(await client.receive())["id"] for _ in range(8)}
    assert released | overloaded == set(range(20))
    assert not released & overloaded


async def test_reply_then_runs_after_the_reply(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"id": 5, "method": "then"})
    assert await client.receive() == {"id": 5, "result": {"ok": True}}
    assert await client.receive() == {"method": "after", "params": {}, "emittedAtMs": 1}


async def test_server_to_client_requests(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"id": "outer", "method": "ask_client", "params": "why?"})
    question = await client.receive()
    assert question == {"id": 0, "method": "client/question", "params": {"q": "why?"}}
    await client.send({"id": 0, "result": "because"})
    assert await client.receive() == {"id": "outer", "result": "because"}

    await client.send({"id": "outer2", "method": "ask_client", "params": "again"})
    question = await client.receive()
    assert question["id"] == 1
    await client.send({"id": 1, "error": {"code": -32000, "message": "no"}})
    reply = await client.receive()
    assert reply["id"] == "outer2" and "no" in reply["error"]["message"]


async def test_unknown_response_ids_are_ignored(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, _, _ = pair
    await client.send({"id": 12345, "result": {}})
    await client.send({"id": 1, "method": "echo", "params": 1})
    assert await client.receive() == {"id": 1, "result": 1}


async def test_notifications_reach_the_dispatcher(pair: tuple[Client, EchoDispatcher, Peer]) -> None:
    client, dispatcher, _ = pair
    await client.send({"method": "initialized"})
    await client.send({"id": 1, "method": "echo", "params": 1})
    await client.receive()
    assert dispatcher.notifications == [("initialized", None)]


async def test_pending_server_requests_fail_when_the_client_leaves() -> None:
    server_end, client_end = memory_pair()
    dispatcher = EchoDispatcher()
    peer = Peer(server_end, dispatcher)
    dispatcher.peer = peer
    serve = asyncio.create_task(peer.serve())
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def ask() -> None:
        try:
            await peer.request("client/question", {})
            outcome.set_result(None)
        except ConnectionClosed as exc:
            outcome.set_result(exc)

    asker = asyncio.create_task(ask())
    await asyncio.sleep(0.01)
    await client_end.close()
    await asyncio.wait_for(serve, 5)
    await asker
    assert isinstance(outcome.result(), ConnectionClosed)


async def test_remote_error_carries_code() -> None:
    error = RemoteError(-32000, "denied", {"why": "x"})
    assert error.code == -32000 and error.data == {"why": "x"}


async def test_a_client_that_stops_reading_pauses_ingress_without_losing_replies() -> None:
    # Bounded transport queues model a socket whose peer does not read.
    server_end, client_end = memory_pair(max_queued=16)
    dispatcher = EchoDispatcher()
    peer = Peer(server_end, dispatcher, limits=PeerLimits(max_pending_requests=1000, outbound_high_water=32))
    serve = asyncio.create_task(peer.serve())
    client = Client(client_end)
    total = 2000

    async def write_all() -> None:
        for i in range(total):
            await client.send({"id": i, "method": "echo", "params": i})

    writer = asyncio.create_task(write_all())
    await asyncio.sleep(0.2)
    # The writer is stuck: the server stopped reading because its replies pile up unread.
    assert not writer.done()
    seen = [(await client.receive())["id"] for _ in range(total)]
    await writer
    assert sorted(seen) == list(range(total))
    await client_end.close()
    await asyncio.wait_for(serve, 5)


async def test_nesting_and_surrogate_pairs_within_limits_are_accepted(
    pair: tuple[Client, EchoDispatcher, Peer],
) -> None:
    client, _, _ = pair
    depth = MAX_JSON_DEPTH - 1  # plus the envelope
    await client.send('{"id": 1, "method": "echo", "params": ' + "[" * depth + "]" * depth + "}")
    assert (await client.receive())["id"] == 1
    await client.send(r'{"id": 2, "method": "echo", "params": "\ud83d\ude00 \\ud800"}')
    assert await client.receive() == {"id": 2, "result": "\U0001f600 \\ud800"}


class UnwritableStream:
    """A transport whose writes fail with an error no transport is expected to raise."""

    def __init__(self, inbound: MemoryStream) -> None:
        self.inbound = inbound
        self.closed_with: str | None = None

    async def receive(self) -> str | None:
        return await self.inbound.receive()

    async def send_many(self, messages: Sequence[str]) -> None:
        raise ValueError("the transport broke")

    async def close(self, reason: str = "") -> None:
        self.closed_with = reason


async def test_a_writer_that_fails_closes_the_connection_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    server_end, client_end = memory_pair()
    stream = UnwritableStream(server_end)
    peer = Peer(stream, EchoDispatcher())
    serve = asyncio.create_task(peer.serve())
    await Client(client_end).send({"id": 1, "method": "echo", "params": 1})
    # The client never closes its side: only the failed write can end serve().
    await asyncio.wait_for(serve, 5)
    assert peer.closed
    assert stream.closed_with == "internal error while writing a message"
    assert any("cannot write to the client" in record.getMessage() for record in caplog.records)


async def test_the_answer_observer_sees_every_answer_with_its_code() -> None:
    server_end, client_end = memory_pair()
    dispatcher = EchoDispatcher()
    answers: list[tuple[str, int | None, float]] = []
    peer = Peer(
        server_end,
        dispatcher,
        limits=PeerLimits(max_pending_requests=1, outbound_high_water=64),
        on_answer=lambda method, code, seconds: answers.append((method, code, seconds)),
    )
    task = asyncio.create_task(peer.serve())
    client = Client(client_end)
    for request_id, method in enumerate(("echo", "bad_params", "crash")):
        await client.send({"id": request_id, "method": method})
        await client.receive()
    await client.send({"id": 3, "method": "block"})
    await client.send({"id": 4, "method": "block"})  # one handler in flight already: refused
    assert (await client.receive())["error"]["code"] == -32001
    dispatcher.release.set()
    assert await client.receive() == {"id": 3, "result": "released"}
    await client_end.close()
    await asyncio.wait_for(task, 5)
    assert [(method, code) for method, code, _ in answers] == [
        ("echo", None),
        ("bad_params", -32602),
        ("crash", -32603),
        ("block", -32001),
        ("block", None),
    ]
    assert all(seconds >= 0 for _, _, seconds in answers)
    assert answers[3][2] == 0.0  # a refusal never ran
