"""The Chat Completions wire API (Ollama, vLLM, llama.cpp, LM Studio ...), behind the Responses model.

Owns: converting a Responses-style ``ModelRequest`` into ``POST {base_url}/chat/completions`` and
the chat stream back into the same ``ModelEvent``s the Responses client yields, so the turn loop
never knows which wire API it talks to. Chat has no freeform ("custom") tools, so they are offered
as function tools taking one string parameter ``input`` and their calls are turned back into
``custom_tool_call`` items. Reasoning items are not sent (chat has no way to carry them back);
reasoning deltas some local servers stream (``reasoning_content`` / ``reasoning``) become a
reasoning item with raw reasoning text.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .ratelimits import has_codex_headers, snapshot_from_headers
from .sse import SseDecoder
from .transport import BaseModelClient
from .types import (
    Completed,
    ItemAdded,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ReasoningTextDelta,
    TextDelta,
    Usage,
)

_TEXT_PARTS = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text", "refusal"})
_CUSTOM_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "description": "The raw input for this tool, as plain text (not JSON-encoded)."}
    },
    "required": ["input"],
    "additionalProperties": False,
}


def _new_id(prefix: str) -> str:
    # Chat streams carry no item ids; these must stay unique across turns and restarts, because
    # the caller uses them as the ids of persisted items.
    return f"{prefix}_{uuid.uuid4().hex}"


# --- request ---------------------------------------------------------------------------------------


def _content(content: Any, *, allow_images: bool) -> Any:
    """Responses content parts -> chat content: a string, or parts when there are images."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    has_image = False
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and allow_images and part.get("image_url"):
            has_image = True
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
    # Plain strings are what every local server understands; parts only when an image needs them.
    return parts if has_image else "".join(texts)


def _tool_output(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(part["text"] for part in output if isinstance(part, dict) and isinstance(part.get("text"), str))
    return json.dumps(output, ensure_ascii=False)


def _tool_call(item: Mapping[str, Any]) -> dict[str, Any]:
    if item.get("type") == "custom_tool_call":
        arguments = json.dumps({"input": item.get("input") or ""}, ensure_ascii=False)
    else:
        raw = item.get("arguments")
        arguments = raw if isinstance(raw, str) else json.dumps(raw or {}, ensure_ascii=False)
    return {
        "id": item.get("call_id") or item.get("id") or "",
        "type": "function",
        "function": {"name": item.get("name") or "", "arguments": arguments},
    }


def to_chat_messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for item in request.input:
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role in ("developer", "system"):
                text = _content(item.get("content"), allow_images=False)
                previous = messages[-1] if messages else None
                # Several chat templates (Llama, Mistral, Gemma ...) reject consecutive system
                # messages; adjacent developer messages become one.
                if previous is not None and previous["role"] == "system" and isinstance(previous["content"], str):
                    previous["content"] = f"{previous['content']}\n\n{text}"
                else:
                    messages.append({"role": "system", "content": text})
            elif role == "assistant":
                messages.append({"role": "assistant", "content": _content(item.get("content"), allow_images=False)})
            elif role == "user":
                messages.append({"role": "user", "content": _content(item.get("content"), allow_images=True)})
        elif kind in ("function_call", "custom_tool_call"):
            previous = messages[-1] if messages else None
            if previous is not None and previous["role"] == "assistant":
                # Calls of one response (and the text before them) are a single assistant turn.
                previous.setdefault("tool_calls", []).append(_tool_call(item))
            else:
                # `""`, never null or absent: llama-cpp-python's server answers 500 (a validation
                # error) to both, and OpenAI, vLLM, Ollama, llama-server and LM Studio accept `""`.
                messages.append({"role": "assistant", "content": "", "tool_calls": [_tool_call(item)]})
        elif kind in ("function_call_output", "custom_tool_call_output") and not item.get("call_id"):
            # Context the harness supplies as a named output answering no call (a goal's
            # ``goal_objective``): a chat server refuses a tool message without its call.
            name = item.get("name") or "context"
            messages.append({"role": "user", "content": f"<{name}>\n{_tool_output(item.get('output'))}\n</{name}>"})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": _tool_output(item.get("output"))}
            )
        # reasoning, web_search_call, compaction ... have no chat equivalent and are dropped.
    return messages


def to_chat_tools(tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], frozenset[str]]:
    """Chat function tools, and the names of those that were custom (freeform) tools."""
    out: list[dict[str, Any]] = []
    custom: set[str] = set()
    for tool in tools:
        kind = tool.get("type")
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        if kind == "function":
            function: dict[str, Any] = {"name": name}
            if tool.get("description"):
                function["description"] = tool["description"]
            function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
            if tool.get("strict") is True:
                function["strict"] = True
            out.append({"type": "function", "function": function})
        elif kind == "custom":
            custom.add(name)
            function = {"name": name, "parameters": _CUSTOM_INPUT_SCHEMA}
            if tool.get("description"):
                function["description"] = tool["description"]
            out.append({"type": "function", "function": function})
    return out, frozenset(custom)


def build_chat_body(request: ModelRequest) -> dict[str, Any]:
    tools, _ = to_chat_tools(request.tools)
    body: dict[str, Any] = {
        "model": request.model,
        "messages": to_chat_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = tools
        body["tool_choice"] = "auto"
        body["parallel_tool_calls"] = request.parallel_tool_calls
    effort = (request.reasoning or {}).get("effort")
    if isinstance(effort, str) and effort != "none":
        body["reasoning_effort"] = effort
    fmt = (request.text or {}).get("format")
    if isinstance(fmt, dict):
        if fmt.get("type") == "json_schema":
            schema = {key: fmt[key] for key in ("name", "description", "schema", "strict") if key in fmt}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif fmt.get("type") == "json_object":
            body["response_format"] = {"type": "json_object"}
    return body


# --- stream ------------------------------------------------------------------------------------------


def usage_from_chat(usage: Mapping[str, Any]) -> Usage:
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=prompt,
        cached_input_tokens=int(prompt_details.get("cached_tokens") or 0),
        output_tokens=completion,
        reasoning_output_tokens=int(completion_details.get("reasoning_tokens") or 0),
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
    )


@dataclass(slots=True)
class _Call:
    item_id: str
    call_id: str
    name: str
    custom: bool
    arguments: list[str] = field(default_factory=list)
    announced: bool = False

    def item(self, *, done: bool) -> dict[str, Any]:
        arguments = "".join(self.arguments) if done else ""
        status = "completed" if done else "in_progress"
        if self.custom:
            text = arguments
            if done:
                try:
                    decoded = json.loads(arguments)
                except ValueError:
                    decoded = None
                # Models occasionally ignore the wrapper and send the raw text; keep it then.
                if isinstance(decoded, dict) and isinstance(decoded.get("input"), str):
                    text = decoded["input"]
            return {
                "type": "custom_tool_call",
                "id": self.item_id,
                "status": status,
                "call_id": self.call_id,
                "name": self.name,
                "input": text,
            }
        return {
            "type": "function_call",
            "id": self.item_id,
            "status": status,
            "name": self.name,
            "arguments": arguments,
            "call_id": self.call_id,
        }


class ChatTranslator:
    """Turns chat completion chunks into Responses-style events; one per attempt."""

    def __init__(self, custom_tools: frozenset[str]) -> None:
        self.custom_tools = custom_tools
        self.response_id = ""
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.message_id: str | None = None
        self.text: list[str] = []
        self.reasoning_id: str | None = None
        self.reasoning: list[str] = []
        self.reasoning_closed = False
        self.calls: dict[int, _Call] = {}

    def _close_reasoning(self, out: list[ModelEvent]) -> None:
        if self.reasoning_id is not None and not self.reasoning_closed:
            self.reasoning_closed = True
            out.append(
                ItemDone(
                    {
                        "type": "reasoning",
                        "id": self.reasoning_id,
                        "summary": [],
                        "content": [{"type": "reasoning_text", "text": "".join(self.reasoning)}],
                    }
                )
            )

    def on_chunk(self, chunk: dict[str, Any]) -> list[ModelEvent]:
        error = chunk.get("error")
        if error:
            raise errors.from_stream_error(error if isinstance(error, dict) else {"message": str(error)})
        if not self.response_id and isinstance(chunk.get("id"), str):
            self.response_id = chunk["id"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage_from_chat(usage)
        out: list[ModelEvent] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            thinking = delta.get("reasoning_content") or delta.get("reasoning")
            if thinking and isinstance(thinking, str):
                if self.reasoning_id is None:
                    self.reasoning_id = _new_id("rs")
                    out.append(ItemAdded({"type": "reasoning", "id": self.reasoning_id, "summary": [], "content": []}))
                self.reasoning.append(thinking)
                out.append(ReasoningTextDelta(self.reasoning_id, 0, thinking))
            content = delta.get("content")
            if content and isinstance(content, str):
                self._close_reasoning(out)
                if self.message_id is None:
                    self.message_id = _new_id("msg")
                    out.append(
                        ItemAdded(
                            {
                                "type": "message",
                                "id": self.message_id,
                                "role": "assistant",
                                "status": "in_progress",
                                "content": [],
                            }
                        )
                    )
                self.text.append(content)
                out.append(TextDelta(self.message_id, content))
            tool_calls = delta.get("tool_calls")
            if tool_calls:
                self._close_reasoning(out)
                for position, tool_call in enumerate(tool_calls):
                    self._on_tool_call(tool_call, position, out)
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = str(reason)
        return out

    def _on_tool_call(self, tool_call: dict[str, Any], position: int, out: list[ModelEvent]) -> None:
        index = tool_call.get("index")
        if not isinstance(index, int):
            index = len(self.calls) + position
        function = tool_call.get("function") or {}
        call = self.calls.get(index)
        if call is None:
            name = function.get("name") or ""
            call = _Call(
                item_id=_new_id("fc"),
                call_id=tool_call.get("id") or _new_id("call"),
                name=name,
                custom=name in self.custom_tools,
            )
            self.calls[index] = call
        elif function.get("name") and not call.name:
            call.name = function["name"]
            call.custom = call.name in self.custom_tools
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments.append(arguments)
        elif arguments is not None:
            # Some servers (older Ollama) send the arguments already decoded.
            call.arguments.append(json.dumps(arguments, ensure_ascii=False))
        if not call.announced and call.name:
            call.announced = True
            out.append(ItemAdded(call.item(done=False)))

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def finish(self) -> list[ModelEvent]:
        if self.message_id is None and self.reasoning_id is None and not self.calls:
            # A Responses answer without output completes silently (as the reference does); a
            # chat answer like this is nearly always a local model or template failing, and a
            # turn that ends with nothing on screen leaves the user guessing.
            raise errors.empty_chat_answer(self.finish_reason, self.usage.output_tokens if self.usage else None)
        out: list[ModelEvent] = []
        self._close_reasoning(out)
        if self.message_id is not None:
            out.append(
                ItemDone(
                    {
                        "type": "message",
                        "id": self.message_id,
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": "".join(self.text), "annotations": []}],
                    }
                )
            )
        for index in sorted(self.calls):
            call = self.calls[index]
            if not call.announced:
                call.announced = True
                out.append(ItemAdded(call.item(done=False)))
            out.append(ItemDone(call.item(done=True)))
        out.append(Completed(self.response_id or _new_id("chatcmpl"), self.usage))
        return out


class ChatClient(BaseModelClient):
    """``wire_api = "chat"``: OpenAI-compatible ``/chat/completions`` servers."""

    path = "/chat/completions"
    closed_early = errors.CHAT_STREAM_CLOSED

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        return build_chat_body(request)

    def rate_limits(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        # Local servers send none of these; an all-empty snapshot would only be noise.
        return snapshot_from_headers(headers) if has_codex_headers(headers) else None

    async def read_events(self, response: Any, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        _, custom = to_chat_tools(request.tools)
        translator = ChatTranslator(custom)
        decoder = SseDecoder()
        loads = json.loads
        chunks = response.aiter_bytes()
        try:
            at_eof = False
            while not at_eof:
                try:
                    payloads = decoder.feed(await chunks.__anext__())
                except StopAsyncIteration:
                    at_eof = True
                    payloads = decoder.finish()
                for payload in payloads:
                    try:
                        chunk = loads(payload)
                    except ValueError:
                        if payload.strip() == "[DONE]":
                            for event in translator.finish():
                                yield event
                            return
                        continue
                    if not isinstance(chunk, dict):
                        continue
                    try:
                        events = translator.on_chunk(chunk)
                    except (KeyError, TypeError, AttributeError, ValueError):
                        continue
                    for event in events:
                        yield event
        finally:
            await chunks.aclose()
        # Not every server sends [DONE]; a stream that reached a finish_reason is complete.
        if translator.finished:
            for event in translator.finish():
                yield event
            return
        raise errors.stream_disconnected(self.closed_early)
