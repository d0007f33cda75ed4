"""The model catalog behind ``model/list``: the configured model, then what the provider lists.

Owns: fetching a provider's ``GET {base_url}/models`` (OpenAI's ``{"data": [{"id"}]}`` or the Codex
backend's ``{"models": [{"slug", "display_name", ...}]}``), caching it in memory and in
``$CODEX_HOME/agent-app-server/models_cache.json`` so a fresh process answers at once, refreshing a
stale cache in the background, and the wire ``Model`` entries. An unreachable or failing endpoint
is never an error: the configured model alone is listed.
Layer: core (the HTTP client is imported on first use).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "models_cache.json"
#: A listing younger than this is served without asking the provider again.
FRESH_FOR_S = 300.0
#: How long the first (uncached) request waits for the provider before answering without it.
FIRST_FETCH_TIMEOUT_S = 5.0
FETCH_TIMEOUT_S = 15.0
#: After a failed fetch, the provider is not asked again for this long.
RETRY_AFTER_FAILURE_S = 30.0

DEFAULT_EFFORTS: tuple[tuple[str, str], ...] = (
    ("low", "Fast responses with lighter reasoning"),
    ("medium", "Balances speed and reasoning depth for everyday tasks"),
    ("high", "Greater reasoning depth for complex problems"),
)
EFFORT_DESCRIPTIONS = dict(
    (
        *DEFAULT_EFFORTS,
        ("minimal", "Fastest responses with minimal reasoning"),
        ("none", "No reasoning"),
        ("xhigh", "Extra high reasoning depth for complex problems"),
    )
)


@dataclass(frozen=True, slots=True)
class ProviderRequest:
    """How to ask one provider for its models (credentials already resolved)."""

    provider_id: str
    base_url: str
    api_key: str | None
    headers: dict[str, str]
    query: dict[str, str]

    @property
    def cache_key(self) -> str:
        return f"{self.provider_id} {self.base_url}"


@dataclass
class _Entry:
    models: list[dict[str, Any]]
    fetched_at: float  # time.time()
    failed_at: float = 0.0


class ModelCatalog:
    """Per-process cache of provider model listings."""

    def __init__(self, state_dir: Path) -> None:
        self._cache_path = state_dir / CACHE_FILE_NAME
        self._entries: dict[str, _Entry] = {}
        self._disk_loaded = False
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def listed(self, request: ProviderRequest) -> list[dict[str, Any]]:
        """The provider's models as raw entries (``id`` plus whatever the provider says)."""
        if not self._disk_loaded:
            self._disk_loaded = True
            for cached_key, cached in (await asyncio.to_thread(self._load_disk)).items():
                self._entries.setdefault(cached_key, cached)
        key = request.cache_key
        entry = self._entries.get(key)
        now = time.time()
        if entry is None:
            task = self._refresh(request)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), FIRST_FETCH_TIMEOUT_S)
            fetched = self._entries.get(key)
            return fetched.models if fetched is not None else []
        if now - entry.fetched_at > FRESH_FOR_S and now - entry.failed_at > RETRY_AFTER_FAILURE_S:
            self._refresh(request)  # served stale now, fresh next time
        return entry.models

    def _refresh(self, request: ProviderRequest) -> asyncio.Task[None]:
        key = request.cache_key
        task = self._refreshing.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._fetch_into_cache(request))
            self._refreshing[key] = task
        return task

    async def _fetch_into_cache(self, request: ProviderRequest) -> None:
        key = request.cache_key
        try:
            models = await fetch_models(request)
        except Exception as exc:  # any failure: keep what we had, list the configured model alone
            log.info("model list of provider `%s` unavailable: %s", request.provider_id, exc)
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry([], 0.0, failed_at=time.time())
            else:
                entry.failed_at = time.time()
            return
        self._entries[key] = _Entry(models, time.time())
        await asyncio.to_thread(self._save_disk)

    def _load_disk(self) -> dict[str, _Entry]:
        try:
            data = json.loads(self._cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries = {}
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, dict) and isinstance(value.get("models"), list):
                    fetched = value.get("fetchedAt")
                    entries[key] = _Entry(
                        [m for m in value["models"] if isinstance(m, dict) and isinstance(m.get("id"), str)],
                        float(fetched) if isinstance(fetched, int | float) else 0.0,
                    )
        return entries

    def _save_disk(self) -> None:
        data = {
            key: {"models": entry.models, "fetchedAt": entry.fetched_at}
            for key, entry in self._entries.items()
            if entry.fetched_at
        }
        try:
            self._cache_path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".models_cache.", dir=self._cache_path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, self._cache_path)
        except OSError as exc:
            log.info("cannot write the model cache %s: %s", self._cache_path, exc)

    async def aclose(self) -> None:
        for task in self._refreshing.values():
            task.cancel()


async def fetch_models(request: ProviderRequest) -> list[dict[str, Any]]:
    # Imported in a worker thread: it takes a few hundred milliseconds the first time.
    httpx2 = await asyncio.to_thread(importlib.import_module, "httpx2")

    headers = dict(request.headers)
    if request.api_key:
        headers.setdefault("Authorization", f"Bearer {request.api_key}")
    url = f"{request.base_url.rstrip('/')}/models"
    async with httpx2.AsyncClient(timeout=FETCH_TIMEOUT_S) as client:
        response = await client.get(url, headers=headers, params=request.query or None)
    if response.status_code >= 400:
        raise RuntimeError(f"GET {url} answered HTTP {response.status_code}")
    body = response.json()
    return parse_listing(body)


def parse_listing(body: Any) -> list[dict[str, Any]]:
    """Entries with at least an ``id``, in the provider's order, without duplicates."""
    raw: list[Any] = []
    if isinstance(body, dict):
        for key in ("data", "models"):
            if isinstance(body.get(key), list):
                raw = body[key]
                break
    elif isinstance(body, list):
        raw = body
    seen: set[str] = set()
    models = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        model_id = item.get("id") or item.get("slug")
        if not isinstance(model_id, str) or not model_id or model_id in seen:
            continue
        seen.add(model_id)
        models.append({**item, "id": model_id})
    return models


def _efforts(entry: dict[str, Any]) -> list[dict[str, str]]:
    levels = entry.get("supported_reasoning_levels") or entry.get("supportedReasoningEfforts")
    options = []
    if isinstance(levels, list):
        for level in levels:
            effort = level.get("effort") or level.get("reasoningEffort") if isinstance(level, dict) else level
            if isinstance(effort, str) and effort:
                description = level.get("description") if isinstance(level, dict) else None
                options.append(
                    {
                        "reasoningEffort": effort,
                        "description": description
                        if isinstance(description, str)
                        else EFFORT_DESCRIPTIONS.get(effort, effort),
                    }
                )
    return options or [{"reasoningEffort": e, "description": d} for e, d in DEFAULT_EFFORTS]


def to_wire_model(entry: dict[str, Any], *, is_default: bool, default_effort: str | None) -> dict[str, Any]:
    """A wire ``Model`` for one listed (or the configured) model."""
    model_id = entry["id"]
    efforts = _efforts(entry)
    names = [option["reasoningEffort"] for option in efforts]
    listed_default = entry.get("default_reasoning_level") or entry.get("defaultReasoningEffort")
    effort = default_effort if default_effort in names else listed_default if listed_default in names else None
    if effort is None:
        effort = "medium" if "medium" in names else names[0]
    display = entry.get("display_name") or entry.get("displayName")
    description = entry.get("description")
    visibility = entry.get("visibility")
    return {
        "id": model_id,
        "model": model_id,
        "displayName": display if isinstance(display, str) and display else model_id,
        "description": description if isinstance(description, str) else "",
        "hidden": bool(entry.get("hidden")) or visibility == "hide",
        "isDefault": is_default,
        "supportedReasoningEfforts": efforts,
        "defaultReasoningEffort": effort,
    }


def model_page(
    config: Config,
    provider_id: str,
    listed: list[dict[str, Any]],
    *,
    include_hidden: bool,
) -> list[dict[str, Any]]:
    """The whole list: the configured model first (when it belongs to this provider), then the rest."""
    default_effort = config.reasoning_effort
    entries: list[dict[str, Any]] = []
    by_id = {entry["id"]: entry for entry in listed}
    if provider_id == config.model_provider_id:
        configured = by_id.get(config.model, {"id": config.model})
        entries.append(to_wire_model(configured, is_default=True, default_effort=default_effort))
    for entry in listed:
        if entries and entry["id"] == entries[0]["id"]:
            continue
        entries.append(to_wire_model(entry, is_default=False, default_effort=None))
    if not include_hidden:
        entries = [entry for entry in entries if not entry["hidden"] or entry["isDefault"]]
    return entries


RequestFactory = Callable[[str], ProviderRequest]
