"""modelProvider/list, modelProvider/capabilities/read and permissionProfile/list through the real
server."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.model_config import write_mock_config
from support.server_process import Spawn


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


@pytest.mark.compat("account:bedrock", "config:comments-kept")
async def test_provider_config_write_adds_and_patches_gateways(spawn: Spawn, codex_home: Path) -> None:
    write_mock_config(codex_home, "http://127.0.0.1:9/v1")
    (codex_home / "config.toml").write_text("# my providers\n" + (codex_home / "config.toml").read_text())
    server = await spawn()
    await server.initialize()
    added = await server.result(
        "modelProvider/config/write",
        {"settings": {"type": "customGateway", "name": "Local Box", "baseUrl": "http://127.0.0.1:8080/v1"}},
    )
    assert added["provider"] == {
        "id": "local-box",
        "name": "Local Box",
        "baseUrl": "http://127.0.0.1:8080/v1",
        "canEdit": True,
        "settings": {"type": "customGateway", "auth": {"mode": "none"}},
    }
    listed = await server.result("modelProvider/list", {})
    assert "local-box" in [provider["id"] for provider in listed["data"]]
    patched = await server.result(
        "modelProvider/config/write",
        {"settings": {"type": "customGateway", "providerId": "mock", "name": "Mock2", "baseUrl": None}},
    )
    assert (
        patched["provider"]["name"] == "Mock2" and patched["provider"]["settings"]["auth"]["envKey"] == "MOCK_API_KEY"
    )
    text = (codex_home / "config.toml").read_text()
    assert text.startswith("# my providers\n"), "comments are kept"
    assert "[model_providers.local-box]" in text and 'name = "Mock2"' in text and "127.0.0.1:9" not in text

    errors = {
        "Enter a provider name": {"type": "customGateway"},
        "cannot use a built-in provider ID": {"type": "customGateway", "providerId": "openai", "name": "x"},
        "Unknown provider ID `nope`": {"type": "customGateway", "providerId": "nope", "name": "x"},
        "`settings.type` `bedrock` is not supported": {"type": "bedrock", "providerId": "amazon-bedrock"},
    }
    for message, settings in errors.items():
        refused = await server.call("modelProvider/config/write", {"settings": settings})
        assert refused["error"]["code"] == -32602 and message in refused["error"]["message"], refused
    server.assert_schema_clean()


async def test_diagnostics_report_the_process_and_live_threads(spawn: Spawn, codex_home: Path) -> None:
    server = await spawn()
    await server.initialize(experimental=True)
    await server.result("thread/start", {})
    result = await server.result("server/diagnostics", {})
    assert result["process"]["id"] == server.pid
    assert result["process"]["residentMemoryBytes"] > 1_000_000
    gauges = {gauge["name"]: gauge["value"] for gauge in result["gauges"]}
    assert gauges == {
        "app.connections": 1,
        "app.serverRequests.pending": 0,
        "core.threads.live": 1,
        "core.turns.running": 0,
    }
    server.assert_schema_clean()


async def test_experimental_probe_needs_the_opt_in(spawn: Spawn, codex_home: Path) -> None:
    plain = await spawn()
    await plain.initialize()
    refused = await plain.call("mock/experimentalMethod", {"value": "hi"})
    assert refused["error"] == {
        "code": -32600,
        "message": "mock/experimentalMethod requires experimentalApi capability",
    }
    opted = await spawn()
    await opted.initialize(experimental=True)
    assert await opted.result("mock/experimentalMethod", {"value": "hi"}) == {"echoed": "hi"}
