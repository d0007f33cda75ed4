"""The model-client vocabulary: provider settings, one request, and the normalized stream events.

Owns: the data the turn loop hands to a model client (``ProviderSettings``, ``ModelRequest``) and
everything a client yields back (``ModelEvent``), independent of the wire API (Responses or Chat
Completions) that produced it. Kept free of heavy imports so ``import agent_app_server.core.model``
stays cheap; the ``openai`` SDK is only imported when a client first talks to a server.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from .errors import ModelError

WireApi: TypeAlias = Literal["responses", "chat"]


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One ``[model_providers.NAME]`` table, resolved by the caller (credentials included)."""

    id: str
    base_url: str
    wire_api: WireApi
    #: Already resolved from ``env_key`` / auth.json; ``None`` sends no Authorization header at all.
    api_key: str | None = None
    #: Only used to word the "missing credentials" message when the server answers 401.
    env_key: str | None = None
    query_params: dict[str, str] = field(default_factory=dict)
    http_headers: dict[str, str] = field(default_factory=dict)
    request_max_retries: int = 4
    stream_max_retries: int = 5
    stream_idle_timeout_ms: int = 300_000
    #: OpenAI's own service (the API or the ChatGPT backend): its failures are worded as the
    #: reference words them. Any other provider's are shown in the provider's own words.
    openai_service: bool = False


@dataclass(slots=True)
class ModelRequest:
    """One sampling request, always expressed in Responses-API terms (the chat client converts)."""

    model: str
    input: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    instructions: str | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    parallel_tool_calls: bool = True
    #: session-id, thread-id, originator, x-client-request-id ...; they win over provider headers.
    extra_headers: dict[str, str] = field(default_factory=dict)
    client_metadata: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class ItemAdded:
    """``response.output_item.added``: the item as the API first describes it."""

    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TextDelta:
    item_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ReasoningSummaryPartAdded:
    item_id: str
    summary_index: int


@dataclass(frozen=True, slots=True)
class ReasoningSummaryDelta:
    item_id: str
    summary_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ReasoningTextDelta:
    item_id: str
    content_index: int
    delta: str


@dataclass(frozen=True, slots=True)
class ItemDone:
    """``response.output_item.done``: the full final item exactly as the API gives it."""

    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Completed:
    """The response finished; always the last event of a successful ``stream()``."""

    response_id: str
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Rate-limit state from the response headers, already in the wire's ``RateLimitSnapshot`` shape
    (camelCase: ``limitId``, ``limitName``, ``primary``/``secondary`` ``{usedPercent,
    windowDurationMins, resetsAt}``, ``credits``, ``planType``)."""

    snapshot: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Retrying:
    """Yielded before each retry, so the caller can send ``error`` with ``willRetry: true``.

    ``attempt`` counts retries of this kind (1-based) out of ``max_retries``. When
    ``partial_output`` is true, events of the failed attempt were already yielded: the caller must
    discard them, because the retry re-sends the whole request and the model starts over.
    """

    error: ModelError
    attempt: int
    delay_s: float
    max_retries: int = 0
    partial_output: bool = False


ModelEvent: TypeAlias = (
    ItemAdded
    | TextDelta
    | ReasoningSummaryPartAdded
    | ReasoningSummaryDelta
    | ReasoningTextDelta
    | ItemDone
    | Completed
    | RateLimits
    | Retrying
)


class ModelClient(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        """Stream one model response; raises ``ModelError`` once retries are exhausted."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections; the client must not be used afterwards."""
        ...
