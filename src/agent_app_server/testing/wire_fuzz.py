"""A seeded generator of hostile JSON-RPC frames and a driver that checks a server survives them.

Owns: the cases (mutated valid requests, wrong types in every field, ids of every JSON type, deep
nesting, invalid UTF-8, lone surrogates, huge strings, truncated and padded JSON) and what a
correct server answers to each, known by construction rather than by asking our own parser.
The same driver runs in the test suite (a short seeded run) and in ``bench/fuzz.py`` (a long one).
Standard library only; transport-independent (a :class:`FuzzLink` sends frames and returns
messages).

Only methods that change nothing outside the server's memory are fuzzed (no ``fs/write*``,
``fs/remove``, ``thread/start``, ``command/exec``, nothing that reaches the network), so a run
can never touch the machine it runs on.
Layer: testing (imports nothing of this project's server: it drives any server over its wire).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "Case",
    "FrameGenerator",
    "FuzzLink",
    "FuzzReport",
    "StdioLink",
    "WebSocketLink",
    "handshake",
    "run_fuzz",
    "server_link",
]

#: Deeper than this is refused by the server (the reference's limit, counted the same way).
MAX_DEPTH = 127
SENTINEL_METHOD = "thread/loaded/list"

#: Valid requests to mutate: a method and params that pass validation (or fail only on the
#: unknown thread, which is what a fuzzer's ids always are).
_TEMPLATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("thread/loaded/list", {"cursor": None, "limit": 10}),
    ("thread/list", {"limit": 5, "cursor": None, "sortKey": "created_at", "archived": False}),
    ("thread/read", {"threadId": "00000000-0000-0000-0000-000000000000", "includeTurns": True}),
    ("thread/name/set", {"threadId": "00000000-0000-0000-0000-000000000000", "name": "n"}),
    ("thread/unsubscribe", {"threadId": "00000000-0000-0000-0000-000000000000"}),
    (
        "turn/start",
        {"threadId": "00000000-0000-0000-0000-000000000000", "input": [{"type": "text", "text": "hi"}]},
    ),
    ("turn/interrupt", {"threadId": "00000000-0000-0000-0000-000000000000", "turnId": "t"}),
    ("config/read", {"includeLayers": False}),
    ("fs/getMetadata", {"path": "/nonexistent/agent-app-server-fuzz"}),
    ("initialize", {"clientInfo": {"name": "fuzz", "version": "1"}}),
    ("no/such/method", {}),
)
_EDGE_IDS: tuple[int | str, ...] = (0, -1, 2**63 - 1, -(2**63), "", " ", "\u00e9\U0001f600", "0", "null")
_INVALID_IDS: tuple[Any, ...] = (None, True, False, 1.5, 1e400, 2**63, -(2**63) - 1, [], [1], {}, {"id": 1})
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80")


@dataclass(frozen=True, slots=True)
class Case:
    """One frame and what a correct server answers: exactly one response carrying ``answer_id``
    (a request), exactly one error with ``id: null`` (``null_error``), or nothing at all."""

    kind: str
    frame: bytes
    answer_id: int | str | None = None
    null_error: bool = False


class FrameGenerator:
    """Deterministic for a seed. ``text_only``: no invalid UTF-8 (a WebSocket text frame cannot
    carry it; the library refuses to send it). ``huge_strings``: include strings of up to 1 MB."""

    def __init__(self, seed: int, *, text_only: bool = False, huge_strings: bool = True) -> None:
        self._random = random.Random(seed)
        self._text_only = text_only
        self._next_id = 0
        self._edge_ids = list(_EDGE_IDS)
        kinds = [
            (self._valid, 3),
            (self._wrong_type, 6),
            (self._string_id, 2),
            (self._edge_id, 1),
            (self._invalid_id, 2),
            (self._notification, 1),
            (self._stray_response, 1),
            (self._deep, 1),
            (self._shallow_nesting, 1),
            (self._lone_surrogate, 1),
            (self._surrogate_pair, 1),
            (self._truncated, 2),
            (self._trailing_garbage, 1),
            (self._not_an_object, 1),
            (self._no_method, 1),
        ]
        if huge_strings:
            kinds.append((self._huge_string, 1))
        if not text_only:
            kinds.append((self._invalid_utf8, 2))
        self._kinds = [kind for kind, weight in kinds for _ in range(weight)]

    def case(self) -> Case:
        return self._random.choice(self._kinds)()

    def sentinel(self) -> Case:
        request_id = f"sentinel-{self._fresh_id()}"
        return self._request("sentinel", request_id, SENTINEL_METHOD, {})

    # ------------------------------------------------------------------ building blocks

    def _fresh_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _template(self) -> tuple[str, dict[str, Any]]:
        method, params = self._random.choice(_TEMPLATES)
        return method, json.loads(_dumps(params))

    @staticmethod
    def _request(kind: str, request_id: int | str, method: Any, params: Any) -> Case:
        frame = _dumps({"id": request_id, "method": method, "params": params}).encode()
        return Case(kind, frame, answer_id=request_id)

    @staticmethod
    def _null_error(kind: str, frame: bytes) -> Case:
        return Case(kind, frame, null_error=True)

    def _value(self, depth: int = 0) -> Any:
        """A random JSON value of any type."""
        r = self._random
        choice = r.randrange(9 if depth < 3 else 6)
        if choice == 0:
            return None
        if choice == 1:
            return r.random() < 0.5
        if choice == 2:
            return r.choice((0, -1, 1, 2**31, 2**63 - 1, -(2**63), 2**64, r.randrange(-1000, 1000)))
        if choice == 3:
            return r.choice((0.0, -0.5, 1e308, 1e-308, 3.14))
        if choice in (4, 5):
            return self._text()
        if choice == 6:
            return [self._value(depth + 1) for _ in range(r.randrange(4))]
        if choice == 7:
            return {self._text(8): self._value(depth + 1) for _ in range(r.randrange(4))}
        return "/" + self._text(12)

    def _text(self, limit: int = 24) -> str:
        r = self._random
        alphabet = 'abc XYZ019"\\/\n\t\u0000\u00e9\u4e2d\U0001f600{}[]:,'
        return "".join(r.choice(alphabet) for _ in range(r.randrange(limit)))

    def _fields(self, value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Every path to a field inside ``value`` (object keys and array indexes)."""
        paths: list[tuple[Any, ...]] = []
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            paths.append((*path, key))
            paths.extend(self._fields(child, (*path, key)))
        return paths

    # ------------------------------------------------------------------ kinds

    def _valid(self) -> Case:
        method, params = self._template()
        return self._request("valid", self._fresh_id(), method, params)

    def _wrong_type(self) -> Case:
        method, params = self._template()
        paths = self._fields(params)
        if not paths or self._random.random() < 0.15:
            return self._request("wrong-type", self._fresh_id(), method, self._value())
        *parents, last = self._random.choice(paths)
        target: Any = params
        for key in parents:
            target = target[key]
        target[last] = self._value()
        return self._request("wrong-type", self._fresh_id(), method, params)

    def _string_id(self) -> Case:
        method, params = self._template()
        return self._request("string-id", f"s{self._fresh_id()}-{self._text(6)}", method, params)

    def _edge_id(self) -> Case:
        if not self._edge_ids:
            return self._valid()
        request_id = self._edge_ids.pop(self._random.randrange(len(self._edge_ids)))
        method, params = self._template()
        return self._request("edge-id", request_id, method, params)

    def _invalid_id(self) -> Case:
        method, params = self._template()
        request_id = self._random.choice(_INVALID_IDS)
        return self._null_error("invalid-id", _dumps({"id": request_id, "method": method, "params": params}).encode())

    def _notification(self) -> Case:
        method, params = self._template()
        if self._random.random() < 0.3:
            method = "initialized"
        return Case("notification", _dumps({"method": method, "params": params}).encode())

    def _stray_response(self) -> Case:
        # An answer to a request the server never sent: ignored.
        reply = {"id": 10**9 + self._fresh_id(), "result": self._value()}
        if self._random.random() < 0.5:
            reply = {"id": reply["id"], "error": {"code": -1, "message": self._text()}}
        return Case("stray-response", _dumps(reply).encode())

    def _deep(self) -> Case:
        depth = self._random.choice((MAX_DEPTH + 1, MAX_DEPTH + 2, 500, 980, 1000, 5000, 100_000))
        if self._random.random() < 0.3:
            return self._null_error("deep", b"[" * depth)
        inner = depth - 2  # the envelope and params objects
        opener, closer = ("[", "]") if self._random.random() < 0.5 else ('{"a":', "}")
        params = f'{{"x":{opener * inner}1{closer * inner}}}'
        frame = f'{{"id":{self._fresh_id()},"method":"thread/loaded/list","params":{params}}}'
        return self._null_error("deep", frame.encode())

    def _shallow_nesting(self) -> Case:
        inner = self._random.randrange(1, MAX_DEPTH - 2)
        method, params = self._template()
        params["x"] = json.loads("[" * inner + "]" * inner)
        return self._request("nested-within-limit", self._fresh_id(), method, params)

    def _lone_surrogate(self) -> Case:
        method, params = self._template()
        surrogate = self._random.choice(("\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\uD834"))
        where = self._random.randrange(3)
        request_id = self._fresh_id()
        if where == 0:
            frame = f'{{"id":"{surrogate}{request_id}","method":"{method}","params":{{}}}}'
        elif where == 1:
            frame = f'{{"id":{request_id},"method":"{method}{surrogate}","params":{{}}}}'
        else:
            members = [f'"z{surrogate}":"x{surrogate}"', *(_dumps(params)[1:-1].split(",", 1)[:1])]
            params_text = "{" + ",".join(member for member in members if member) + "}"
            frame = f'{{"id":{request_id},"method":"{method}","params":{params_text}}}'
        return self._null_error("lone-surrogate", frame.encode())

    def _surrogate_pair(self) -> Case:
        request_id = self._fresh_id()
        frame = f'{{"id":{request_id},"method":"thread/name/set","params":{{"threadId":"x","name":"\\ud83d\\ude00"}}}}'
        return Case("surrogate-pair", frame.encode(), answer_id=request_id)

    def _truncated(self) -> Case:
        # A proper prefix of a JSON object is never valid JSON.
        frame = self._valid().frame
        return self._null_error("truncated", frame[: self._random.randrange(1, len(frame))])

    def _trailing_garbage(self) -> Case:
        frame = self._valid().frame
        return self._null_error("trailing-garbage", frame + self._random.choice((b"x", b"}", b",{}", b"]")))

    def _not_an_object(self) -> Case:
        value = self._random.choice((1, "text", None, True, [], [{"id": 1, "method": SENTINEL_METHOD}], 2.5))
        return self._null_error("not-an-object", _dumps(value).encode())

    def _no_method(self) -> Case:
        request_id = self._fresh_id()
        return Case("no-method", _dumps({"id": request_id, "params": {}}).encode(), answer_id=request_id)

    def _huge_string(self) -> Case:
        method, params = self._template()
        size = 1_000_000 if self._random.random() < 0.05 else self._random.choice((4_096, 65_536))
        paths = [path for path in self._fields(params) if isinstance(path[-1], str)]
        text = self._random.choice("aé中") * size
        if paths:
            *parents, last = self._random.choice(paths)
            target: Any = params
            for key in parents:
                target = target[key]
            target[last] = text
        else:
            params["huge"] = text
        return self._request("huge-string", self._fresh_id(), method, params)

    def _invalid_utf8(self) -> Case:
        frame = self._valid().frame
        # Inside a string value, so the frame is JSON in every other respect.
        cut = frame.index(b'"method":"') + len(b'"method":"')
        return self._null_error("invalid-utf8", frame[:cut] + self._random.choice(_INVALID_UTF8) + frame[cut:])


class FuzzLink(Protocol):
    """A connection to the server under test."""

    async def send(self, frames: Sequence[bytes]) -> None: ...

    async def receive(self) -> bytes | str | None:
        """The next message from the server, None once the connection is gone."""
        ...

    def alive(self) -> bool: ...


@dataclass
class FuzzReport:
    messages: int = 0
    batches: int = 0
    seconds: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)
    #: Request ids never answered (a hang), answered more than once, or answers nobody asked for.
    unanswered: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    #: Errors with ``id: null``: expected by the cases, and received.
    null_errors_expected: int = 0
    null_errors_received: int = 0
    sentinel_missed: int = 0
    connection_lost: bool = False

    @property
    def ok(self) -> bool:
        return (
            not self.unanswered
            and not self.duplicated
            and not self.unexpected
            and self.null_errors_expected == self.null_errors_received
            and not self.sentinel_missed
            and not self.connection_lost
        )

    def summary(self) -> str:
        return (
            f"{self.messages} messages in {self.batches} batches, {self.seconds:.1f} s; "
            f"unanswered {len(self.unanswered)}, answered twice {len(self.duplicated)}, "
            f"unexpected {len(self.unexpected)}, null-id errors {self.null_errors_received}/"
            f"{self.null_errors_expected}, sentinels missed {self.sentinel_missed}, "
            f"connection lost: {self.connection_lost}"
        )


class _Tally:
    """Reads every message and counts answers per id."""

    def __init__(self, link: FuzzLink, report: FuzzReport) -> None:
        self.link = link
        self.report = report
        self.answers: Counter[Any] = Counter()
        self.waiting: dict[Any, asyncio.Future[None]] = {}
        self.closed = asyncio.Event()

    def key(self, request_id: Any) -> Any:
        # JSON's 1 and "1" are different ids; Python's 1 and True are not told apart by a dict.
        return (type(request_id).__name__, request_id)

    async def read(self) -> None:
        try:
            while (raw := await self.link.receive()) is not None:
                self.on_message(raw)
        finally:
            self.closed.set()
            for waiter in self.waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the connection closed"))

    def on_message(self, raw: bytes | str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            self.report.unexpected.append(f"not JSON: {raw[:120]!r}")
            return
        if not isinstance(message, dict) or "method" in message:
            return  # a notification or a server request: not an answer
        request_id = message.get("id")
        if request_id is None:
            if "error" in message:
                self.report.null_errors_received += 1
            else:
                self.report.unexpected.append(f"a result without an id: {str(raw)[:120]}")
            return
        key = self.key(request_id)
        self.answers[key] += 1
        waiter = self.waiting.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def run_fuzz(
    link: FuzzLink,
    generator: FrameGenerator,
    *,
    messages: int,
    batch: int = 200,
    answer_timeout: float = 30.0,
) -> FuzzReport:
    """Send ``messages`` generated frames in batches; after each batch a sentinel request must be
    answered and every request of the batch must have exactly one answer."""
    report = FuzzReport()
    tally = _Tally(link, report)
    reader = asyncio.create_task(tally.read())
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    sent: list[Any] = []
    try:
        while report.messages < messages and not tally.closed.is_set():
            cases = [generator.case() for _ in range(min(batch, messages - report.messages))]
            sentinel = generator.sentinel()
            expected = [tally.key(case.answer_id) for case in (*cases, sentinel) if case.answer_id is not None]
            for key in expected:
                if tally.answers[key] == 0:
                    tally.waiting[key] = loop.create_future()
            report.kinds.update(case.kind for case in cases)
            report.null_errors_expected += sum(case.null_error for case in cases)
            await link.send([case.frame for case in (*cases, sentinel)])
            report.messages += len(cases)
            report.batches += 1
            sent.extend(expected)
            waiters = [tally.waiting[key] for key in expected if key in tally.waiting]
            if waiters:
                _, pending = await asyncio.wait(waiters, timeout=answer_timeout)
                for future in pending:
                    future.cancel()
            for key in expected:
                tally.waiting.pop(key, None)
            if tally.answers[tally.key(sentinel.answer_id)] == 0:
                report.sentinel_missed += 1
                break
    except (ConnectionError, OSError):
        report.connection_lost = True
    finally:
        report.seconds = time.perf_counter() - started
        report.connection_lost = report.connection_lost or tally.closed.is_set() or not link.alive()
        reader.cancel()
    # Counted at the end, so that a late second answer is seen too.
    for key in sent:
        count = tally.answers[key]
        if count == 0:
            report.unanswered.append(key[1])
        elif count > 1:
            report.duplicated.append(key[1])
    unknown = set(tally.answers) - set(sent)
    report.unexpected.extend(f"an answer to id {key[1]!r}, never sent" for key in unknown)
    return report


class StdioLink:
    """A server child process speaking JSONL on its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = process.stdout

    async def send(self, frames: Sequence[bytes]) -> None:
        self._stdin.write(b"".join(frame + b"\n" for frame in frames))
        await self._stdin.drain()

    async def receive(self) -> bytes | None:
        line = await self._stdout.readline()
        return line or None

    def alive(self) -> bool:
        return self.process.returncode is None


class WebSocketLink:
    """One WebSocket connection (``websockets`` client) to a server process."""

    def __init__(self, connection: Any, process: asyncio.subprocess.Process) -> None:
        self.connection = connection
        self.process = process

    async def send(self, frames: Sequence[bytes]) -> None:
        # One text frame per message (an iterable passed to send() would be one fragmented message).
        for frame in frames:
            await self.connection.send(frame.decode())

    async def receive(self) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            message = await self.connection.recv()
        except ConnectionClosed:
            return None
        return message if isinstance(message, str) else message.decode(errors="replace")

    def alive(self) -> bool:
        from websockets.protocol import State

        return self.process.returncode is None and self.connection.protocol.state is State.OPEN


async def handshake(link: FuzzLink) -> None:
    """``initialize`` and ``initialized``, before the reader of :func:`run_fuzz` takes over."""
    request = {"id": "fuzz-init", "method": "initialize", "params": {"clientInfo": {"name": "fuzz", "version": "1"}}}
    await link.send([_dumps(request).encode()])
    while (raw := await link.receive()) is not None:
        if json.loads(raw).get("id") == "fuzz-init":
            await link.send([b'{"method":"initialized"}'])
            return
    raise ConnectionError("the server closed the connection during initialize")


_BANNER = re.compile(r"listening on: (ws://\S+)")


@asynccontextmanager
async def server_link(transport: str, codex_home: Path) -> AsyncIterator[StdioLink | WebSocketLink]:
    """Our server (``python -m agent_app_server``) in a child process, and a link to it over
    ``transport`` ("stdio" or "websocket"); the process is stopped on exit."""
    args = ("--listen", "ws://127.0.0.1:0") if transport == "websocket" else ()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_app_server",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if transport == "websocket" else asyncio.subprocess.DEVNULL,
        env={**os.environ, "CODEX_HOME": str(codex_home)},
        limit=64 * 1024 * 1024,
    )
    try:
        if transport == "stdio":
            yield StdioLink(process)
            return
        from websockets.asyncio.client import connect

        assert process.stderr is not None
        banner = None
        while banner is None:
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            if not line:
                raise ConnectionError("the server exited before listening")
            banner = _BANNER.search(line.decode())
        # Nobody reads stderr from here on: a server that logs a lot must not block on it.
        drain = asyncio.create_task(_drain(process.stderr))
        try:
            async with connect(banner.group(1), max_size=None) as connection:
                yield WebSocketLink(connection, process)
        finally:
            drain.cancel()
    finally:
        await _stop(process)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    assert process.stdin is not None
    process.stdin.close()
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()
