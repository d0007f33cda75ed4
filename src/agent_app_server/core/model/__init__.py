"""Model clients: stream one model response from an OpenAI-compatible endpoint as normalized events.

Owns: talking to the model. ``make_client(settings)`` returns a ``ModelClient`` for the provider's
wire API (``responses``: ``POST /responses``; ``chat``: ``POST /chat/completions``, converted both
ways); its ``stream(request)`` yields ``ModelEvent``s and raises ``ModelError`` classified as the
reference classifies upstream failures. Importing this package is cheap: the ``openai`` SDK is
imported off the event loop, ahead of time by ``preload_sdk_soon()`` (a daemon thread, started when
a thread is started) or at the latest on a client's first request.

Layer: core; imports nothing from ``server``/``rpc``/``store``.
"""

from __future__ import annotations

from .chat import ChatClient
from .errors import CodexErrorInfo, ModelError
from .responses import ResponsesClient
from .transport import BaseModelClient, preload_sdk, preload_sdk_soon
from .types import (
    Completed,
    ItemAdded,
    ItemDone,
    ModelClient,
    ModelEvent,
    ModelRequest,
    ProviderSettings,
    RateLimits,
    ReasoningSummaryDelta,
    ReasoningSummaryPartAdded,
    ReasoningTextDelta,
    Retrying,
    TextDelta,
    Usage,
    WireApi,
)


def make_client(
    settings: ProviderSettings, *, backoff_base_s: float = 0.2, backoff_cap_s: float = 10.0
) -> BaseModelClient:
    """The client for ``settings.wire_api``; creating it does no I/O and imports nothing heavy."""
    if settings.wire_api == "chat":
        return ChatClient(settings, backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s)
    if settings.wire_api == "responses":
        return ResponsesClient(settings, backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s)
    raise ValueError(f"unsupported wire_api `{settings.wire_api}` for model provider `{settings.id}`")


__all__ = [
    "BaseModelClient",
    "ChatClient",
    "CodexErrorInfo",
    "Completed",
    "ItemAdded",
    "ItemDone",
    "ModelClient",
    "ModelError",
    "ModelEvent",
    "ModelRequest",
    "ProviderSettings",
    "RateLimits",
    "ReasoningSummaryDelta",
    "ReasoningSummaryPartAdded",
    "ReasoningTextDelta",
    "ResponsesClient",
    "Retrying",
    "TextDelta",
    "Usage",
    "WireApi",
    "make_client",
    "preload_sdk",
    "preload_sdk_soon",
]
