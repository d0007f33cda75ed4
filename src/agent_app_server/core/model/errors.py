"""Model failures, classified the way the reference classifies them.

Owns: ``ModelError`` and the mapping from what went wrong (HTTP status + body + headers, a refused
connection, a stream that stopped early, a ``response.failed`` event) to the message text the
client sees, the wire ``codexErrorInfo`` value, and whether/how the failure is retried. For OpenAI's
own service the texts follow codex 0.169.0 (observed/NOTES.md, table "(e) upstream errors"),
typographic apostrophes included, because clients match on them. Any other provider's failure is
shown in its own words (status line and message) rather than the reference's OpenAI-specific
wording, and a request it calls invalid is not retried (compatibility.md ``model:provider-errors``).

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

#: The wire ``CodexErrorInfo``: a camelCase string or a one-key object such as
#: ``{"httpConnectionFailed": {"httpStatusCode": 401}}``.
CodexErrorInfo: TypeAlias = str | dict[str, Any]

#: Which retry budget a failure draws on: ``request`` (request_max_retries: no usable response yet)
#: or ``stream`` (stream_max_retries: the response started, then broke).
RetryBudget: TypeAlias = Literal["request", "stream"]

HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."
QUOTA_EXCEEDED = "Quota exceeded. Check your plan and billing details."
USAGE_NOT_INCLUDED = "To use Codex with your ChatGPT plan, upgrade to Plus: https://chatgpt.com/explore/plus."
SERVER_OVERLOADED = "Selected model is at capacity. Please try a different model."
CONTEXT_WINDOW_EXCEEDED = (
    "Codex ran out of room in the model's context window. Start a new thread or clear earlier history before retrying."
)
STREAM_PREFIX = "stream disconnected before completion: "
STREAM_CLOSED = "stream closed before response.completed"
CHAT_STREAM_CLOSED = "stream closed before the chat completion finished (no finish_reason, no [DONE])"
IDLE_TIMEOUT = "idle timeout waiting for SSE"

#: Error codes (``error.code`` or ``error.type``) that mean "the prompt no longer fits". The second
#: is llama.cpp's spelling.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
_OVERLOADED_CODES = frozenset({"server_is_overloaded", "slow_down"})
_HIGH_DEMAND_STATUSES = frozenset({500, 502, 503, 504})
#: Client errors worth another attempt (timeouts and conflicts); every other 4xx is final.
_RETRYABLE_4XX = frozenset({408, 409})
_UNEXPECTED_BODY_MAX_BYTES = 1000
#: How much of a provider's own error message is shown (a validation error can be pages long).
PROVIDER_MESSAGE_MAX_CHARS = 1000
#: ``error.type``/``error.code`` values that say the request itself is wrong (retrying cannot help).
_INVALID_REQUEST_CODES = frozenset({"invalid_request_error", "validation_error", "invalid_request", "bad_request"})
#: Pydantic's "3 validation errors for CreateChatCompletionRequest" (llama-cpp-python answers 500).
_VALIDATION_RE = re.compile(r"(?i)\bvalidation errors? for\b")
_TRY_AGAIN_RE = re.compile(r"(?i)try again in\s*(\d+(?:\.\d+)?)\s*(s|ms|seconds?)")


class ModelError(Exception):
    """A model request that failed, with everything the caller needs to report it.

    ``message`` and ``codex_error_info`` go to the client verbatim (``TurnError``). ``retryable``
    failures are retried by the client itself; ``budget`` says which retry counter they use and
    ``retry_after_s`` is a server-requested delay. When retries run out the client raises
    ``exhausted`` instead (429 becomes "exceeded retry limit ..."), or the error itself.
    """

    def __init__(
        self,
        message: str,
        codex_error_info: CodexErrorInfo = "other",
        *,
        retryable: bool = False,
        http_status: int | None = None,
        budget: RetryBudget = "request",
        retry_after_s: float | None = None,
        exhausted: ModelError | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.codex_error_info = codex_error_info
        self.retryable = retryable
        self.http_status = http_status
        self.budget: RetryBudget = budget
        self.retry_after_s = retry_after_s
        self.exhausted = exhausted

    def final(self) -> ModelError:
        """The error to raise once this failure's retry budget is used up."""
        return self.exhausted if self.exhausted is not None else self

    def to_turn_error(self) -> dict[str, Any]:
        """The wire ``TurnError`` object (``additionalDetails``/``misalignment`` are always null here)."""
        return {
            "message": self.message,
            "codexErrorInfo": self.codex_error_info,
            "additionalDetails": None,
            "misalignment": None,
        }

    def __repr__(self) -> str:
        return f"ModelError({self.message!r}, {self.codex_error_info!r}, retryable={self.retryable})"


def status_line(status: int) -> str:
    """``401 Unauthorized``, as reqwest's ``StatusCode`` prints it."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} <unknown status code>"


def _error_object(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return error
    return {}


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _codes(error: Mapping[str, Any]) -> set[str]:
    """``error.code`` and ``error.type``: providers disagree on which one carries the reason."""
    return {value for value in (error.get("code"), error.get("type")) if isinstance(value, str)}


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in ("cf-ray", "x-request-id", "x-oai-request-id"):
        value = headers.get(name)
        if value:
            return value
    return None


def retry_after_from_headers(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms`` or ``retry-after`` (seconds); HTTP-date forms are ignored."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip()) * scale
        except ValueError:
            continue
        if value >= 0:
            return value
    return None


def retry_after_from_message(message: str | None) -> float | None:
    """The delay in "Rate limit reached ... Please try again in 1.5s." (OpenAI's 429 wording)."""
    if not message:
        return None
    match = _TRY_AGAIN_RE.search(message)
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2).lower() == "ms" else value


# --- usage limit wording -------------------------------------------------------------------------


def _day_suffix(day: int) -> str:
    if 11 <= day <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _format_reset(resets_at: datetime, now: datetime | None = None) -> str:
    local = resets_at.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"
    if local.date() == today:
        return clock
    return f"{local.strftime('%b')} {local.day}{_day_suffix(local.day)}, {local.year} {clock}"


def usage_limit_message(
    plan_type: str | None,
    resets_at: datetime | None,
    promo_message: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """The reference's "You\u2019ve hit your usage limit." text for a plan and reset time."""
    if resets_at is not None:
        when = _format_reset(resets_at, now)
        after_or = f" or try again at {when}."
        plain = f" Try again at {when}."
    else:
        after_or = " or try again later."
        plain = " Try again later."
    head = "You\u2019ve hit your usage limit."
    if promo_message:
        return f"{head} {promo_message},{after_or}"
    plan = (plan_type or "").lower()
    if plan == "plus":
        return (
            f"{head} Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
            f"https://chatgpt.com/codex/settings/usage to purchase more credits{after_or}"
        )
    if plan in {"team", "business", "self_serve_business_usage_based", "enterprise_cbp_usage_based"}:
        return f"{head} To get more access now, send a request to your admin{after_or}"
    if plan in {"free", "go"}:
        return f"{head} Upgrade to Plus to continue using Codex (https://chatgpt.com/explore/plus),{after_or}"
    if plan in {"pro", "prolite", "pro_lite"}:
        return f"{head} Visit https://chatgpt.com/codex/settings/usage to purchase more credits{after_or}"
    return f"{head}{plain}"


def _usage_limit_error(error: Mapping[str, Any], headers: Mapping[str, str], status: int | None) -> ModelError:
    resets_at = None
    raw_reset = error.get("resets_at")
    if isinstance(raw_reset, int | float) and not isinstance(raw_reset, bool):
        try:
            resets_at = datetime.fromtimestamp(raw_reset, UTC)
        except (OverflowError, OSError, ValueError):
            resets_at = None
    plan = error.get("plan_type")
    promo = (headers.get("x-codex-promo-message") or "").strip() or None
    message = usage_limit_message(plan if isinstance(plan, str) else None, resets_at, promo)
    return ModelError(message, "usageLimitExceeded", http_status=status)


# --- classification ------------------------------------------------------------------------------


def _truncated(text: str, max_bytes: int) -> str:
    if len(text.encode()) <= max_bytes:
        return text
    return text.encode()[:max_bytes].decode(errors="ignore") + "..."


def unexpected_status_message(
    status: int, body_text: str, url: str, headers: Mapping[str, str], *, max_message_chars: int | None = None
) -> str:
    """``unexpected status 401 Unauthorized: <error.message or body>, url: <url>[, request id: ..]``.

    ``max_message_chars`` also bounds ``error.message`` (the body is always bounded)."""
    message = _error_object(_parse_json(body_text)).get("message")
    if isinstance(message, str) and message.strip():
        shown = message.strip()
        if max_message_chars is not None and len(shown) > max_message_chars:
            shown = shown[:max_message_chars] + "..."
    else:
        shown = _truncated(body_text.strip(), _UNEXPECTED_BODY_MAX_BYTES) or "Unknown error"
    text = f"unexpected status {status_line(status)}: {shown}, url: {url}"
    cf_ray = headers.get("cf-ray")
    if cf_ray:
        text += f", cf-ray: {cf_ray}"
    request_id = headers.get("x-request-id") or headers.get("x-oai-request-id")
    if request_id:
        text += f", request id: {request_id}"
    return text


def says_invalid_request(body_text: str) -> bool:
    """Whether an error body says the request itself is wrong, whatever the status it came with."""
    body = _parse_json(body_text)
    error = _error_object(body)
    if _codes(error) & _INVALID_REQUEST_CODES:
        return True
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return True  # FastAPI's request validation answer
    message = error.get("message")
    return bool(_VALIDATION_RE.search(message if isinstance(message, str) else body_text))


def missing_credentials_message(provider_id: str, env_key: str | None) -> str:
    if env_key:
        return (
            f"Missing environment variable: `{env_key}`. "
            f"Set it to your API key for provider `{provider_id}`, or log in."
        )
    return (
        f"No API key is configured for model provider `{provider_id}`. "
        "Log in, or set `env_key` for this provider and export the key."
    )


def from_http_status(
    status: int,
    body_text: str,
    headers: Mapping[str, str],
    url: str,
    *,
    provider_id: str = "",
    has_credentials: bool = True,
    env_key: str | None = None,
    openai_service: bool = True,
) -> ModelError:
    """Classify a non-2xx answer to the model request (headers must be case-insensitive).

    ``openai_service``: the provider is OpenAI's own service, whose failures get the reference's
    texts; any other provider's answers are shown as its status line and message, except 401
    and 429, whose reference texts carry both already."""
    error = _error_object(_parse_json(body_text))
    codes = _codes(error)
    if codes & _CONTEXT_CODES:
        return ModelError(CONTEXT_WINDOW_EXCEEDED, "contextWindowExceeded", http_status=status)
    if not openai_service and status not in (401, 429) and not codes & _OVERLOADED_CODES:
        return _provider_status_error(status, body_text, headers, url)
    if status == 400:
        # The reference shows a rejected request's body untouched: it is the most precise text.
        return ModelError(body_text, "other", http_status=status)
    if status == 401:
        if not has_credentials:
            return ModelError(
                missing_credentials_message(provider_id, env_key),
                {"httpConnectionFailed": {"httpStatusCode": status}},
                http_status=status,
            )
        return ModelError(
            unexpected_status_message(status, body_text, url, headers),
            {"httpConnectionFailed": {"httpStatusCode": status}},
            http_status=status,
        )
    if status == 429:
        if "usage_limit_reached" in codes:
            return _usage_limit_error(error, headers, status)
        if "insufficient_quota" in codes:
            return ModelError(QUOTA_EXCEEDED, "usageLimitExceeded", http_status=status)
        if "usage_not_included" in codes:
            return ModelError(USAGE_NOT_INCLUDED, "usageLimitExceeded", http_status=status)
        request_id = _request_id(headers)
        exhausted_text = f"exceeded retry limit, last status: {status_line(status)}"
        if request_id:
            exhausted_text += f", request id: {request_id}"
        message = error.get("message")
        delay = retry_after_from_headers(headers)
        if delay is None:
            delay = retry_after_from_message(message if isinstance(message, str) else None)
        return ModelError(
            unexpected_status_message(status, body_text, url, headers),
            {"httpConnectionFailed": {"httpStatusCode": status}},
            retryable=True,
            http_status=status,
            retry_after_s=delay,
            exhausted=ModelError(
                exhausted_text, {"responseTooManyFailedAttempts": {"httpStatusCode": status}}, http_status=status
            ),
        )
    if status == 503 and codes & _OVERLOADED_CODES:
        return ModelError(SERVER_OVERLOADED, "serverOverloaded", http_status=status)
    if status in _HIGH_DEMAND_STATUSES:
        return ModelError(
            HIGH_DEMAND,
            "internalServerError",
            retryable=True,
            http_status=status,
            retry_after_s=retry_after_from_headers(headers),
        )
    return ModelError(
        unexpected_status_message(status, body_text, url, headers),
        {"httpConnectionFailed": {"httpStatusCode": status}},
        retryable=status >= 500 or status in _RETRYABLE_4XX,
        http_status=status,
        retry_after_s=retry_after_from_headers(headers),
    )


def _provider_status_error(status: int, body_text: str, headers: Mapping[str, str], url: str) -> ModelError:
    """A non-OpenAI provider's failure in its own words; the wire info is the reference's."""
    if status in _HIGH_DEMAND_STATUSES:
        info: CodexErrorInfo = "internalServerError"
    elif status == 400:
        info = "other"
    else:
        info = {"httpConnectionFailed": {"httpStatusCode": status}}
    transient = status >= 500 or status in _RETRYABLE_4XX
    return ModelError(
        unexpected_status_message(status, body_text, url, headers, max_message_chars=PROVIDER_MESSAGE_MAX_CHARS),
        info,
        retryable=transient and not says_invalid_request(body_text),
        http_status=status,
        retry_after_s=retry_after_from_headers(headers),
    )


def empty_chat_answer(finish_reason: str | None, output_tokens: int | None) -> ModelError:
    """A chat completion that finished without text, reasoning or a tool call."""
    tokens = "" if output_tokens is None else f", output tokens: {output_tokens}"
    return ModelError(
        f"The model returned no output (finish_reason: {finish_reason or 'none'}{tokens}): no text and no "
        "tool call. With a local model this usually means its chat template does not fit the conversation "
        "or its context window is full; the model server's log says which.",
        "other",
    )


def connection_failed(url: str, cause: str) -> ModelError:
    """No response at all (refused, DNS, TLS, timeout before the headers)."""
    return ModelError(
        f"{STREAM_PREFIX}error sending request for url ({url}): {cause}",
        {"responseStreamConnectionFailed": {"httpStatusCode": None}},
        retryable=True,
        budget="request",
    )


def stream_disconnected(reason: str = STREAM_CLOSED, *, retry_after_s: float | None = None) -> ModelError:
    """The response started but ended (or went quiet) before it completed."""
    return ModelError(f"{STREAM_PREFIX}{reason}", "other", retryable=True, budget="stream", retry_after_s=retry_after_s)


def from_stream_error(error: Any, headers: Mapping[str, str] | None = None) -> ModelError:
    """Classify the ``error`` object of a ``response.failed`` (or an in-band ``error`` event)."""
    error = error if isinstance(error, dict) else {}
    codes = _codes(error)
    message = error.get("message")
    message = message if isinstance(message, str) else ""
    if codes & _CONTEXT_CODES:
        return ModelError(CONTEXT_WINDOW_EXCEEDED, "contextWindowExceeded")
    if "usage_limit_reached" in codes:
        return _usage_limit_error(error, headers or {}, None)
    if "insufficient_quota" in codes:
        return ModelError(QUOTA_EXCEEDED, "usageLimitExceeded")
    if "usage_not_included" in codes:
        return ModelError(USAGE_NOT_INCLUDED, "usageLimitExceeded")
    if "invalid_prompt" in codes:
        return ModelError(message, "other")
    if codes & _OVERLOADED_CODES:
        return ModelError(SERVER_OVERLOADED, "serverOverloaded")
    delay = retry_after_from_message(message) if "rate_limit_exceeded" in codes else None
    return stream_disconnected(message or "response.failed event received", retry_after_s=delay)
