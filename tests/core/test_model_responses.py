"""The Responses-API model client against real local HTTP servers.

Most tests use ``FakeModelServer`` (scripted Responses SSE); the few that need response headers or
must watch the socket itself use ``RawServer`` below (also used by test_model_chat.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agent_app_server.core.model import (
    ChatClient,
    Completed,
    ItemAdded,
    ItemDone,
    ModelClient,
    ModelError,
    ModelEvent,
    ModelRequest,
    ProviderSettings,
    RateLimits,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ReasoningTextDelta,
    ResponsesClient,
    Retrying,
    TextDelta,
    Usage,
    make_client,
)
from agent_app_server.core.model.errors import usage_limit_message
from agent_app_server.core.model.ratelimits import snapshot_from_headers
from agent_app_server.core.model.sse import SseDecoder
from agent_app_server.testing.fake_model import (
    FakeModelServer,
    Raw,
    Script,
    SseEvent,
    custom_tool_call_reply,
    delay,
    disconnect_after,
    function_call_reply,
    http_error,
    response_failed,
    text_reply,
)
from support.reference import REFERENCE_DIR

OBSERVED = REFERENCE_DIR / "observed" / "model_requests"
HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."
STREAM_CLOSED = "stream disconnected before completion: stream closed before response.completed"


# --- a minimal raw HTTP server ---------------------------------------------------------------------

Action = bytes | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """Answers each request with the next scripted action: raw response bytes, or a coroutine that
    owns the connection. Records ``(path, headers, json body)`` of every request."""

    def __init__(self) -> None:
        self.script: deque[Action] = deque()
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.client_gone = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((head[0].split(" ")[1], headers, json.loads(body) if body else None))
            action = self.script.popleft()
            if isinstance(action, bytes):
                writer.write(action)
                await writer.drain()
            else:
                await action(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


def raw_response(status: int, body: bytes, headers: dict[str, str] | None = None, *, sse: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    if sse:
        # No Content-Length: the body ends when the connection closes.
        lines.append("Content-Type: text/event-stream")
    else:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def sse_body(*payloads: dict[str, Any] | str) -> bytes:
    out = b""
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        out += f"data: {data}\n\n".encode()
    return out


# --- helpers -----------------------------------------------------------------------------------------


def settings(base_url: str, **overrides: Any) -> ProviderSettings:
    """A provider standing in for OpenAI's own service: its failures get the reference's texts."""
    values: dict[str, Any] = {
        "id": "test",
        "base_url": base_url,
        "wire_api": "responses",
        "api_key": "sk-test",
        "env_key": "TEST_API_KEY",
        "request_max_retries": 2,
        "stream_max_retries": 2,
        "stream_idle_timeout_ms": 5_000,
        "openai_service": True,
    }
    values.update(overrides)
    return ProviderSettings(**values)


def request(**overrides: Any) -> ModelRequest:
    values: dict[str, Any] = {
        "model": "mock-model",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "tools": [],
    }
    values.update(overrides)
    return ModelRequest(**values)


async def collect(client: ModelClient, req: ModelRequest | None = None) -> list[ModelEvent]:
    events: list[ModelEvent] = []
    async with asyncio.timeout(20):
        async for event in client.stream(req or request()):
            events.append(event)
    return events


async def fail(client: ModelClient, req: ModelRequest | None = None) -> tuple[ModelError, list[ModelEvent]]:
    events: list[ModelEvent] = []
    with pytest.raises(ModelError) as info:
        async with asyncio.timeout(20):
            async for event in client.stream(req or request()):
                events.append(event)
    return info.value, events


@pytest.fixture
async def fake() -> AsyncIterator[FakeModelServer]:
    async with FakeModelServer() as server:
        yield server


@pytest.fixture
async def client(fake: FakeModelServer) -> AsyncIterator[ResponsesClient]:
    model_client = make_client(settings(fake.base_url), backoff_base_s=0.001)
    assert isinstance(model_client, ResponsesClient)
    yield model_client
    await model_client.aclose()


def flushed_then_disconnect(script: Script, n: int, *, abort: bool) -> Script:
    """The first ``n`` events, flushed to the client (the fake buffers writes), then a disconnect."""
    steps = disconnect_after(script, n, abort=abort)
    return [*steps[:-1], delay(0.01), steps[-1]]


def without_rate_limits(events: list[ModelEvent]) -> list[ModelEvent]:
    return [event for event in events if not isinstance(event, RateLimits)]


# --- successful streams --------------------------------------------------------------------------------


async def test_text_reply_streams_deltas_then_completed(fake: FakeModelServer, client: ResponsesClient) -> None:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 40},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 107,
    }
    fake.enqueue(text_reply("Hello big world", deltas=["Hel", "lo big", " world"], response_id="resp_1", usage=usage))
    events = await collect(client)
    assert isinstance(events[0], RateLimits)
    events = events[1:]
    assert isinstance(events[0], ItemAdded) and events[0].item["type"] == "message"
    item_id = events[0].item["id"]
    assert events[1:4] == [TextDelta(item_id, "Hel"), TextDelta(item_id, "lo big"), TextDelta(item_id, " world")]
    assert isinstance(events[4], ItemDone)
    assert events[4].item["content"][0]["text"] == "Hello big world"
    assert events[5] == Completed("resp_1", Usage(100, 40, 7, 3, 107))
    assert len(events) == 6


async def test_reasoning_summary_events(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(text_reply("ok", reasoning_summary="Thinking it over", reasoning_deltas=["Thinking", " it over"]))
    events = without_rate_limits(await collect(client))
    assert isinstance(events[0], ItemAdded) and events[0].item["type"] == "reasoning"
    rs_id = events[0].item["id"]
    assert events[1:4] == [
        ReasoningSummaryPartAdded(rs_id, 0),
        ReasoningSummaryDelta(rs_id, 0, "Thinking"),
        ReasoningSummaryDelta(rs_id, 0, " it over"),
    ]
    assert isinstance(events[4], ItemDone)
    assert events[4].item["summary"] == [{"type": "summary_text", "text": "Thinking it over"}]


async def test_raw_reasoning_text_delta(fake: FakeModelServer, client: ResponsesClient) -> None:
    script = text_reply("ok")
    script.insert(
        1, SseEvent({"type": "response.reasoning_text.delta", "item_id": "rs_1", "content_index": 2, "delta": "hmm"})
    )
    fake.enqueue(script)
    events = without_rate_limits(await collect(client))
    assert events[0] == ReasoningTextDelta("rs_1", 2, "hmm")


async def test_function_call_item(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(function_call_reply("exec_command", '{"cmd":"ls"}', "call_1", deltas=['{"cmd"', ':"ls"}']))
    events = without_rate_limits(await collect(client))
    kinds = [type(event) for event in events]
    assert kinds == [ItemAdded, ItemDone, Completed]
    added, done = events[0], events[1]
    assert isinstance(added, ItemAdded) and isinstance(done, ItemDone)
    assert added.item["type"] == "function_call" and added.item["arguments"] == ""
    assert done.item == {
        "id": done.item["id"],
        "type": "function_call",
        "status": "completed",
        "arguments": '{"cmd":"ls"}',
        "call_id": "call_1",
        "name": "exec_command",
    }


async def test_custom_tool_call_item(fake: FakeModelServer, client: ResponsesClient) -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"
    fake.enqueue(custom_tool_call_reply("apply_patch", patch, "call_p"))
    events = without_rate_limits(await collect(client))
    done = events[1]
    assert isinstance(done, ItemDone)
    assert done.item["type"] == "custom_tool_call"
    assert (done.item["name"], done.item["input"], done.item["call_id"]) == ("apply_patch", patch, "call_p")


async def test_unknown_and_malformed_events_are_skipped(fake: FakeModelServer, client: ResponsesClient) -> None:
    script = text_reply("ok")
    script[1:1] = [
        SseEvent({"type": "response.in_progress", "response": {}}),
        Raw(b"data: {not json\n\n"),
        Raw(b": a comment line\n\n"),
        SseEvent({"type": "response.output_text.delta"}),  # fields missing
    ]
    fake.enqueue(script)
    events = without_rate_limits(await collect(client))
    assert [type(event) for event in events] == [ItemAdded, TextDelta, ItemDone, Completed]


# --- the request ---------------------------------------------------------------------------------------


async def test_request_body_and_headers_match_the_reference(fake: FakeModelServer) -> None:
    observed = json.loads((OBSERVED / "b_shell_accept.after_tool.json").read_text())
    ref_body = observed["body"]
    fake.enqueue(text_reply("ok"))
    provider = settings(
        fake.base_url,
        query_params={"api-version": "2025-01-01"},
        http_headers={"X-Provider": "p", "originator": "provider-default"},
    )
    client = make_client(provider)
    req = ModelRequest(
        model=ref_body["model"],
        input=ref_body["input"],
        tools=ref_body["tools"],
        reasoning=ref_body["reasoning"],
        text=ref_body["text"],
        prompt_cache_key=ref_body["prompt_cache_key"],
        client_metadata=ref_body["client_metadata"],
        extra_headers={
            "session-id": "s-1",
            "thread-id": "t-1",
            "originator": "drive",
            "x-client-request-id": "r-1",
            "x-codex-turn-metadata": '{"turn_id":"u"}',
        },
    )
    await collect(client, req)
    await client.aclose()
    [sent] = fake.requests
    assert sent.method == "POST"
    assert sent.route == "/v1/responses"
    assert sent.query == "api-version=2025-01-01"
    assert list(sent.body) == list(ref_body)  # same keys, same order
    assert sent.body == ref_body
    headers = sent.headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["accept"] == "text/event-stream"
    assert headers["content-type"] == "application/json"
    assert headers["session-id"] == "s-1"
    assert headers["thread-id"] == "t-1"
    assert headers["x-client-request-id"] == "r-1"
    assert headers["x-codex-turn-metadata"] == '{"turn_id":"u"}'
    assert headers["originator"] == "drive"  # the request's headers win over the provider's
    assert headers["x-provider"] == "p"
    assert not [name for name in headers if name.startswith("x-stainless") or name.startswith("openai-")]


async def test_optional_body_keys_are_omitted_and_instructions_sent(fake: FakeModelServer) -> None:
    fake.enqueue(text_reply("ok"), text_reply("ok"))
    client = make_client(settings(fake.base_url))
    await collect(client, request())
    await collect(client, request(instructions="be brief", reasoning={"effort": "low", "summary": "auto"}))
    await client.aclose()
    first, second = (r.body for r in fake.requests)
    assert list(first) == ["model", "stream", "input", "tools", "tool_choice", "parallel_tool_calls", "store"]
    assert first["stream"] is True and first["store"] is False and first["tool_choice"] == "auto"
    assert list(second)[:2] == ["model", "instructions"]
    assert second["instructions"] == "be brief"
    assert second["reasoning"] == {"effort": "low", "summary": "auto"}
    assert second["include"] == ["reasoning.encrypted_content"]


async def test_no_api_key_sends_no_authorization(fake: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK would pick this up on its own if we let it.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-env")
    fake.enqueue(text_reply("ok"))
    client = make_client(settings(fake.base_url, api_key=None))
    await collect(client)
    await client.aclose()
    headers = fake.requests[0].headers
    assert "authorization" not in headers
    assert "openai-organization" not in headers


# --- HTTP errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_then_fail(fake: FakeModelServer, client: ResponsesClient, status: int) -> None:
    for _ in range(3):
        fake.enqueue(http_error(status, {"error": {"message": "upstream broke", "type": "server_error"}}))
    error, events = await fail(client)
    assert error.message == HIGH_DEMAND
    assert error.codex_error_info == "internalServerError"
    assert error.http_status == status
    assert len(fake.requests) == 3  # request_max_retries=2 -> 3 attempts
    retries = [event for event in events if isinstance(event, Retrying)]
    assert [(r.attempt, r.max_retries, r.partial_output) for r in retries] == [(1, 2, False), (2, 2, False)]
    assert all(r.error.message == HIGH_DEMAND and r.error.retryable for r in retries)


async def test_server_error_then_success(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(http_error(500, {"error": {"message": "boom"}}), text_reply("recovered", response_id="resp_ok"))
    events = await collect(client)
    assert isinstance(events[0], Retrying)
    assert events[0].error.codex_error_info == "internalServerError"
    assert 0 <= events[0].delay_s <= 0.001  # full jitter under the (test) base delay
    assert isinstance(events[-1], Completed) and events[-1].response_id == "resp_ok"
    assert len(fake.requests) == 2


async def test_429_usage_limit_reached_is_not_retried(fake: FakeModelServer, client: ResponsesClient) -> None:
    resets_at = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    body = {"error": {"type": "usage_limit_reached", "message": "limit", "plan_type": "plus", "resets_at": resets_at}}
    fake.enqueue(http_error(429, body))
    error, events = await fail(client)
    assert error.message.startswith(
        "You\u2019ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
        "https://chatgpt.com/codex/settings/usage to purchase more credits or try again at "
    )
    assert error.codex_error_info == "usageLimitExceeded"
    assert not error.retryable
    assert events == []
    assert len(fake.requests) == 1


async def test_429_insufficient_quota_is_not_retried(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(
        http_error(429, {"error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "x"}})
    )
    error, _ = await fail(client)
    assert error.message == "Quota exceeded. Check your plan and billing details."
    assert error.codex_error_info == "usageLimitExceeded"
    assert len(fake.requests) == 1


async def test_429_rate_limited_honours_retry_after_then_gives_up(
    fake: FakeModelServer, client: ResponsesClient
) -> None:
    for _ in range(3):
        fake.enqueue(
            http_error(
                429,
                {"error": {"type": "requests", "code": "rate_limit_exceeded", "message": "Rate limit reached"}},
                {"Retry-After": "0"},
            )
        )
    error, events = await fail(client)
    assert error.message.startswith("exceeded retry limit, last status: 429 Too Many Requests")
    assert error.codex_error_info == {"responseTooManyFailedAttempts": {"httpStatusCode": 429}}
    assert len(fake.requests) == 3
    retries = [event for event in events if isinstance(event, Retrying)]
    assert [r.delay_s for r in retries] == [0.0, 0.0]
    assert retries[0].error.message.startswith("unexpected status 429 Too Many Requests: Rate limit reached, url: ")


async def test_429_try_again_in_message_sets_the_delay(fake: FakeModelServer, client: ResponsesClient) -> None:
    message = "Rate limit reached for gpt-5 on tokens per min. Please try again in 20ms."
    fake.enqueue(
        http_error(429, {"error": {"code": "rate_limit_exceeded", "message": message}}),
        text_reply("ok"),
    )
    events = await collect(client)
    assert isinstance(events[0], Retrying)
    assert events[0].delay_s == pytest.approx(0.02)


async def test_401_is_not_retried(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(
        http_error(401, {"error": {"message": "Incorrect API key provided: sk-test.", "code": "invalid_api_key"}})
    )
    error, _ = await fail(client)
    assert error.message.startswith(
        f"unexpected status 401 Unauthorized: Incorrect API key provided: sk-test., url: {fake.base_url}/responses"
    )
    assert error.codex_error_info == {"httpConnectionFailed": {"httpStatusCode": 401}}
    assert len(fake.requests) == 1


async def test_401_without_any_api_key_names_the_env_var(fake: FakeModelServer) -> None:
    fake.enqueue(http_error(401, {"error": {"message": "Missing bearer authentication in header"}}))
    client = make_client(settings(fake.base_url, api_key=None, env_key="MY_PROVIDER_KEY"))
    error, _ = await fail(client)
    await client.aclose()
    assert "`MY_PROVIDER_KEY`" in error.message
    assert "log in" in error.message
    assert error.codex_error_info == {"httpConnectionFailed": {"httpStatusCode": 401}}


async def test_400_is_the_raw_body(fake: FakeModelServer, client: ResponsesClient) -> None:
    body = {"error": {"message": "Invalid value: 'foo'.", "type": "invalid_request_error", "param": "input"}}
    fake.enqueue(http_error(400, body))
    error, _ = await fail(client)
    assert error.message == json.dumps(body)
    assert error.codex_error_info == "other"
    assert not error.retryable
    assert len(fake.requests) == 1


async def test_400_context_length_exceeded(fake: FakeModelServer, client: ResponsesClient) -> None:
    body = {"error": {"message": "Your input exceeds the context window", "code": "context_length_exceeded"}}
    fake.enqueue(http_error(400, body))
    error, _ = await fail(client)
    assert error.message == (
        "Codex ran out of room in the model's context window. "
        "Start a new thread or clear earlier history before retrying."
    )
    assert error.codex_error_info == "contextWindowExceeded"
    assert len(fake.requests) == 1


async def test_other_4xx_is_an_unexpected_status(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(http_error(404, {"error": {"message": "model not found"}}))
    error, _ = await fail(client)
    assert error.message.startswith("unexpected status 404 Not Found: model not found, url: ")
    assert error.codex_error_info == {"httpConnectionFailed": {"httpStatusCode": 404}}
    assert len(fake.requests) == 1


# --- connection and stream failures ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_retried_then_fails() -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/v1"
    client = make_client(settings(base_url), backoff_base_s=0.001)
    error, events = await fail(client)
    await client.aclose()
    assert error.codex_error_info == {"responseStreamConnectionFailed": {"httpStatusCode": None}}
    assert error.message.startswith(
        f"stream disconnected before completion: error sending request for url ({base_url}/responses): "
    )
    assert "refused" in error.message.lower()
    assert [event.attempt for event in events if isinstance(event, Retrying)] == [1, 2]


async def test_mid_stream_disconnect_is_retried_and_flags_partial_output(
    fake: FakeModelServer, client: ResponsesClient
) -> None:
    fake.enqueue(
        flushed_then_disconnect(text_reply("one two three"), 5, abort=True), text_reply("again", response_id="r2")
    )
    events = await collect(client)
    retry_at = next(i for i, event in enumerate(events) if isinstance(event, Retrying))
    retry = events[retry_at]
    assert isinstance(retry, Retrying)
    assert retry.partial_output
    assert retry.error.message == STREAM_CLOSED
    assert retry.error.codex_error_info == "other"
    assert any(isinstance(event, TextDelta) for event in events[:retry_at])
    assert isinstance(events[-1], Completed) and events[-1].response_id == "r2"


@pytest.mark.parametrize("abort", [False, True])
async def test_disconnects_exhaust_the_stream_budget(
    fake: FakeModelServer, client: ResponsesClient, abort: bool
) -> None:
    for _ in range(3):
        fake.enqueue(flushed_then_disconnect(text_reply("a b c"), 4, abort=abort))
    error, events = await fail(client)
    assert error.message == STREAM_CLOSED
    assert error.codex_error_info == "other"
    assert len(fake.requests) == 3  # stream_max_retries=2
    assert [event.attempt for event in events if isinstance(event, Retrying)] == [1, 2]


async def test_response_failed_is_retried_like_a_disconnect(fake: FakeModelServer, client: ResponsesClient) -> None:
    for _ in range(3):
        fake.enqueue(response_failed("server_error", "The server had an error while processing your request."))
    error, events = await fail(client)
    assert error.message == (
        "stream disconnected before completion: The server had an error while processing your request."
    )
    assert error.codex_error_info == "other"
    assert len(fake.requests) == 3
    assert sum(isinstance(event, Retrying) for event in events) == 2


@pytest.mark.parametrize(
    ("code", "message", "info"),
    [
        (
            "context_length_exceeded",
            "Codex ran out of room in the model's context window. "
            "Start a new thread or clear earlier history before retrying.",
            "contextWindowExceeded",
        ),
        ("insufficient_quota", "Quota exceeded. Check your plan and billing details.", "usageLimitExceeded"),
    ],
)
async def test_response_failed_final_codes(
    fake: FakeModelServer, client: ResponsesClient, code: str, message: str, info: str
) -> None:
    fake.enqueue(response_failed(code, "whatever"))
    error, _ = await fail(client)
    assert (error.message, error.codex_error_info, error.retryable) == (message, info, False)
    assert len(fake.requests) == 1


async def test_response_failed_rate_limit_delay(fake: FakeModelServer, client: ResponsesClient) -> None:
    fake.enqueue(response_failed("rate_limit_exceeded", "Slow down. Please try again in 0.01s."), text_reply("ok"))
    events = await collect(client)
    retry = next(event for event in events if isinstance(event, Retrying))
    assert retry.delay_s == pytest.approx(0.01)


async def test_idle_stream_times_out(fake: FakeModelServer) -> None:
    script = text_reply("slow reply here")
    fake.enqueue([*script[:3], delay(5), *script[3:]], text_reply("ok"))
    client = make_client(settings(fake.base_url, stream_idle_timeout_ms=400), backoff_base_s=0.001)
    events = await collect(client)
    await client.aclose()
    retry = next(event for event in events if isinstance(event, Retrying))
    assert retry.error.message == "stream disconnected before completion: idle timeout waiting for SSE"
    assert retry.partial_output
    assert isinstance(events[-1], Completed)


# --- cancellation ----------------------------------------------------------------------------------------


async def _stalled_stream(server: RawServer) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def action(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start = {"type": "response.output_item.added", "item": {"type": "message", "id": "m1", "content": []}}
        writer.write(raw_response(200, sse_body(start), sse=True))
        await writer.drain()
        await reader.read()  # returns b"" once the client closes its end
        server.client_gone.set()

    return action


@pytest.mark.parametrize("how", ["cancel", "aclose", "break"])
async def test_stopping_the_consumer_closes_the_connection(how: str) -> None:
    async with RawServer() as server:
        server.script.append(await _stalled_stream(server))
        client = make_client(settings(server.base_url))
        first = asyncio.Event()

        async def consume() -> None:
            if how == "break":
                # No aclose(): dropping the generator must be enough (the loop's asyncgen hooks).
                async for event in client.stream(request()):
                    if isinstance(event, ItemAdded):
                        first.set()
                        break
                return
            stream = client.stream(request())
            try:
                async for event in stream:
                    if isinstance(event, ItemAdded):
                        first.set()
                        if how == "aclose":
                            break
            finally:
                await stream.aclose()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(10):
            await first.wait()
            if how == "cancel":
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await asyncio.wait_for(server.client_gone.wait(), 2)
        await client.aclose()


# --- rate limits ---------------------------------------------------------------------------------------


async def test_rate_limit_headers_become_a_snapshot() -> None:
    headers = {
        "x-codex-primary-used-percent": "12.5",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": "1795530000",
        "x-codex-secondary-used-percent": "40",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-credits-has-credits": "true",
        "x-codex-credits-unlimited": "false",
        "x-codex-credits-balance": "12.00",
    }
    completed = {"type": "response.completed", "response": {"id": "r", "usage": None}}
    async with RawServer() as server:
        server.script.append(raw_response(200, sse_body(completed), headers, sse=True))
        client = make_client(settings(server.base_url))
        events = await collect(client)
        await client.aclose()
    assert events == [
        RateLimits(
            {
                "limitId": "codex",
                "limitName": None,
                "primary": {"usedPercent": 12, "windowDurationMins": 300, "resetsAt": 1795530000},
                "secondary": {"usedPercent": 40, "windowDurationMins": 10080, "resetsAt": None},
                "credits": {"hasCredits": True, "unlimited": False, "balance": "12.00"},
                "planType": None,
            }
        ),
        Completed("r", None),
    ]


def test_empty_headers_give_the_default_snapshot() -> None:
    assert snapshot_from_headers({}) == {
        "limitId": "codex",
        "limitName": None,
        "primary": None,
        "secondary": None,
        "credits": None,
        "planType": None,
    }


# --- pieces ----------------------------------------------------------------------------------------------


def test_sse_decoder_handles_split_chunks_crlf_and_multiline_data() -> None:
    text = (
        'event: x\r\ndata: {"a": "é"}\r\n\r\n: comment\n\ndata: {"b":\ndata: 2}\n\nid: 7\ndata: [DONE]\n\ndata: {"c":3}'
    )
    raw = text.encode()
    decoder = SseDecoder()
    payloads: list[str] = []
    for i in range(len(raw)):  # one byte at a time: splits lines and the two-byte "é"
        payloads += decoder.feed(raw[i : i + 1])
    payloads += decoder.finish()
    assert [json.loads(p) if p.strip() != "[DONE]" else "DONE" for p in payloads] == [
        {"a": "é"},
        {"b": 2},
        "DONE",
        {"c": 3},
    ]


def test_usage_limit_message_wording() -> None:
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).astimezone()
    same_day = now.replace(hour=15, minute=5)
    assert usage_limit_message(None, same_day, now=now) == "You\u2019ve hit your usage limit. Try again at 3:05 PM."
    later = (now + timedelta(days=8)).replace(hour=9, minute=30)
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(later.day, "th")
    assert usage_limit_message("pro", later, now=now) == (
        "You\u2019ve hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase more credits"
        f" or try again at {later.strftime('%b')} {later.day}{suffix}, {later.year} 9:30 AM."
    )
    assert usage_limit_message("team", None) == (
        "You\u2019ve hit your usage limit. To get more access now, send a request to your admin or try again later."
    )


def test_make_client_picks_the_wire_api() -> None:
    assert isinstance(make_client(settings("http://x/v1")), ResponsesClient)
    assert isinstance(make_client(settings("http://x/v1", wire_api="chat")), ChatClient)


def test_importing_the_package_does_not_import_the_sdk() -> None:
    code = "import sys, agent_app_server.core.model; print('openai' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
