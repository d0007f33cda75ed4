"""The HTTP side shared by both wire APIs: the SDK client, the request, retries, cleanup.

Owns: importing the ``openai`` SDK off the event loop (it takes ~0.7 s: ``preload_sdk_soon()`` starts
it in a daemon thread when a thread is started, so the first turn does not wait for it), creating
the ``openai.AsyncOpenAI`` client, the headers of a model request, turning SDK/HTTP exceptions into ``ModelError``, the
retry loop with its two budgets, and closing the HTTP response whatever happens. The SDK is used
for the request only (URL, query, auth, headers, status errors); the streamed body is read raw and
handed to the wire-specific subclass, because the SDK's typed event parsing costs more per token
than the whole rest of the pipeline.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import random
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from . import errors
from .errors import ModelError
from .types import ModelEvent, ModelRequest, ProviderSettings, RateLimits, Retrying

#: SDK headers the reference does not send; removed so requests look like the reference's. The
#: organization/project ones would otherwise be filled in from OPENAI_ORG_ID/OPENAI_PROJECT_ID,
#: bypassing the provider's configured headers.
_SDK_ONLY_HEADERS = (
    "X-Stainless-Lang",
    "X-Stainless-Package-Version",
    "X-Stainless-OS",
    "X-Stainless-Arch",
    "X-Stainless-Runtime",
    "X-Stainless-Runtime-Version",
    "X-Stainless-Async",
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
    "OpenAI-Organization",
    "OpenAI-Project",
)
#: A server-requested delay longer than this is not honoured as is: the turn would look hung.
_MAX_SERVER_DELAY_S = 60.0
#: Headers that carry a credential when a provider authenticates without ``api_key``.
_CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key"})
_CONNECT_TIMEOUT_S = 30.0


#: Set once the SDK modules are fully imported; until then importing them on the event loop could
#: block it on another thread's import lock.
_sdk_imported = threading.Event()


#: What the first request needs beyond the SDK itself: httpx2 imports its connection pool, and
#: that its socket layer, only when the first connection opens — on the event loop (~0.3 s).
_FIRST_CONNECTION_MODULES = ("httpcore2", "anyio._core._sockets")


def _import_sdk() -> None:
    for name in ("openai", "httpx2"):
        importlib.import_module(name)
    for name in _FIRST_CONNECTION_MODULES:
        # Internals of the HTTP stack: warming them is an optimization, never a requirement.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    _sdk_imported.set()


def _import_sdk_quietly() -> None:
    # A failed import is reported by the first request that needs the SDK, with its real cause.
    try:
        _import_sdk()
    except Exception:
        return


@functools.cache
def preload_sdk_soon() -> None:
    """Start importing the SDK in a daemon thread (once per process) and return at once."""
    if not _sdk_imported.is_set():
        threading.Thread(target=_import_sdk_quietly, name="openai-sdk-preload", daemon=True).start()


async def preload_sdk() -> None:
    """Import the SDK without blocking the event loop; returns when it is usable."""
    if not _sdk_imported.is_set():
        await asyncio.to_thread(_import_sdk)


def _overlay(headers: dict[str, Any], extra: Mapping[str, str]) -> None:
    """Add ``extra`` so that it replaces any header of the same name whatever its case."""
    if not extra:
        return
    lowered = {name.lower(): name for name in headers}
    for name, value in extra.items():
        existing = lowered.get(name.lower())
        if existing is not None:
            del headers[existing]
        headers[name] = value
        lowered[name.lower()] = name


class BaseModelClient:
    """One provider's client; subclasses define the path, the body and how to read the stream.

    ``stream()`` retries by itself and reports each retry with a ``Retrying`` event. Contract for
    the caller: if a ``Retrying`` has ``partial_output=True``, the events yielded since the previous
    ``Retrying`` (or since the start) belong to an attempt that failed mid-way and must be
    discarded; the next attempt re-sends the whole request and the model starts over. A successful
    stream always ends with ``Completed``; a failed one raises ``ModelError``. Stopping the
    iteration (``aclose()``, ``break`` + garbage collection, or cancelling the consuming task)
    closes the HTTP response, and with it the connection.
    """

    path: str = ""
    #: The reason given when the body ends before the response is complete.
    closed_early: str = errors.STREAM_CLOSED

    def __init__(self, settings: ProviderSettings, *, backoff_base_s: float = 0.2, backoff_cap_s: float = 10.0) -> None:
        self.settings = settings
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._sdk: Any = None
        self._headers: dict[str, Any] = {}
        self._response_cls: Any = None
        self._status_error: type[BaseException] = Exception
        self._connection_error: type[BaseException] = Exception
        self._timeout_error: type[BaseException] = Exception
        self._sdk_error: type[BaseException] = Exception
        self._idle_timeout: type[BaseException] = Exception
        self._transport_error: type[BaseException] = Exception

    # --- subclass hooks ------------------------------------------------------------------------

    def build_body(self, request: ModelRequest) -> dict[str, Any]:
        raise NotImplementedError

    def read_events(self, response: Any, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Events of one attempt; ends after ``Completed`` or raises ``ModelError``."""
        raise NotImplementedError

    def rate_limits(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        return None

    # --- SDK -----------------------------------------------------------------------------------

    async def _ensure_sdk(self) -> Any:
        if self._sdk is not None:
            return self._sdk
        await preload_sdk()
        import httpx2
        import openai

        if self._sdk is not None:  # another stream() finished the same setup meanwhile
            return self._sdk
        settings = self.settings
        idle_s = settings.stream_idle_timeout_ms / 1000
        headers: dict[str, Any] = dict.fromkeys(_SDK_ONLY_HEADERS, openai.Omit())
        if settings.api_key is None:
            # The SDK insists on some credential; an explicit Omit() is its way to send none.
            headers["Authorization"] = openai.Omit()
        _overlay(headers, settings.http_headers)
        _overlay(headers, {"Accept": "text/event-stream"})
        self._headers = headers
        self._response_cls = httpx2.Response
        self._status_error = openai.APIStatusError
        self._connection_error = openai.APIConnectionError
        self._timeout_error = openai.APITimeoutError
        self._sdk_error = openai.OpenAIError
        self._idle_timeout = httpx2.TimeoutException
        self._transport_error = httpx2.HTTPError
        self._sdk = openai.AsyncOpenAI(
            base_url=settings.base_url,
            # Never None: the SDK would then read OPENAI_API_KEY behind the caller's back.
            api_key=settings.api_key or "unused",
            default_query=dict(settings.query_params) or None,
            max_retries=0,
            # The read timeout bounds every socket read, i.e. the wait for each SSE chunk: it is
            # the stream idle timeout, at no per-event cost.
            timeout=httpx2.Timeout(idle_s, connect=min(idle_s, _CONNECT_TIMEOUT_S)),
        )
        return self._sdk

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()

    # --- one attempt ---------------------------------------------------------------------------

    def _url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}{self.path}"

    async def _send(self, sdk: Any, body: bytes, headers: dict[str, Any], has_credentials: bool) -> Any:
        try:
            return await sdk.post(
                self.path, content=body, cast_to=self._response_cls, stream=True, options={"headers": headers}
            )
        except self._status_error as exc:
            response = exc.response  # type: ignore[attr-defined]
            raise errors.from_http_status(
                response.status_code,
                response.text,
                response.headers,
                str(response.request.url),
                provider_id=self.settings.id,
                has_credentials=has_credentials,
                env_key=self.settings.env_key,
                openai_service=self.settings.openai_service,
            ) from None
        except self._timeout_error as exc:
            raise errors.connection_failed(_request_url(exc, self._url()), "operation timed out") from None
        except self._connection_error as exc:
            raise errors.connection_failed(_request_url(exc, self._url()), _cause(exc)) from None
        except self._sdk_error as exc:
            raise ModelError(str(exc), "other") from None

    def _delay(self, error: ModelError, attempt: int) -> float:
        if error.retry_after_s is not None:
            return min(error.retry_after_s, _MAX_SERVER_DELAY_S)
        # Full jitter: spreads the retries of many clients hitting the same outage.
        return random.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))

    # --- the public stream -----------------------------------------------------------------------

    async def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        """Stream one response (see the class docstring for the retry contract)."""
        sdk = await self._ensure_sdk()
        body = json.dumps(self.build_body(request), ensure_ascii=False, separators=(",", ":")).encode()
        headers = dict(self._headers)
        _overlay(headers, request.extra_headers)
        has_credentials = self.settings.api_key is not None or any(
            name.lower() in _CREDENTIAL_HEADERS for name in (*self.settings.http_headers, *request.extra_headers)
        )
        failures = {"request": 0, "stream": 0}
        limits = {"request": self.settings.request_max_retries, "stream": self.settings.stream_max_retries}
        while True:
            partial = False
            try:
                response = await self._send(sdk, body, headers, has_credentials)
            except ModelError as exc:
                error = exc
            else:
                try:
                    snapshot = self.rate_limits(response.headers)
                    if snapshot is not None:
                        yield RateLimits(snapshot)
                    async for event in self.read_events(response, request):
                        partial = True
                        yield event
                    return
                except ModelError as exc:
                    error = exc
                except self._idle_timeout:
                    error = errors.stream_disconnected(errors.IDLE_TIMEOUT)
                except self._transport_error:
                    # A reset or truncated body reads, for the client, like the server closing
                    # early: the reference reports both the same way.
                    error = errors.stream_disconnected(self.closed_early)
                finally:
                    await response.aclose()
            if not error.retryable:
                raise error
            failures[error.budget] += 1
            attempt = failures[error.budget]
            if attempt > limits[error.budget]:
                raise error.final()
            delay = self._delay(error, attempt)
            yield Retrying(error, attempt, delay, limits[error.budget], partial)
            await asyncio.sleep(delay)


def _request_url(exc: BaseException, fallback: str) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    return str(url) if url is not None else fallback


_OS_ERROR_NAMES: dict[type[BaseException], str] = {
    ConnectionRefusedError: "connection refused",
    ConnectionResetError: "connection reset",
    ConnectionAbortedError: "connection aborted",
    TimeoutError: "timed out",
}


def _cause(exc: BaseException) -> str:
    """The root cause of a connection failure: the SDK and httpx layers only say "Connection error."
    or "All connection attempts failed"; the OS error at the bottom says what happened."""
    root = exc
    for _ in range(16):
        nxt = root.__cause__ or root.__context__
        if nxt is None:
            break
        root = nxt
    text = str(root) or type(root).__name__
    label = _OS_ERROR_NAMES.get(type(root))
    return f"{label}: {text}" if label else text
