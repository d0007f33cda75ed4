"""A fake OpenAI Responses API server for tests and benchmarks.

Stdlib asyncio only, with a deliberately tiny HTTP/1.1 implementation: it has to be fast enough to
stream tens of thousands of deltas and predictable enough to script failures (HTTP errors,
mid-stream disconnects, ``response.failed``) that a real HTTP framework would try to smooth over.

Streams use ``Connection: close`` framing without ``Content-Length``: the body ends when the socket
closes. Both the Rust ``reqwest``/``hyper`` client of the reference and ``httpx`` (the ``openai``
SDK) accept it, and a scripted disconnect then looks exactly like an upstream that went away.

Event payloads carry the same fields the real API sends (ids, indices, ``status``, ``logprobs``,
``annotations``...) because both the reference binary and the ``openai`` SDK deserialize them into
typed items and reject or misreport events that are missing fields.
Layer: testing (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import json
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeAlias

__all__ = [
    "DEFAULT_MODEL",
    "Delay",
    "Disconnect",
    "FakeModelServer",
    "Hold",
    "HttpResponse",
    "Raw",
    "RecordedRequest",
    "Script",
    "ScriptSource",
    "SseEvent",
    "Step",
    "custom_tool_call_reply",
    "default_usage",
    "delay",
    "disconnect_after",
    "function_call_reply",
    "http_error",
    "paced",
    "response_failed",
    "text_reply",
]

DEFAULT_MODEL = "mock-model"

# Writes are batched up to this many bytes before the writer is drained: one syscall per event
# would make a 20,000-delta stream take seconds instead of milliseconds.
_FLUSH_BYTES = 64 * 1024
_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 256 * 1024 * 1024

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One ``event: <type>`` / ``data: <json>`` frame. ``sequence_number`` is restamped on send so
    that scripts can be concatenated and still number their events 0, 1, 2 ... per response."""

    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data["type"])


@dataclass(frozen=True, slots=True)
class Delay:
    """Pause between events; buffered events are flushed first so the client sees them in time.
    Before the first event it delays the response headers too (a slow upstream)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Hold:
    """Pause until ``release`` is set (what was sent before is flushed first): keeps a turn running
    for exactly as long as a test needs, without guessing a duration."""

    release: asyncio.Event


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection: gracefully (FIN) after flushing, or with ``abort`` as a reset."""

    abort: bool = False


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes written verbatim into the body (after the SSE headers): malformed-stream tests."""

    data: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete non-streaming response; it must be the only step of its script."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"


Step: TypeAlias = SseEvent | Delay | Hold | Disconnect | Raw | HttpResponse
Script: TypeAlias = list[Step]


@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str
    #: Lower-case names; a repeated header keeps its last value.
    headers: dict[str, str]
    #: The parsed JSON body, or ``None`` when it is empty or not JSON.
    body: Any
    raw_body: bytes = field(repr=False, default=b"")

    @property
    def query(self) -> str:
        return self.path.partition("?")[2]

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.partition("?")[0]


#: What ``enqueue`` accepts: a fixed script, or a function of the request that builds one (e.g.
#: to echo the input, or to mint fresh item ids per request).
ScriptSource: TypeAlias = Script | Callable[[RecordedRequest], Script]


# --------------------------------------------------------------------------- script builders


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def default_usage(
    *, input_tokens: int = 10, cached_tokens: int = 0, output_tokens: int = 5, reasoning_tokens: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def _response_object(
    response_id: str,
    *,
    status: str,
    model: str,
    created_at: int,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


class _Builder:
    """Accumulates one response's events and its final ``output`` list."""

    def __init__(self, response_id: str | None, model: str) -> None:
        self.response_id = response_id or _new_id("resp")
        self.model = model
        self.created_at = int(time.time())
        self.events: Script = []
        self.output: list[dict[str, Any]] = []
        self._seq = itertools.count()

    def emit(self, data: dict[str, Any]) -> None:
        self.events.append(SseEvent({**data, "sequence_number": next(self._seq)}))

    def created(self) -> None:
        response = _response_object(
            self.response_id, status="in_progress", model=self.model, created_at=self.created_at, output=[], usage=None
        )
        self.emit({"type": "response.created", "response": response})

    def completed(self, usage: dict[str, Any]) -> None:
        response = _response_object(
            self.response_id,
            status="completed",
            model=self.model,
            created_at=self.created_at,
            output=self.output,
            usage=usage,
        )
        self.emit({"type": "response.completed", "response": response})

    def reasoning(self, summary: str, deltas: Sequence[str] | None) -> None:
        item_id = _new_id("rs")
        index = len(self.output)
        self.emit(
            {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": None},
            }
        )
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        self.emit({"type": "response.reasoning_summary_part.added", **where, "part": _summary_part("")})
        for delta in _split(summary, deltas):
            self.emit({"type": "response.reasoning_summary_text.delta", **where, "delta": delta})
        self.emit({"type": "response.reasoning_summary_text.done", **where, "text": summary})
        self.emit({"type": "response.reasoning_summary_part.done", **where, "part": _summary_part(summary)})
        item = {"id": item_id, "type": "reasoning", "summary": [_summary_part(summary)], "encrypted_content": None}
        self.emit({"type": "response.output_item.done", "output_index": index, "item": item})
        self.output.append(item)

    def message(self, text: str, deltas: Sequence[str]) -> None:
        item_id = _new_id("msg")
        index = len(self.output)
        added = {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
        self.emit({"type": "response.output_item.added", "output_index": index, "item": added})
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        self.emit({"type": "response.content_part.added", **where, "part": _text_part("")})
        for delta in deltas:
            self.emit({"type": "response.output_text.delta", **where, "delta": delta, "logprobs": []})
        self.emit({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
        self.emit({"type": "response.content_part.done", **where, "part": _text_part(text)})
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "content": [_text_part(text)],
            "role": "assistant",
        }
        self.emit({"type": "response.output_item.done", "output_index": index, "item": item})
        self.output.append(item)

    def tool_call(
        self,
        *,
        kind: str,
        name: str,
        call_id: str,
        payload_field: str,
        payload: str,
        delta_event: str,
        done_event: str,
        deltas: Sequence[str] | None,
    ) -> None:
        item_id = _new_id("fc" if kind == "function_call" else "ctc")
        index = len(self.output)

        def item(status: str, value: str) -> dict[str, Any]:
            return {
                "id": item_id,
                "type": kind,
                "status": status,
                payload_field: value,
                "call_id": call_id,
                "name": name,
            }

        self.emit({"type": "response.output_item.added", "output_index": index, "item": item("in_progress", "")})
        where = {"item_id": item_id, "output_index": index}
        for delta in _split(payload, deltas):
            self.emit({"type": delta_event, **where, "delta": delta})
        done = {"type": done_event, **where, payload_field: payload}
        if kind == "function_call":
            done["name"] = name
        self.emit(done)
        final = item("completed", payload)
        self.emit({"type": "response.output_item.done", "output_index": index, "item": final})
        self.output.append(final)


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _summary_part(text: str) -> dict[str, Any]:
    return {"type": "summary_text", "text": text}


def _split(text: str, deltas: Sequence[str] | None) -> list[str]:
    """The deltas that make up ``text``: the given ones (checked), else word-sized pieces."""
    if deltas is not None:
        if "".join(deltas) != text:
            raise ValueError("the deltas must concatenate to the full text")
        return list(deltas)
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    # Split after each space, like a tokenizer would roughly do, so consumers see several deltas.
    while start < len(text):
        end = text.find(" ", start)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def _usage_for(usage: dict[str, Any] | None, output_pieces: int, reasoning_pieces: int) -> dict[str, Any]:
    if usage is not None:
        return usage
    return default_usage(output_tokens=max(1, output_pieces + reasoning_pieces), reasoning_tokens=reasoning_pieces)


def text_reply(
    text: str,
    *,
    deltas: list[str] | None = None,
    reasoning_summary: str | None = None,
    reasoning_deltas: list[str] | None = None,
    response_id: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
) -> Script:
    """An assistant message (optionally after a reasoning item with a summary), then completion.

    ``deltas`` must concatenate to ``text``; by default the text is split after each space.
    """
    pieces = _split(text, deltas)
    builder = _Builder(response_id, model)
    builder.created()
    reasoning_pieces = 0
    if reasoning_summary is not None:
        builder.reasoning(reasoning_summary, reasoning_deltas)
        reasoning_pieces = len(_split(reasoning_summary, reasoning_deltas))
    builder.message(text, pieces)
    builder.completed(_usage_for(usage, len(pieces), reasoning_pieces))
    return builder.events


def function_call_reply(
    name: str,
    arguments_json: str,
    call_id: str | None = None,
    *,
    deltas: list[str] | None = None,
    response_id: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
    reasoning_summary: str | None = None,
    preface: str | None = None,
) -> Script:
    """A ``function_call`` output item (arguments streamed as deltas), then completion; in the
    same response, after a reasoning item (``reasoning_summary``) and an assistant message
    (``preface``) when given."""
    builder = _Builder(response_id, model)
    builder.created()
    if reasoning_summary is not None:
        builder.reasoning(reasoning_summary, None)
    if preface is not None:
        builder.message(preface, _split(preface, None))
    builder.tool_call(
        kind="function_call",
        name=name,
        call_id=call_id or _new_id("call"),
        payload_field="arguments",
        payload=arguments_json,
        delta_event="response.function_call_arguments.delta",
        done_event="response.function_call_arguments.done",
        deltas=deltas if deltas is not None else [arguments_json] if arguments_json else [],
    )
    builder.completed(_usage_for(usage, 1, 0))
    return builder.events


def custom_tool_call_reply(
    name: str,
    input: str,
    call_id: str | None = None,
    *,
    deltas: list[str] | None = None,
    response_id: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = DEFAULT_MODEL,
) -> Script:
    """A freeform ``custom_tool_call`` output item (e.g. ``apply_patch``), then completion."""
    builder = _Builder(response_id, model)
    builder.created()
    builder.tool_call(
        kind="custom_tool_call",
        name=name,
        call_id=call_id or _new_id("call"),
        payload_field="input",
        payload=input,
        delta_event="response.custom_tool_call_input.delta",
        done_event="response.custom_tool_call_input.done",
        deltas=deltas if deltas is not None else [input] if input else [],
    )
    builder.completed(_usage_for(usage, 1, 0))
    return builder.events


def response_failed(
    code: str,
    message: str,
    *,
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
) -> Script:
    """``response.created`` then ``response.failed`` carrying ``{code, message}`` (e.g.
    ``server_error``, ``context_length_exceeded``, ``rate_limit_exceeded``)."""
    builder = _Builder(response_id, model)
    builder.created()
    response = _response_object(
        builder.response_id,
        status="failed",
        model=model,
        created_at=builder.created_at,
        output=[],
        usage=None,
        error={"code": code, "message": message},
    )
    builder.emit({"type": "response.failed", "response": response})
    return builder.events


def http_error(status: int, body_json: Any, headers: dict[str, str] | None = None) -> Script:
    """A plain HTTP error: ``body_json`` is JSON-encoded unless it is already ``str``/``bytes``."""
    if isinstance(body_json, bytes):
        body, content_type = body_json, "text/plain"
    elif isinstance(body_json, str):
        body, content_type = body_json.encode(), "text/plain"
    else:
        body, content_type = json.dumps(body_json).encode(), "application/json"
    return [HttpResponse(status, body, tuple((headers or {}).items()), content_type)]


def disconnect_after(events: Iterable[Step], n: int, *, abort: bool = False) -> Script:
    """The first ``n`` SSE events of ``events`` (delays between them kept), then a disconnect."""
    script: Script = []
    sent = 0
    for step in events:
        if isinstance(step, SseEvent):
            if sent == n:
                break
            sent += 1
        script.append(step)
    script.append(Disconnect(abort=abort))
    return script


def delay(seconds: float) -> Delay:
    return Delay(seconds)


def paced(script: Iterable[Step], every: int, pause: float) -> Script:
    """``script`` with a pause after every ``every`` SSE events (a stream still running while a
    test or a benchmark acts on it)."""
    out: Script = []
    seen = 0
    for step in script:
        out.append(step)
        if isinstance(step, SseEvent):
            seen += 1
            if seen % every == 0:
                out.append(Delay(pause))
    return out


def _default_script(_request: RecordedRequest) -> Script:
    return text_reply("Hello from the fake model.")


# --------------------------------------------------------------------------- server


class _BadRequest(Exception):
    pass


class FakeModelServer:
    """Serves ``POST …/responses`` from a FIFO of scripts (``enqueue``), falling back to
    ``default_script`` when the queue is empty, and ``GET …/models`` with a model list.

    Every request is appended to ``requests`` (unless ``record_requests`` is false, which long
    benchmarks use to keep memory flat).
    """

    def __init__(
        self,
        *,
        default_script: ScriptSource | None = None,
        models: Sequence[str] = (DEFAULT_MODEL,),
        record_requests: bool = True,
    ) -> None:
        self.default_script: ScriptSource = default_script if default_script is not None else _default_script
        self.models = list(models)
        self.record_requests = record_requests
        self.requests: list[RecordedRequest] = []
        #: Requests to ``…/responses`` served so far, counted even when not recorded.
        self.responses_served = 0
        self._queue: deque[ScriptSource] = deque()
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._arrived = asyncio.Condition()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=_MAX_HEADER_BYTES)
        self._port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Python 3.11's wait_closed neither closes nor waits for accepted connections, and a
        # handler may sit in a scripted delay: close the sockets (flushing what was written) and
        # cancel the handlers so nothing outlives the server.
        for writer in list(self._connections):
            writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ----------------------------------------------------------------- scripting

    def enqueue(self, *scripts: ScriptSource) -> None:
        """Queue scripts for the next ``…/responses`` requests, in order."""
        for script in scripts:
            if not callable(script) and any(isinstance(step, HttpResponse) for step in script[1:]):
                raise ValueError("an HttpResponse step must be the whole script")
            self._queue.append(script)

    @property
    def pending(self) -> int:
        """Scripts enqueued but not yet served."""
        return len(self._queue)

    async def wait_for_requests(self, count: int) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests have been recorded; returns them all. Needs
        ``record_requests``; bound it with ``asyncio.timeout``."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    def response_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route.endswith("/responses")]

    # ----------------------------------------------------------------- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._connections.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as exc:
                    writer.write(_plain_response(400, json.dumps({"error": str(exc)}).encode()))
                    await writer.drain()
                    return
                if request is None:
                    return
                await self._record(request)
                keep_alive = await self._respond(request, writer)
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _record(self, request: RecordedRequest) -> None:
        if not self.record_requests:
            return
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    async def _respond(self, request: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        """Answers one request; returns whether the connection may serve another."""
        route = request.route.rstrip("/")
        if request.method == "GET" and route.endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake-model-server"} for m in self.models]
            writer.write(_plain_response(200, json.dumps({"object": "list", "data": data}).encode(), keep_alive=True))
            await writer.drain()
            return True
        if route.endswith("/responses"):
            if request.method != "POST":
                writer.write(_plain_response(405, b'{"error":{"message":"method not allowed"}}', keep_alive=True))
                await writer.drain()
                return True
            self.responses_served += 1
            source = self._queue.popleft() if self._queue else self.default_script
            script = source(request) if callable(source) else source
            await _play(script, writer)
            return False
        writer.write(_plain_response(404, b'{"error":{"message":"not found"}}', keep_alive=True))
        await writer.drain()
        return True


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise _BadRequest("truncated request head") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, path, _version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise _BadRequest(f"bad request line {lines[0]!r}") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        raise _BadRequest("Expect: 100-continue is not supported")
    raw = await _read_body(reader, headers)
    return RecordedRequest(method, path, headers, _parse_body(raw, headers), raw)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise _BadRequest("bad chunk size") from exc
            if size == 0:
                # Trailers, if any, end with an empty line.
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            total += size
            if total > _MAX_BODY_BYTES:
                raise _BadRequest("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length_text = headers.get("content-length", "0")
    try:
        length = int(length_text)
    except ValueError as exc:
        raise _BadRequest(f"bad content-length {length_text!r}") from exc
    if not 0 <= length <= _MAX_BODY_BYTES:
        raise _BadRequest("bad content-length")
    return await reader.readexactly(length) if length else b""


def _parse_body(raw: bytes, headers: dict[str, str]) -> Any:
    if not raw:
        return None
    encoding = headers.get("content-encoding", "").lower()
    try:
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return json.loads(raw)
    except (ValueError, OSError, zlib.error):
        # Unparsable (or zstd, which the stdlib cannot read before 3.14): keep raw_body only.
        return None


def _plain_response(
    status: int,
    body: bytes,
    *,
    headers: Iterable[tuple[str, str]] = (),
    content_type: str = "application/json",
    keep_alive: bool = False,
) -> bytes:
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        f"x-request-id: {_new_id('req')}",
    ]
    head += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


_SSE_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "Connection: close\r\n"
    "x-request-id: {request_id}\r\n"
    "\r\n"
)


def _encode_event(event: SseEvent, sequence_number: int) -> bytes:
    data = event.data
    if data.get("sequence_number") != sequence_number:
        data = {**data, "sequence_number": sequence_number}
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {data['type']}\ndata: {payload}\n\n".encode()


async def _play(script: Sequence[Step], writer: asyncio.StreamWriter) -> None:
    if script and isinstance(script[0], HttpResponse):
        first = script[0]
        writer.write(_plain_response(first.status, first.body, headers=first.headers, content_type=first.content_type))
        await writer.drain()
        return
    buffer = bytearray()
    started = False
    sequence = 0

    def start() -> None:
        nonlocal started
        if not started:
            buffer.extend(_SSE_HEAD.format(request_id=_new_id("req")).encode("latin-1"))
            started = True

    async def flush() -> None:
        if buffer:
            writer.write(bytes(buffer))
            buffer.clear()
        await writer.drain()

    for step in script:
        if isinstance(step, SseEvent):
            start()
            buffer += _encode_event(step, sequence)
            sequence += 1
            if len(buffer) >= _FLUSH_BYTES:
                await flush()
        elif isinstance(step, Delay):
            await flush()
            await asyncio.sleep(step.seconds)
        elif isinstance(step, Hold):
            start()
            await flush()
            await step.release.wait()
        elif isinstance(step, Raw):
            start()
            buffer += step.data
        elif isinstance(step, Disconnect):
            if step.abort:
                # Dropping unsent bytes on purpose: a reset loses whatever was in flight.
                writer.transport.abort()
                return
            await flush()
            return
        else:
            raise TypeError(f"an HttpResponse step must be the whole script, got {step!r} mid-stream")
    start()
    await flush()
