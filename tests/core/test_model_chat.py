"""The Chat Completions model client: request conversion, stream conversion, failures.

Runs against ``RawServer`` (a real local HTTP server from test_model_responses.py) speaking the
chat-completions SSE protocol as OpenAI, vLLM, llama.cpp and Ollama do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from test_model_responses import RawServer, collect, fail, raw_response, request, settings, sse_body

from agent_app_server.core.config import ModelProvider
from agent_app_server.core.model import (
    ChatClient,
    Completed,
    ItemAdded,
    ItemDone,
    ModelRequest,
    RateLimits,
    ReasoningTextDelta,
    Retrying,
    TextDelta,
    Usage,
    make_client,
)
from agent_app_server.core.model.chat import build_chat_body
from agent_app_server.core.providers import is_openai_service

HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", "choices": choices, **extra}


def chat_stream(*chunks: dict[str, Any], done: bool = True) -> bytes:
    payloads: list[dict[str, Any] | str] = [*chunks]
    if done:
        payloads.append("[DONE]")
    return raw_response(200, sse_body(*payloads), sse=True)


USAGE = {
    "prompt_tokens": 50,
    "completion_tokens": 9,
    "total_tokens": 59,
    "prompt_tokens_details": {"cached_tokens": 20},
    "completion_tokens_details": {"reasoning_tokens": 4},
}


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    async with RawServer() as raw:
        yield raw


@pytest.fixture
async def client(server: RawServer) -> AsyncIterator[ChatClient]:
    # A local server (llama.cpp, Ollama ...): not OpenAI's own service.
    chat = make_client(settings(server.base_url, wire_api="chat", openai_service=False), backoff_base_s=0.001)
    assert isinstance(chat, ChatClient)
    yield chat
    await chat.aclose()


# --- request conversion ---------------------------------------------------------------------------


def full_request() -> ModelRequest:
    def message(role: str, text: str, kind: str = "input_text") -> dict[str, Any]:
        return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}

    return ModelRequest(
        model="qwen3",
        instructions="You are Codex.",
        input=[
            message("developer", "<permissions/>"),
            message("developer", "<skills/>"),
            message("user", "<environment_context/>"),
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look at "},
                    {"type": "input_text", "text": "this"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ],
            },
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
            message("assistant", "Running it.", "output_text"),
            {
                "type": "function_call",
                "id": "fc_1",
                "name": "exec_command",
                "arguments": '{"cmd":"ls"}',
                "call_id": "call_1",
            },
            {
                "type": "custom_tool_call",
                "id": "ct_1",
                "name": "apply_patch",
                "input": "*** Begin Patch",
                "call_id": "c2",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\n"},
            {"type": "custom_tool_call_output", "call_id": "c2", "output": "Success."},
            message("user", "thanks"),
        ],
        tools=[
            {
                "type": "function",
                "name": "exec_command",
                "description": "Runs a command.",
                "strict": False,
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
            },
            {
                "type": "custom",
                "name": "apply_patch",
                "description": "Edit files.",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
            },
            {"type": "web_search", "external_web_access": False},
        ],
        reasoning={"effort": "high", "summary": "auto"},
        text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
        prompt_cache_key="thread-1",
        client_metadata={"turn_id": "t"},
        extra_headers={"session-id": "s-1"},
    )


def test_request_conversion() -> None:
    body = build_chat_body(full_request())
    assert body["model"] == "qwen3"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "You are Codex.\n\n<permissions/>\n\n<skills/>"},
        {"role": "user", "content": "<environment_context/>"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at "},
                {"type": "text", "text": "this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Running it.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd":"ls"}'}},
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": json.dumps({"input": "*** Begin Patch"})},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a.txt\n"},
        {"role": "tool", "tool_call_id": "c2", "content": "Success."},
        {"role": "user", "content": "thanks"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "exec_command",
                "description": "Runs a command.",
                "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
            },
        },
        {
            "type": "function",
            "function": {
                "name": "apply_patch",
                "description": "Edit files.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "input": {
                            "type": "string",
                            "description": "The raw input for this tool, as plain text (not JSON-encoded).",
                        }
                    },
                    "required": ["input"],
                    "additionalProperties": False,
                },
            },
        },
    ]
    assert body["tool_choice"] == "auto"
    assert body["parallel_tool_calls"] is True
    assert body["reasoning_effort"] == "high"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }
    for responses_only in ("input", "store", "include", "prompt_cache_key", "client_metadata", "instructions"):
        assert responses_only not in body


@pytest.mark.parametrize("text_before", [None, ""], ids=["call-alone", "after-empty-message"])
def test_tool_call_replay_has_empty_string_content(text_before: str | None) -> None:
    # Regression: `"content": null` (or no content) made llama-cpp-python's server answer 500 to the
    # request after every tool call; `""` is accepted by it, llama-server, Ollama, vLLM and OpenAI.
    before = (
        []
        if text_before is None
        else [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text_before}]}]
    )
    req = request(
        input=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
            *before,
            {"type": "function_call", "name": "a", "arguments": "{}", "call_id": "x"},
            {"type": "function_call_output", "call_id": "x", "output": [{"type": "input_text", "text": "done"}]},
        ]
    )
    messages = build_chat_body(req)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "x", "type": "function", "function": {"name": "a", "arguments": "{}"}}],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "x", "content": "done"}
    assert len(messages) == 3
    assert "tools" not in build_chat_body(req)  # no tools: no tool_choice/parallel_tool_calls either


async def test_request_goes_to_chat_completions(server: RawServer, client: ChatClient) -> None:
    server.script.append(chat_stream(chunk({"content": "ok"}, "stop")))
    await collect(client, full_request())
    [(path, headers, body)] = server.requests
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["accept"] == "text/event-stream"
    assert headers["session-id"] == "s-1"
    assert body == build_chat_body(full_request())


# --- stream conversion ----------------------------------------------------------------------------


async def test_text_stream_becomes_a_message_item(server: RawServer, client: ChatClient) -> None:
    server.script.append(
        chat_stream(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            chunk(None, usage=USAGE),
        )
    )
    events = await collect(client)
    assert not any(isinstance(event, RateLimits) for event in events)  # no x-codex-* headers
    added = events[0]
    assert isinstance(added, ItemAdded)
    msg_id = added.item["id"]
    assert msg_id.startswith("msg_")
    assert added.item == {"type": "message", "id": msg_id, "role": "assistant", "status": "in_progress", "content": []}
    assert events[1:3] == [TextDelta(msg_id, "Hel"), TextDelta(msg_id, "lo")]
    assert events[3] == ItemDone(
        {
            "type": "message",
            "id": msg_id,
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
        }
    )
    assert events[4] == Completed("chatcmpl-1", Usage(50, 20, 9, 4, 59))
    assert len(events) == 5


async def test_tool_call_deltas_accumulate_into_items(server: RawServer, client: ChatClient) -> None:
    req = request(tools=full_request().tools)
    server.script.append(
        chat_stream(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "exec_command", "arguments": ""},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"cmd":'}}]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"ls"}'}}]}),
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "function": {"name": "apply_patch", "arguments": '{"input": "*** Begin'},
                        }
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": ' Patch"}'}}]}),
            chunk({}, "tool_calls"),
        )
    )
    events = await collect(client, req)
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["ItemAdded", "ItemAdded", "ItemDone", "ItemDone", "Completed"]
    first, second = events[0], events[1]
    assert isinstance(first, ItemAdded) and isinstance(second, ItemAdded)
    assert first.item["type"] == "function_call" and first.item["name"] == "exec_command"
    assert first.item["arguments"] == "" and first.item["call_id"] == "call_a"
    assert second.item["type"] == "custom_tool_call" and second.item["input"] == ""
    done_fn, done_custom = events[2], events[3]
    assert isinstance(done_fn, ItemDone) and isinstance(done_custom, ItemDone)
    assert done_fn.item == {
        "type": "function_call",
        "id": first.item["id"],
        "status": "completed",
        "name": "exec_command",
        "arguments": '{"cmd":"ls"}',
        "call_id": "call_a",
    }
    assert done_custom.item == {
        "type": "custom_tool_call",
        "id": second.item["id"],
        "status": "completed",
        "call_id": "call_b",
        "name": "apply_patch",
        "input": "*** Begin Patch",
    }


async def test_whole_tool_call_in_one_chunk_with_decoded_arguments(server: RawServer, client: ChatClient) -> None:
    # Older Ollama: one chunk, no index, arguments as an object.
    server.script.append(
        chat_stream(
            chunk({"tool_calls": [{"function": {"name": "exec_command", "arguments": {"cmd": "pwd"}}}]}, "stop")
        )
    )
    events = await collect(client)
    done = events[1]
    assert isinstance(done, ItemDone)
    assert done.item["arguments"] == '{"cmd": "pwd"}'
    assert done.item["call_id"].startswith("call_")


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas_become_a_reasoning_item(server: RawServer, client: ChatClient, field: str) -> None:
    server.script.append(
        chat_stream(chunk({field: "Let me "}), chunk({field: "think."}), chunk({"content": "Answer"}, "stop"))
    )
    events = await collect(client)
    added = events[0]
    assert isinstance(added, ItemAdded) and added.item["type"] == "reasoning"
    rs_id = added.item["id"]
    assert events[1:3] == [ReasoningTextDelta(rs_id, 0, "Let me "), ReasoningTextDelta(rs_id, 0, "think.")]
    assert events[3] == ItemDone(
        {
            "type": "reasoning",
            "id": rs_id,
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "Let me think."}],
        }
    )
    assert isinstance(events[4], ItemAdded) and events[4].item["type"] == "message"
    assert isinstance(events[5], TextDelta)
    assert isinstance(events[6], ItemDone) and isinstance(events[7], Completed)


async def test_finish_reason_without_done_completes(server: RawServer, client: ChatClient) -> None:
    server.script.append(chat_stream(chunk({"content": "ok"}), chunk({}, "stop"), done=False))
    events = await collect(client)
    assert isinstance(events[-1], Completed)


async def test_rate_limit_headers_are_reported_when_present(server: RawServer, client: ChatClient) -> None:
    body = sse_body(chunk({"content": "ok"}, "stop"), "[DONE]")
    server.script.append(raw_response(200, body, {"x-codex-primary-used-percent": "50"}, sse=True))
    events = await collect(client)
    assert isinstance(events[0], RateLimits)
    assert events[0].snapshot["primary"] == {"usedPercent": 50, "windowDurationMins": None, "resetsAt": None}


# --- failures ---------------------------------------------------------------------------------------


async def test_stream_cut_before_the_end_is_retried(server: RawServer, client: ChatClient) -> None:
    server.script.append(chat_stream(chunk({"content": "partial"}), done=False))
    server.script.append(chat_stream(chunk({"content": "full"}, "stop")))
    events = await collect(client)
    retry = next(event for event in events if isinstance(event, Retrying))
    assert retry.partial_output
    # In chat terms: a chat stream has no response.completed.
    assert retry.error.message == (
        "stream disconnected before completion: stream closed before the chat completion finished "
        "(no finish_reason, no [DONE])"
    )
    texts = [event.delta for event in events if isinstance(event, TextDelta)]
    assert texts == ["partial", "full"]
    assert isinstance(events[-1], Completed)


async def test_error_chunk_mid_stream(server: RawServer, client: ChatClient) -> None:
    for _ in range(3):
        server.script.append(chat_stream(chunk({"content": "a"}), {"error": {"message": "model crashed"}}, done=False))
    error, _ = await fail(client)
    assert error.message == "stream disconnected before completion: model crashed"
    assert error.codex_error_info == "other"
    assert len(server.requests) == 3


@pytest.mark.compat("model:provider-errors")
async def test_provider_errors_are_shown_in_the_providers_words(server: RawServer, client: ChatClient) -> None:
    for _ in range(3):
        server.script.append(raw_response(503, b'{"error":{"message":"loading model"}}'))
    error, events = await fail(client)
    assert (
        error.message
        == f"unexpected status 503 Service Unavailable: loading model, url: {server.base_url}/chat/completions"
    )
    assert error.codex_error_info == "internalServerError"
    assert [event.error.message for event in events if isinstance(event, Retrying)] == [error.message] * 2

    server.script.append(
        raw_response(404, b'{"error":{"message":"model \\"qwen9\\" not found, try pulling it first"}}')
    )
    error, _ = await fail(client)
    assert error.message == (
        f'unexpected status 404 Not Found: model "qwen9" not found, try pulling it first, url: '
        f"{server.base_url}/chat/completions"
    )
    assert error.codex_error_info == {"httpConnectionFailed": {"httpStatusCode": 404}}

    llama_cpp = {
        "error": {
            "code": 400,
            "message": "the request exceeds the available context size",
            "type": "exceed_context_size_error",
        }
    }
    server.script.append(raw_response(400, json.dumps(llama_cpp).encode()))
    error, _ = await fail(client)
    assert error.codex_error_info == "contextWindowExceeded"


@pytest.mark.compat("model:provider-errors")
async def test_a_request_the_provider_calls_invalid_is_not_retried(server: RawServer, client: ChatClient) -> None:
    # llama-cpp-python's answer to a request its schema rejects: HTTP 500 with pydantic's text.
    detail = (
        "1 validation error for CreateChatCompletionRequest\nmessages.1.content\n  Input should be a valid string "
        + "x" * 2000
    )
    body = {"error": {"message": detail, "type": "internal_server_error", "param": None, "code": None}}
    server.script.append(raw_response(500, json.dumps(body).encode()))
    error, events = await fail(client)
    assert len(server.requests) == 1 and not events
    assert not error.retryable
    prefix = "unexpected status 500 Internal Server Error: 1 validation error for CreateChatCompletionRequest\n"
    assert error.message.startswith(prefix)
    shown = error.message.removeprefix("unexpected status 500 Internal Server Error: ")
    assert shown == f"{detail[:1000]}..., url: {server.base_url}/chat/completions"
    assert error.codex_error_info == "internalServerError"

    server.script.append(raw_response(502, b'{"error":{"type":"invalid_request_error","message":"bad tools"}}'))
    error, _ = await fail(client)
    assert (error.message.split(",")[0], error.retryable) == ("unexpected status 502 Bad Gateway: bad tools", False)

    server.script.append(raw_response(400, b"not json at all"))
    error, _ = await fail(client)
    assert (
        error.message == f"unexpected status 400 Bad Request: not json at all, url: {server.base_url}/chat/completions"
    )
    assert error.codex_error_info == "other"
    assert len(server.requests) == 3


async def test_openai_service_keeps_the_reference_texts(server: RawServer) -> None:
    chat = make_client(settings(server.base_url, wire_api="chat", openai_service=True), backoff_base_s=0.001)
    try:
        for _ in range(3):
            server.script.append(raw_response(500, b'{"error":{"message":"1 validation error for X"}}'))
        error, _ = await fail(chat)
        assert (error.message, error.codex_error_info) == (HIGH_DEMAND, "internalServerError")
        assert len(server.requests) == 3  # retried, as the reference does
        server.script.append(raw_response(400, b'{"error":{"message":"bad"}}'))
        error, _ = await fail(chat)
        assert error.message == '{"error":{"message":"bad"}}'
    finally:
        await chat.aclose()


@pytest.mark.parametrize(
    ("base_url", "provider_id", "requires_openai_auth", "expected"),
    [
        ("https://api.openai.com/v1", "openai", True, True),
        ("http://127.0.0.1:9/v1", "openai", True, True),  # the built-in provider, pointed elsewhere
        ("https://chatgpt.com/backend-api/codex", "custom", False, True),
        ("https://eu.api.openai.com/v1", "custom", False, True),
        ("https://proxy.example/v1", "corp", True, True),
        ("http://127.0.0.1:8080/v1", "llama", False, False),
        ("http://localhost:11434/v1", "ollama", False, False),
        ("https://notopenai.com/v1", "other", False, False),
    ],
)
def test_which_providers_are_openais_own_service(
    base_url: str, provider_id: str, requires_openai_auth: bool, expected: bool
) -> None:
    provider = ModelProvider(
        id=provider_id, name=provider_id, base_url=base_url, requires_openai_auth=requires_openai_auth
    )
    assert is_openai_service(provider) is expected


@pytest.mark.compat("model:chat-empty-answer")
async def test_an_answer_without_any_output_is_an_error(server: RawServer, client: ChatClient) -> None:
    usage = {"prompt_tokens": 30, "completion_tokens": 1, "total_tokens": 31}
    server.script.append(
        chat_stream(
            chunk({"role": "assistant", "content": ""}), chunk({"content": ""}, "stop"), chunk(None, usage=usage)
        )
    )
    error, events = await fail(client)
    assert not events and not error.retryable
    assert error.codex_error_info == "other"
    assert error.message.startswith(
        "The model returned no output (finish_reason: stop, output tokens: 1): no text and no tool call."
    )


async def test_an_answer_with_only_reasoning_is_not_empty(server: RawServer, client: ChatClient) -> None:
    server.script.append(chat_stream(chunk({"reasoning_content": "hmm"}), chunk({}, "stop")))
    events = await collect(client)
    assert [type(event).__name__ for event in events] == ["ItemAdded", "ReasoningTextDelta", "ItemDone", "Completed"]


def test_an_output_answering_no_call_is_user_context() -> None:
    # A goal's objective rides as a named function_call_output without a call (as the reference
    # sends it on the Responses API); chat servers refuse a tool message that answers no call.
    req = request(
        input=[
            {"type": "function_call_output", "name": "goal_objective", "namespace": "agent", "output": "Fix the bug"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "keep going"}]},
        ]
    )
    messages = build_chat_body(req)["messages"]
    assert messages[0] == {"role": "user", "content": "<goal_objective>\nFix the bug\n</goal_objective>"}
    assert all(message["role"] != "tool" for message in messages)
