"""Config methods through the real server: config/read with layers and origins, writes that keep
comments and formatting, refused writes that leave the file untouched, reloading the user config,
configRequirements/read, experimentalFeature/list, and the calls clients make at start-up."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from support.server_process import Spawn

USER_CONFIG = """# my settings
model = "gpt-a" # the model I like
model_provider = "openai"

[tui]
theme = "light"
"""


def make_project(tmp_path: Path, *, trusted_in: Path | None) -> Path:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / ".codex").mkdir()
    (project / ".codex" / "config.toml").write_text('model_reasoning_effort = "high"\n')
    if trusted_in is not None:
        with (trusted_in / "config.toml").open("a") as handle:
            handle.write(f'\n[projects."{project}"]\ntrust_level = "trusted"\n')
    return project


@pytest.mark.compat("config:read-shape")
async def test_config_read_layers_and_origins(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    (codex_home / "config.toml").write_text(USER_CONFIG)
    project = make_project(tmp_path, trusted_in=codex_home)
    server = await spawn(args=("-c", "sandbox_mode=workspace-write"), cwd=tmp_path)
    await server.initialize()
    result = await server.result("config/read", {"includeLayers": True, "cwd": str(project / "src")})
    config = result["config"]
    assert config["model"] == "gpt-a" and config["model_reasoning_effort"] == "high"
    assert config["sandbox_mode"] == "workspace-write" and config["tui"] == {"theme": "light"}
    assert config["approval_policy"] is None
    user_file = str(codex_home / "config.toml")
    assert [layer["name"] for layer in result["layers"]] == [
        {"type": "sessionFlags"},
        {"type": "project", "dotCodexFolder": str(project / ".codex")},
        {"type": "user", "file": user_file, "profile": None},
    ]
    origins = result["origins"]
    assert origins["model"]["name"]["type"] == "user"
    assert origins["model_reasoning_effort"]["name"]["type"] == "project"
    assert origins["sandbox_mode"]["name"]["type"] == "sessionFlags"
    assert origins["tui.theme"]["version"] == result["layers"][2]["version"]
    assert result["layers"][2]["version"].startswith("sha256:")

    plain = await server.result("config/read", {})
    assert plain["layers"] is None and plain["config"]["model_reasoning_effort"] is None
    # A relative cwd is the server's cwd's (tests/regressions/test_relative_paths_resolved.py).


async def test_untrusted_project_layer_is_disabled(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    (codex_home / "config.toml").write_text(USER_CONFIG)
    project = make_project(tmp_path, trusted_in=None)
    server = await spawn()
    await server.initialize()
    result = await server.result("config/read", {"includeLayers": True, "cwd": str(project)})
    assert result["config"]["model_reasoning_effort"] is None
    project_layer = result["layers"][0]
    assert project_layer["name"]["type"] == "project" and "trusted" in project_layer["disabledReason"]


@pytest.mark.compat("config:comments-kept")
@pytest.mark.compat("config:write-errors")
async def test_writes_keep_comments_and_refused_writes_leave_the_file(spawn: Spawn, codex_home: Path) -> None:
    path = codex_home / "config.toml"
    path.write_text(USER_CONFIG)
    path.chmod(0o640)
    server = await spawn()
    await server.initialize()
    version = (await server.result("config/read", {"includeLayers": True}))["layers"][0]["version"]

    result = await server.result(
        "config/value/write",
        {"keyPath": "model", "value": "gpt-b", "mergeStrategy": "replace", "expectedVersion": version},
    )
    assert result["status"] == "ok" and result["filePath"] == str(path) and result["overriddenMetadata"] is None
    text = path.read_text()
    assert text.startswith('# my settings\nmodel = "gpt-b" # the model I like\n')
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert result["version"] == (await server.result("config/read", {"includeLayers": True}))["layers"][0]["version"]

    await server.result("config/value/write", {"keyPath": "tui", "value": {"alt": True}, "mergeStrategy": "upsert"})
    assert 'theme = "light"' in path.read_text() and "alt = true" in path.read_text()

    before = path.read_bytes()
    refused = [
        ({"keyPath": "model", "value": 5, "mergeStrategy": "replace"}, "configValidationError"),
        ({"keyPath": "approval_policy", "value": "bogus", "mergeStrategy": "replace"}, "configValidationError"),
        ({"keyPath": "model.inner", "value": "x", "mergeStrategy": "replace"}, "configValidationError"),
        ({"keyPath": "tui", "value": {"theme": None}, "mergeStrategy": "replace"}, "configValidationError"),
        ({"keyPath": "", "value": "x", "mergeStrategy": "replace"}, "configValidationError"),
        (
            {"keyPath": "model", "value": "x", "mergeStrategy": "replace", "expectedVersion": "sha256:0"},
            "configVersionConflict",
        ),
        (
            {"keyPath": "model", "value": "x", "mergeStrategy": "replace", "filePath": "/tmp/x.toml"},
            "configLayerReadonly",
        ),
    ]
    for params, code in refused:
        response = await server.call("config/value/write", params)
        assert response["error"]["code"] == -32602, params
        assert response["error"]["data"] == {"config_write_error_code": code}, params
    assert path.read_bytes() == before

    # A batch is all or nothing.
    batch = await server.call(
        "config/batchWrite",
        {
            "edits": [
                {"keyPath": "model", "value": "gpt-c", "mergeStrategy": "replace"},
                {"keyPath": "sandbox_mode", "value": "sometimes", "mergeStrategy": "replace"},
            ]
        },
    )
    assert batch["error"]["code"] == -32602
    assert path.read_bytes() == before

    removed = await server.result(
        "config/value/write", {"keyPath": "tui.alt", "value": None, "mergeStrategy": "replace"}
    )
    assert removed["status"] == "ok" and "alt" not in path.read_text()


@pytest.mark.compat("config:reload")
async def test_batch_write_reloads_the_user_config(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    server = await spawn(args=("-c", 'approval_policy="never"'))
    await server.initialize()
    result = await server.result(
        "config/batchWrite",
        {
            "edits": [
                {"keyPath": "model", "value": "gpt-reloaded", "mergeStrategy": "replace"},
                {"keyPath": "approval_policy", "value": "untrusted", "mergeStrategy": "replace"},
            ],
            "reloadUserConfig": True,
        },
    )
    assert result["status"] == "okOverridden"
    assert result["overriddenMetadata"]["overridingLayer"]["name"] == {"type": "sessionFlags"}
    assert result["overriddenMetadata"]["effectiveValue"] == "never"
    started = await server.result("thread/start", {"cwd": str(tmp_path)})
    assert started["model"] == "gpt-reloaded" and started["approvalPolicy"] == "never"


@pytest.mark.compat("config:requirements-and-features")
@pytest.mark.compat("account:rate-limits-local")
async def test_client_start_up_calls_succeed(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    """What the reference's TUI and IDE extension call when they start: every call answers."""
    server = await spawn(
        env={"OPENAI_API_KEY": ""}, args=("-c", 'model_providers.openai.base_url="http://127.0.0.1:9/v1"')
    )
    await server.initialize(name="codex-tui")
    assert (await server.result("account/read", {"refreshToken": False}))["requiresOpenaiAuth"] is True
    limits = await server.result("account/rateLimits/read")
    assert limits["rateLimits"]["limitId"] == "codex"
    # Nothing seen from a model yet: unknown, not an error.
    assert limits["rateLimits"]["primary"] is None and limits["rateLimits"]["secondary"] is None
    assert await server.result("configRequirements/read") == {
        "requirements": None,
        "supportsIndependentSpeedModes": None,
    }
    assert (await server.result("configRequirements/read", {}))["requirements"] is None
    assert (await server.result("model/list", {}))["data"][0]["isDefault"] is True
    assert (await server.result("config/read", {"includeLayers": False, "cwd": str(tmp_path)}))["config"]
    assert (await server.result("skills/list", {"cwds": [str(tmp_path)]}))["data"][0]["cwd"] == str(tmp_path)
    assert (await server.result("hooks/list", {"cwds": [str(tmp_path)]}))["data"][0]["hooks"] == []
    assert await server.result("experimentalFeature/list", {}) == {"data": [], "nextCursor": None}
    bad = await server.call("experimentalFeature/list", {"cursor": "abc"})
    assert bad["error"]["code"] == -32602
    # No feature flags exist here: naming one changes nothing, and the reply says so.
    unchanged = await server.result("experimentalFeature/enablement/set", {"enablement": {"foo": True}})
    assert unchanged == {"enablement": {}}
    not_bool = await server.call("experimentalFeature/enablement/set", {"enablement": {"foo": "yes"}})
    assert not_bool["error"]["code"] == -32602 and "enablement" in not_bool["error"]["message"]
