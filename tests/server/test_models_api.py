"""model/list through the real server: the configured model first, then the provider's /models
listing (cached), pagination, and an unreachable provider listing the configured model alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_app_server.testing.fake_model import FakeModelServer
from support.model_config import write_mock_config
from support.server_process import Spawn

ENV = {"MOCK_API_KEY": "models-key"}


@pytest.mark.compat("models:catalog")
async def test_configured_model_first_then_the_provider_listing(spawn: Spawn, codex_home: Path) -> None:
    async with FakeModelServer(models=["alpha", "mock-model", "beta"]) as model:
        write_mock_config(codex_home, model.base_url, extra='model_reasoning_effort = "high"')
        server = await spawn(env=ENV)
        await server.initialize()
        result = await server.result("model/list", {})
        assert [m["id"] for m in result["data"]] == ["mock-model", "alpha", "beta"]
        first = result["data"][0]
        assert first["isDefault"] is True and first["defaultReasoningEffort"] == "high"
        assert first["displayName"] == "mock-model" and first["hidden"] is False
        assert {e["reasoningEffort"] for e in first["supportedReasoningEfforts"]} >= {"low", "medium", "high"}
        assert [m["isDefault"] for m in result["data"][1:]] == [False, False]
        assert result["nextCursor"] is None
        listing = [r for r in model.requests if r.route.endswith("/models")]
        assert len(listing) == 1 and listing[0].headers["authorization"] == "Bearer models-key"

        page = await server.result("model/list", {"limit": 2})
        assert [m["id"] for m in page["data"]] == ["mock-model", "alpha"]
        rest = await server.result("model/list", {"limit": 2, "cursor": page["nextCursor"]})
        assert [m["id"] for m in rest["data"]] == ["beta"] and rest["nextCursor"] is None
        # Served from the cache: the provider was asked once.
        assert len([r for r in model.requests if r.route.endswith("/models")]) == 1

        for bad in ({"cursor": "zzz"}, {"cursor": "99"}):
            response = await server.call("model/list", bad)
            assert response["error"]["code"] == -32602 and "invalid cursor" in response["error"]["message"]
        unknown = await server.call("model/list", {"modelProvider": "nope"})
        assert unknown["error"]["code"] == -32602 and "nope" in unknown["error"]["message"]


async def test_cache_survives_a_restart(spawn: Spawn, codex_home: Path) -> None:
    async with FakeModelServer(models=["alpha"]) as model:
        write_mock_config(codex_home, model.base_url)
        server = await spawn(env=ENV)
        await server.initialize()
        await server.result("model/list", {})
        await server.stop()
        again = await spawn(env=ENV)
        await again.initialize()
        result = await again.result("model/list", {})
        assert [m["id"] for m in result["data"]] == ["mock-model", "alpha"]
        assert len([r for r in model.requests if r.route.endswith("/models")]) == 1


@pytest.mark.compat("models:catalog")
async def test_unreachable_provider_lists_the_configured_model(spawn: Spawn, codex_home: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1")
    server = await spawn(env=ENV)
    await server.initialize()
    result = await server.result("model/list", {"includeHidden": True})
    assert [m["id"] for m in result["data"]] == ["mock-model"]
    assert result["data"][0]["isDefault"] is True
