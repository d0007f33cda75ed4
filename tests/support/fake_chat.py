"""A fake OpenAI-compatible Chat Completions server (what Ollama, vLLM, llama.cpp and LM Studio
speak), for driving the server's `wire_api = "chat"` path over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any, Self


def chat_text(text: str, pieces: int = 3) -> list[dict[str, Any]]:
    size = max(1, len(text) // pieces)
    parts = [text[i : i + size] for i in range(0, len(text), size)]
    chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": part}}]} for part in parts]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
    return chunks


def chat_tool_call(name: str, arguments: str, call_id: str) -> list[dict[str, Any]]:
    head = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    return [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [head]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}},
    ]


class LoopbackHttpServer:
    """An HTTP server on a free 127.0.0.1 port for the duration of an ``async with``; subclasses
    answer each connection in ``_handle``. ``base_url`` ends in ``/v1``, as providers expect."""

    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class FakeChatServer(LoopbackHttpServer):
    def __init__(self) -> None:
        self.scripts: deque[list[dict[str, Any]]] = deque()
        self.requests: list[dict[str, Any]] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(json.loads(body) if body else {})
            chunks = self.scripts.popleft() if self.scripts else chat_text("default answer")
            out = [b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"]
            out += [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks]
            out.append(b"data: [DONE]\n\n")
            writer.write(b"".join(out))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
