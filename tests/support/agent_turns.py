"""Driving agent turns that use tools: answer the server's requests, collect what it sent.

Every message the server sent during the turn is kept in arrival order (notifications and
server→client requests interleaved), so tests can assert the reference's notification order.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_app_server.testing.fake_model import FakeModelServer, SseEvent
from support.model_config import write_mock_config
from support.server_process import ServerClient, Spawn

Answer = Callable[[dict[str, Any]], Awaitable[Any] | Any]

ENV = {"MOCK_API_KEY": "test-key"}


@dataclass
class TurnLog:
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def notifications(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if "method" in m and "id" not in m]

    @property
    def completed(self) -> dict[str, Any]:
        turn: dict[str, Any] = next(m for m in self.notifications if m["method"] == "turn/completed")["params"]["turn"]
        return turn

    def items(self, kind: str, event: str = "item/completed") -> list[dict[str, Any]]:
        return [
            m["params"]["item"]
            for m in self.notifications
            if m["method"] == event and m["params"]["item"]["type"] == kind
        ]

    def methods(self, *, skip: tuple[str, ...] = ()) -> list[str]:
        """Wire methods in order; item events as ``item/started:<type>``."""
        out = []
        for message in self.messages:
            method = message.get("method")
            if method is None or method in skip:
                continue
            if method in ("item/started", "item/completed"):
                method = f"{method}:{message['params']['item']['type']}"
            out.append(method)
        return out


async def start_agent(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, *, extra_config: str = "", **capabilities: Any
) -> ServerClient:
    """A server whose `mock` provider is ``model`` (plus ``extra_config`` in its config.toml),
    initialized with ``capabilities``."""
    write_mock_config(codex_home, model.base_url, extra=extra_config)
    server = await spawn(env=ENV)
    await server.initialize(**capabilities)
    return server


async def start_thread(server: ServerClient, **params: Any) -> str:
    thread_id: str = (await server.result("thread/start", params))["thread"]["id"]
    await server.notification("thread/started")
    return thread_id


async def run_turn(
    server: ServerClient,
    thread_id: str,
    text: str = "go",
    *,
    answer: Answer | list[Any] | None = None,
    turn_params: dict[str, Any] | None = None,
    within: float = 60,
) -> TurnLog:
    """Start a turn, answer each server request (``answer`` is a callback or a list of
    approval decisions), and return everything up to ``turn/completed``."""
    first = len(server.received)
    decisions = list(answer) if isinstance(answer, list) else None
    reply = await server.result(
        "turn/start", {"threadId": thread_id, "input": [{"type": "text", "text": text}], **(turn_params or {})}
    )
    log = TurnLog(reply)
    turn_id = reply["turn"]["id"]

    def ends_the_turn(message: dict[str, Any]) -> bool:
        return message.get("method") == "turn/completed" and message["params"]["turn"]["id"] == turn_id

    # Watch first, then look at what already arrived: nothing can slip between the two.
    completion = server.watch(ends_the_turn)
    if arrived := next((m for m in server.received[first:] if ends_the_turn(m)), None):
        completion.set_result([arrived])
    async with asyncio.timeout(within):
        while not completion.done():
            message = await _next_request_unless(server, completion)
            if message is None:
                break
            log.requests.append(message)
            if decisions is not None:
                result: Any = {"decision": decisions.pop(0) if decisions else "accept"}
            elif answer is not None and callable(answer):
                result = answer(message)
                if asyncio.iscoroutine(result):
                    result = await result
            else:
                result = {"decision": "accept"}
            if result is not None:  # None: the callback answered by itself
                await server.send({"id": message["id"], "result": result})
    finished = completion.result()[0]
    # Consume the queued notifications up to this turn's end, so later reads start after it.
    while not server.notifications.empty():
        if server.notifications.get_nowait() is finished:
            break
    # The ordered transcript: notifications and server requests, as they arrived.
    log.messages = [m for m in server.received[first:] if "method" in m]
    return log


async def _next_request_unless(server: ServerClient, done: asyncio.Future[Any]) -> dict[str, Any] | None:
    """The server's next request, or None once ``done`` resolved first."""
    if not server.server_requests.empty():
        return server.server_requests.get_nowait()
    getting = asyncio.ensure_future(server.server_requests.get())
    try:
        await asyncio.wait((getting, done), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not getting.done():
            getting.cancel()  # a cancelled get leaves the queue as it was
    return getting.result() if getting.done() and not getting.cancelled() else None


def tool_outputs(body: dict[str, Any]) -> dict[str, Any]:
    """call_id → output of every tool output item in a model request body."""
    return {
        item["call_id"]: item["output"]
        for item in body["input"]
        if item.get("type") in ("function_call_output", "custom_tool_call_output")
    }


def exec_args(cmd: str, **extra: Any) -> str:
    """exec_command arguments; no login shell (profiles make every command slow and noisy)."""
    return json.dumps({"cmd": cmd, "login": False, "yield_time_ms": 10_000, **extra})


def namespaced(events: list[Any], namespace: str) -> list[Any]:
    """A function call the model makes to a tool inside a namespace (``mcp__SERVER`` for MCP)."""
    for event in events:
        item = event.data.get("item") if isinstance(event, SseEvent) else None
        if isinstance(item, dict) and item.get("type") == "function_call":
            item["namespace"] = namespace
    return events
