"""The Responses wire API: ``POST {base_url}/responses`` and its SSE events.

Owns: the request body exactly as the reference sends it (key order and omissions from
observed/model_requests) and the translation of Responses stream events into ``ModelEvent``s.
Events are dispatched on their ``type`` through a dict of small functions over the plain
``json.loads`` result; nothing is validated beyond what a field access needs, and events we do not
use are skipped without being looked at.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from . import errors
from .ratelimits import snapshot_from_headers
from .sse import SseDecoder
from .transport import BaseModelClient
from .types import (
    Completed,
    ItemAdded,
    ItemDone,
    ModelEvent,
    ModelRequest,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ReasoningTextDelta,
    TextDelta,
    Usage,
)


def build_responses_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body, keys in the reference's order; unset optional keys are left out."""
    body: dict[str, Any] = {"model": request.model}
    if request.instructions is not None:
        body["instructions"] = request.instructions
    body["stream"] = True
    body["input"] = request.input
    body["tools"] = request.tools
    body["tool_choice"] = "auto"
    body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.reasoning is not None:
        body["reasoning"] = request.reasoning
    body["store"] = False
    if request.reasoning is not None:
        # Without the encrypted reasoning, a stateless (store: false) conversation loses it.
        body["include"] = ["reasoning.encrypted_content"]
    if request.prompt_cache_key is not None:
        body["prompt_cache_key"] = request.prompt_cache_key
    if request.text is not None:
        body["text"] = request.text
    if request.client_metadata is not None:
        body["client_metadata"] = request.client_metadata
    return body


def usage_from_response(response: Mapping[str, Any]) -> Usage | None:
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    input_tokens = int(usage.get("input_tokens") or 0)
    output_tokens = int(usage.get("output_tokens") or 0)
    return Usage(
        input_tokens=input_tokens,
        cached_input_tokens=int(input_details.get("cached_tokens") or 0),
        output_tokens=output_tokens,
        reasoning_output_tokens=int(output_details.get("reasoning_tokens") or 0),
        total_tokens=int(usage.get("total_tokens") or input_tokens + output_tokens),
    )


# --- event handlers: one per used event type; each returns the event to yield or None -------------


def _item_added(ev: dict[str, Any]) -> ModelEvent | None:
    item = ev.get("item")
    return ItemAdded(item) if isinstance(item, dict) else None


def _item_done(ev: dict[str, Any]) -> ModelEvent | None:
    item = ev.get("item")
    return ItemDone(item) if isinstance(item, dict) else None


def _text_delta(ev: dict[str, Any]) -> ModelEvent | None:
    return TextDelta(ev["item_id"], ev["delta"])


def _summary_part_added(ev: dict[str, Any]) -> ModelEvent | None:
    return ReasoningSummaryPartAdded(ev["item_id"], ev["summary_index"])


def _summary_delta(ev: dict[str, Any]) -> ModelEvent | None:
    return ReasoningSummaryDelta(ev["item_id"], ev["summary_index"], ev["delta"])


def _reasoning_delta(ev: dict[str, Any]) -> ModelEvent | None:
    return ReasoningTextDelta(ev["item_id"], ev["content_index"], ev["delta"])


def _completed(ev: dict[str, Any]) -> ModelEvent | None:
    response = ev.get("response")
    if not isinstance(response, dict):
        raise errors.stream_disconnected("failed to parse ResponseCompleted: missing field `response`")
    return Completed(str(response.get("id") or ""), usage_from_response(response))


def _failed(ev: dict[str, Any]) -> ModelEvent | None:
    response = ev.get("response")
    error = response.get("error") if isinstance(response, dict) else None
    if error is None:
        raise errors.stream_disconnected("response.failed event received")
    raise errors.from_stream_error(error)


def _incomplete(ev: dict[str, Any]) -> ModelEvent | None:
    response = ev.get("response")
    details = response.get("incomplete_details") if isinstance(response, dict) else None
    reason = details.get("reason") if isinstance(details, dict) else None
    raise errors.stream_disconnected(f"Incomplete response returned, reason: {reason or 'unknown'}")


def _error(ev: dict[str, Any]) -> ModelEvent | None:
    nested = ev.get("error")
    raise errors.from_stream_error(nested if isinstance(nested, dict) else ev)


_HANDLERS: dict[str, Callable[[dict[str, Any]], ModelEvent | None]] = {
    "response.output_text.delta": _text_delta,
    "response.reasoning_summary_text.delta": _summary_delta,
    "response.reasoning_text.delta": _reasoning_delta,
    "response.output_item.added": _item_added,
    "response.output_item.done": _item_done,
    "response.reasoning_summary_part.added": _summary_part_added,
    "response.completed": _completed,
    "response.failed": _failed,
    "response.incomplete": _incomplete,
    "error": _error,
}


#: Events handled between two turns of the event loop while a response streams in (see read_events).
_EVENTS_PER_LOOP_TURN = 64


class ResponsesClient(BaseModelClient):
    """``wire_api = "responses"`` (OpenAI, Azure, and compatible servers)."""

    path = "/responses"

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        return build_responses_body(request)

    def rate_limits(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        return snapshot_from_headers(headers)

    async def read_events(self, response: Any, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        decoder = SseDecoder()
        handlers = _HANDLERS
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
                for index, payload in enumerate(payloads, 1):
                    if index % _EVENTS_PER_LOOP_TURN == 0:
                        await asyncio.sleep(0)
                    try:
                        ev = loads(payload)
                        handler = handlers.get(ev["type"])
                        if handler is None:
                            continue
                        out = handler(ev)
                    except (ValueError, KeyError, TypeError):
                        # Malformed or unexpected events are skipped, as the reference does.
                        continue
                    if out is None:
                        continue
                    yield out
                    if type(out) is Completed:
                        return
                # A chunk already received is handed over without the event loop running in
                # between, so a model streaming faster than we process would hold the loop for a
                # whole burst: the clients' writes, the replay log's and everything else wait.
                # A turn of the loop per chunk and every few dozen events keeps them flowing.
                await asyncio.sleep(0)
        finally:
            await chunks.aclose()
        raise errors.stream_disconnected(self.closed_early)
