"""Dynamic tools (experimental): tools a client declares on ``thread/start`` and runs itself.

Owns: turning the client's ``DynamicToolSpec`` list into model tool definitions (functions, and
namespaces of functions), finding the spec a model call refers to, and the round trip: a
``dynamicToolCall`` item, the ``item/tool/call`` server request to the thread's clients, and the
answer's content items handed back to the model.
Layer: core.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .output import bound_output

if TYPE_CHECKING:
    from ..turns import TurnRunner

#: Chat Completions has no namespaces: a namespaced tool is offered as ``<namespace>__<name>``.
CHAT_NAMESPACE_SEPARATOR = "__"


def _function(spec: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name or str(spec.get("name", "")),
        "description": str(spec.get("description", "")),
        "strict": False,
        "parameters": spec.get("inputSchema") or {"type": "object", "properties": {}},
    }


def tool_specs(dynamic_tools: list[dict[str, Any]] | None, wire_api: str) -> list[dict[str, Any]]:
    """Model tool definitions for a thread's dynamic tools (the reference's shape)."""
    out: list[dict[str, Any]] = []
    for spec in dynamic_tools or []:
        kind = spec.get("type", "function")
        if kind == "namespace":
            members = [tool for tool in spec.get("tools") or [] if isinstance(tool, dict)]
            if wire_api == "chat":
                out += [
                    _function(tool, f"{spec.get('name')}{CHAT_NAMESPACE_SEPARATOR}{tool.get('name')}")
                    for tool in members
                ]
            else:
                out.append(
                    {
                        "type": "namespace",
                        "name": str(spec.get("name", "")),
                        "description": str(spec.get("description", "")),
                        "tools": [_function(tool) for tool in members],
                    }
                )
        else:
            out.append(_function(spec))
    return out


def find(dynamic_tools: list[dict[str, Any]] | None, name: str, namespace: str | None) -> tuple[str, str | None] | None:
    """``(tool, namespace)`` of the dynamic tool a call names, or None."""
    for spec in dynamic_tools or []:
        if spec.get("type", "function") == "namespace":
            prefix = f"{spec.get('name')}{CHAT_NAMESPACE_SEPARATOR}"
            for tool in spec.get("tools") or []:
                tool_name = str(tool.get("name"))
                if (namespace == spec.get("name") and name == tool_name) or name == prefix + tool_name:
                    return tool_name, str(spec.get("name"))
        elif namespace is None and spec.get("name") == name:
            return name, None
    return None


def model_output(content_items: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """What the model gets: plain text for one text item, else Responses content parts."""
    if len(content_items) == 1 and content_items[0].get("type") == "inputText":
        return str(content_items[0].get("text", ""))
    parts: list[dict[str, Any]] = []
    for item in content_items:
        kind = item.get("type")
        if kind == "inputText":
            parts.append({"type": "input_text", "text": str(item.get("text", ""))})
        elif kind == "inputImage":
            parts.append({"type": "input_image", "image_url": str(item.get("imageUrl", ""))})
        elif kind == "inputAudio":
            parts.append({"type": "input_text", "text": f"[audio: {item.get('audioUrl', '')}]"})
    return parts or ""


async def call_dynamic(
    runner: TurnRunner, call_id: str, tool: str, namespace: str | None, arguments: Any
) -> str | list[dict[str, Any]]:
    """Run one dynamic tool call through the thread's clients."""
    from ...rpc import RemoteError

    item: dict[str, Any] = {
        "type": "dynamicToolCall",
        "id": call_id,
        "namespace": namespace,
        "tool": tool,
        "arguments": arguments,
        "status": "inProgress",
        "contentItems": None,
        "success": None,
        "durationMs": None,
    }
    runner.item_started(item)
    started = time.monotonic()
    params = {
        "threadId": runner.thread_id,
        "turnId": runner.turn_id,
        "callId": call_id,
        "namespace": namespace,
        "tool": tool,
        "arguments": arguments,
    }
    error: str | None = None
    content: list[dict[str, Any]] = []
    success = False
    try:
        answer = await runner.engine.sink.request(runner.thread_id, "item/tool/call", params, notify_resolved=False)
    except RemoteError as exc:
        error = exc.message
    else:
        raw = answer.get("contentItems") if isinstance(answer, dict) else None
        if not isinstance(raw, list):
            error = "the client's answer has no contentItems list"
        else:
            content = [entry for entry in raw if isinstance(entry, dict) and entry.get("type")]
            success = bool(answer.get("success", True))
    duration = int((time.monotonic() - started) * 1000)
    if error is not None:
        runner.item_completed(dict(item, status="failed", success=False, durationMs=duration))
        return f"dynamic tool call failed: {error}"
    runner.item_completed(
        dict(
            item,
            status="completed" if success else "failed",
            contentItems=content,
            success=success,
            durationMs=duration,
        )
    )
    return bound_output(model_output(content))
