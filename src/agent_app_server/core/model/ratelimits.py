"""Rate-limit headers of a model response, as the wire's ``RateLimitSnapshot``.

Owns: reading the ``x-codex-*`` header family (``x-codex-primary-used-percent`` ...) the way the
reference does. The reference always derives a snapshot for the default ``codex`` limit, even from
a response without any of these headers, and reports it once per response; so does this module.

Layer: core (model clients); imports only the standard library, the model SDKs and its siblings in ``core.model``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def _number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _integer(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _flag(headers: Mapping[str, str], name: str) -> bool | None:
    raw = headers.get(name)
    if raw is None:
        return None
    raw = raw.strip().lower()
    if raw in {"true", "1"}:
        return True
    if raw in {"false", "0"}:
        return False
    return None


def _window(headers: Mapping[str, str], prefix: str) -> dict[str, Any] | None:
    used = _number(headers, f"{prefix}-used-percent")
    if used is None:
        return None
    minutes = _integer(headers, f"{prefix}-window-minutes")
    resets_at = _integer(headers, f"{prefix}-reset-at")
    # An all-zero window is how the backend says "no such window".
    if used == 0 and not minutes and resets_at is None:
        return None
    return {"usedPercent": round(used), "windowDurationMins": minutes, "resetsAt": resets_at}


def has_codex_headers(headers: Mapping[str, str]) -> bool:
    return any(name.lower().startswith("x-codex-") for name in headers)


def snapshot_from_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    """The default (``codex``) limit's snapshot; ``headers`` must be case-insensitive."""
    credits = None
    has_credits = _flag(headers, "x-codex-credits-has-credits")
    unlimited = _flag(headers, "x-codex-credits-unlimited")
    if has_credits is not None and unlimited is not None:
        balance = (headers.get("x-codex-credits-balance") or "").strip() or None
        credits = {"hasCredits": has_credits, "unlimited": unlimited, "balance": balance}
    limit_name = (headers.get("x-codex-limit-name") or "").strip() or None
    return {
        "limitId": "codex",
        "limitName": limit_name,
        "primary": _window(headers, "x-codex-primary"),
        "secondary": _window(headers, "x-codex-secondary"),
        "credits": credits,
        "planType": None,
    }
