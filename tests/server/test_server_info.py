"""modelProvider/list, modelProvider/capabilities/read and permissionProfile/list through the real
server."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from support.model_config import write_mock_config
from support.server_process import ServerProcess

Spawn = Callable[..., Coroutine[Any, Any, ServerProcess]]


async def test_model_providers_list_the_users_first_then_the_built_in_ones(spawn: Spawn, codex_home: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1")
    with (codex_home / "config.toml").open("a") as config:
        config.write('[model_providers.secret]\nname = "Secret"\nbase_url = "http://user:pw@127.0.0.1:9/v1"\n')
    server = await spawn()
    await server.initialize()
    result = await server.result("modelProvider/list", {})
    assert result["defaultProviderId"] == "mock" and result["canChangeDefault"] is True
    by_id = {provider["id"]: provider for provider in result["data"]}
    assert [provider["id"] for provider in result["data"]][:2] == ["mock", "secret"]
    assert by_id["mock"] == {
        "id": "mock",
        "name": "mock",
        "baseUrl": "http://127.0.0.1:9/v1",
        "canEdit": True,
        "settings": {"type": "customGateway", "auth": {"mode": "environmentVariable", "envKey": "MOCK_API_KEY"}},
    }
    # A URL carrying credentials is never shown.
    assert by_id["secret"]["baseUrl"] is None and by_id["secret"]["settings"]["auth"] == {"mode": "none"}
    assert by_id["openai"] == {
        "id": "openai",
        "name": "OpenAI",
        "baseUrl": None,
        "canEdit": False,
        "settings": {"type": "openai"},
    }
    server.assert_schema_clean()


@pytest.mark.compat("providers:hosted-tools")
async def test_provider_capabilities_say_no_hosted_tools(spawn: Spawn, codex_home: Path) -> None:
    server = await spawn()
    await server.initialize()
    assert await server.result("modelProvider/capabilities/read", {}) == {
        "imageGeneration": False,
        "webSearch": False,
    }


async def test_permission_profiles_page_as_the_reference(spawn: Spawn, codex_home: Path) -> None:
    server = await spawn()
    await server.initialize()
    everything = await server.result("permissionProfile/list", {})
    assert [profile["id"] for profile in everything["data"]] == [":read-only", ":workspace", ":danger-full-access"]
    assert everything["nextCursor"] is None and all(profile["allowed"] for profile in everything["data"])
    first = await server.result("permissionProfile/list", {"limit": 1})
    assert [profile["id"] for profile in first["data"]] == [":read-only"] and first["nextCursor"] == "1"
    second = await server.result("permissionProfile/list", {"limit": 2, "cursor": first["nextCursor"]})
    assert [profile["id"] for profile in second["data"]] == [":workspace", ":danger-full-access"]
    assert second["nextCursor"] is None
    zero = await server.result("permissionProfile/list", {"limit": 0})
    assert len(zero["data"]) == 1
    bad = await server.call("permissionProfile/list", {"cursor": "zz"})
    assert bad["error"]["code"] == -32602 and bad["error"]["message"] == "invalid cursor: zz"
