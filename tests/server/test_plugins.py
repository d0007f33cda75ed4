"""Plugins and marketplaces through the real server: local and git marketplaces (git served over
HTTP on 127.0.0.1), install into $CODEX_HOME/plugins/cache, the installed plugin's skills in
skills/list and its MCP server (the real echo server) in mcpServerStatus/list, and the errors."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agent_app_server.testing.fake_model import FakeModelServer, SseEvent, function_call_reply, text_reply
from support.agent_turns import run_turn, start_agent, start_thread
from support.plugin_fixtures import (
    ECHO_MCP,
    MANIFEST,
    git,
    git_server,
    write_git_sourced_marketplace,
    write_hooks,
    write_hostile_marketplaces,
    write_marketplace,
)
from support.server_process import ServerClient, Spawn


def config(codex_home: Path) -> dict[str, Any]:
    return tomllib.loads((codex_home / "config.toml").read_text())


async def started(spawn: Spawn, tmp_path: Path, **kwargs: Any) -> ServerClient:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    server = await spawn(env={"HOME": str(home)}, **kwargs)
    await server.initialize()
    return server


async def error_of(server: ServerClient, method: str, params: Any) -> dict[str, Any]:
    reply = await server.call(method, params)
    assert "error" in reply, reply
    return dict(reply["error"])


def plugin_names(listed: dict[str, Any]) -> dict[str, list[str]]:
    return {m["name"]: [p["id"] for p in m["plugins"]] for m in listed["marketplaces"]}


async def test_marketplaces_of_home_cwd_and_added_folders_are_listed(
    spawn: Spawn, codex_home: Path, tmp_path: Path
) -> None:
    write_marketplace(tmp_path / "home", "homemk", ["gamma"])
    repo = tmp_path / "repo"
    write_marketplace(repo, "repomk", ["delta"])
    (repo / ".git").mkdir()
    (repo / "src").mkdir()
    added = write_marketplace(tmp_path / "mk", "localmk", ["alpha", "beta"])
    server = await started(spawn, tmp_path)

    assert plugin_names(await server.result("plugin/list", {})) == {"homemk": ["gamma@homemk"]}
    reply = await server.result("marketplace/add", {"source": str(tmp_path / "mk")})
    assert reply == {"marketplaceName": "localmk", "installedRoot": str(tmp_path / "mk"), "alreadyAdded": False}
    assert config(codex_home)["marketplaces"] == {"localmk": {"source_type": "local", "source": str(tmp_path / "mk")}}
    again = await server.result("marketplace/add", {"source": str(tmp_path / "mk") + "/"})
    assert again["alreadyAdded"] is True

    # A cwd inside a git repository finds the marketplace at the repository's root.
    listed = await server.result("plugin/list", {"cwds": [str(repo / "src")]})
    # The home's first, then in the order of the folders' paths (<tmp>/mk, <tmp>/repo/src), as the reference.
    assert list(plugin_names(listed).items()) == [
        ("homemk", ["gamma@homemk"]),
        ("localmk", ["alpha@localmk", "beta@localmk"]),
        ("repomk", ["delta@repomk"]),
    ]
    local = next(m for m in listed["marketplaces"] if m["name"] == "localmk")
    assert local["path"] == str(added) and local["interface"] == {"displayName": "Localmk"}
    alpha = local["plugins"][0]
    assert alpha["source"] == {"type": "local", "path": str(tmp_path / "mk" / "plugins" / "alpha")}
    assert (alpha["installed"], alpha["enabled"], alpha["localVersion"]) == (False, False, "1.2.0")
    assert alpha["interface"]["displayName"] == "ALPHA" and alpha["interface"]["category"] == "Tools"
    assert listed["marketplaceLoadErrors"] == [] and listed["featuredPluginIds"] == []

    # Only local marketplaces exist here: `vertical` alone lists none, remote kinds say why not.
    assert (await server.result("plugin/list", {"marketplaceKinds": ["vertical"]}))["marketplaces"] == []
    refused = await error_of(server, "plugin/list", {"marketplaceKinds": ["local", "shared-with-me"]})
    assert refused["code"] == -32600 and "shared-with-me" in refused["message"]

    removed = await server.result("marketplace/remove", {"marketplaceName": "localmk"})
    assert removed == {"marketplaceName": "localmk", "installedRoot": None}
    assert "marketplaces" not in config(codex_home) and added.is_file()


async def test_a_broken_marketplace_is_reported_and_the_others_still_listed(
    spawn: Spawn, codex_home: Path, tmp_path: Path
) -> None:
    write_marketplace(tmp_path / "home", "homemk", ["gamma"])
    broken = tmp_path / "broken"
    (broken / MANIFEST).parent.mkdir(parents=True)
    (broken / MANIFEST).write_text("{not json")
    server = await started(spawn, tmp_path)
    listed = await server.result("plugin/list", {"cwds": [str(broken)]})
    assert plugin_names(listed) == {"homemk": ["gamma@homemk"]}
    [error] = listed["marketplaceLoadErrors"]
    assert error["marketplacePath"] == str(broken / MANIFEST) and "invalid marketplace file" in error["message"]


async def test_install_brings_skills_and_mcp_servers_and_uninstall_takes_them_away(
    spawn: Spawn, codex_home: Path, tmp_path: Path
) -> None:
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha", "beta"], mcp={"alpha": ECHO_MCP})
    write_hooks(tmp_path / "mk" / "plugins" / "alpha")
    server = await started(spawn, tmp_path)
    workspace = tmp_path / "ws"
    workspace.mkdir()

    detail = (await server.result("plugin/read", {"pluginName": "alpha", "marketplacePath": str(manifest)}))["plugin"]
    assert detail["marketplaceName"] == "localmk" and detail["description"] == "alpha plugin"
    assert [(s["name"], s["enabled"]) for s in detail["skills"]] == [("alpha:hello", True)]
    assert detail["mcpServers"] == ["echo"] and detail["summary"]["installed"] is False
    assert [(h["key"], h["eventName"]) for h in detail["hooks"]] == [
        ("alpha@localmk:hooks/hooks.json:pre_tool_use:0:0", "preToolUse"),
        ("alpha@localmk:hooks/hooks.json:session_start:0:0", "sessionStart"),
        ("alpha@localmk:hooks/hooks.json:session_start:0:1", "sessionStart"),
    ]

    installed = await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    assert installed == {"authPolicy": "ON_INSTALL", "appsNeedingAuth": []}
    cached = codex_home / "plugins" / "cache" / "localmk" / "alpha" / "1.2.0"
    assert (cached / ".codex-plugin" / "plugin.json").is_file()
    assert config(codex_home)["plugins"] == {"alpha@localmk": {"enabled": True}}

    # As the reference: installed plugins are listed under the marketplaces this server knows of.
    assert (await server.result("plugin/installed", {}))["marketplaces"] == []
    await server.result("marketplace/add", {"source": str(tmp_path / "mk")})
    listed = await server.result("plugin/installed", {})
    assert plugin_names(listed) == {"localmk": ["alpha@localmk"]}
    assert listed["marketplaces"][0]["plugins"][0]["enabled"] is True
    suggested = await server.result("plugin/installed", {"installSuggestionPluginNames": ["beta"]})
    assert plugin_names(suggested) == {"localmk": ["alpha@localmk", "beta@localmk"]}

    skills = (await server.result("skills/list", {"cwds": [str(workspace)]}))["data"][0]["skills"]
    [plugin_skill] = [s for s in skills if s["pluginId"] is not None]
    assert plugin_skill["name"] == "alpha:hello" and plugin_skill["pluginId"] == "alpha@localmk"
    assert plugin_skill["scope"] == "user" and plugin_skill["path"] == str(cached / "skills" / "hello" / "SKILL.md")

    hooks = (await server.result("hooks/list", {"cwds": [str(workspace)]}))["data"][0]["hooks"]
    first = hooks[0]
    assert (first["key"], first["source"], first["pluginId"], first["sourcePath"]) == (
        "alpha@localmk:hooks/hooks.json:pre_tool_use:0:0",
        "plugin",
        "alpha@localmk",
        str(cached / "hooks" / "hooks.json"),
    )
    assert [h["command"] for h in hooks] == ["echo pre", "echo a", "echo b"]

    [status] = (await server.result("mcpServerStatus/list", {}))["data"]
    assert status["name"] == "echo" and status["pluginId"] == "alpha@localmk"
    assert "echo" in status["tools"] and status["toolsError"] is None

    assert await server.result("plugin/uninstall", {"pluginId": "alpha@localmk"}) == {}
    assert not (codex_home / "plugins" / "cache" / "localmk" / "alpha").exists()
    assert "plugins" not in config(codex_home)
    skills = (await server.result("skills/list", {"cwds": [str(workspace)]}))["data"][0]["skills"]
    assert all(s["pluginId"] is None for s in skills)
    assert (await server.result("mcpServerStatus/list", {}))["data"] == []
    assert (await server.result("hooks/list", {"cwds": [str(workspace)]}))["data"][0]["hooks"] == []
    # Uninstalling what is not installed is not an error, as the reference.
    assert await server.result("plugin/uninstall", {"pluginId": "alpha@localmk"}) == {}


async def test_a_disabled_plugin_brings_no_skills(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha"])
    server = await started(spawn, tmp_path)
    await server.result("marketplace/add", {"source": str(tmp_path / "mk")})
    await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    text = (codex_home / "config.toml").read_text().replace("enabled = true", "enabled = false")
    (codex_home / "config.toml").write_text(text)
    skills = (await server.result("skills/list", {"cwds": [str(tmp_path)], "forceReload": True}))["data"][0]["skills"]
    assert all(s["pluginId"] is None for s in skills)
    listed = await server.result("plugin/installed", {})
    assert listed["marketplaces"][0]["plugins"][0]["enabled"] is False


async def test_plugin_requests_that_cannot_be_honoured_say_why(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha"])
    closed = write_marketplace(tmp_path / "closed", "closedmk", ["shut"], policy={"installation": "NOT_AVAILABLE"})
    server = await started(spawn, tmp_path)
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("plugin/install", {"pluginName": "alpha"}, -32600, "exactly one of marketplacePath or remoteMarketplaceName"),
        (
            "plugin/install",
            {"pluginName": "alpha", "remoteMarketplaceName": "openai-curated"},
            -32600,
            "does not connect to",
        ),
        ("plugin/install", {"pluginName": "nope", "marketplacePath": str(manifest)}, -32600, "`nope` was not found"),
        ("plugin/install", {"pluginName": "shut", "marketplacePath": str(closed)}, -32600, "not available for install"),
        ("plugin/read", {"pluginName": "alpha", "marketplacePath": "relative.json"}, -32600, "AbsolutePathBuf"),
        ("plugin/read", {"pluginName": "alpha", "marketplacePath": str(tmp_path / "x.json")}, -32600, "does not exist"),
        ("plugin/uninstall", {"pluginId": "bad"}, -32600, "plugin@marketplace"),
        ("plugin/uninstall", {"pluginId": "a@../x"}, -32600, "invalid marketplace name"),
        ("marketplace/add", {"source": ""}, -32600, "must not be empty"),
        ("marketplace/add", {"source": str(manifest)}, -32600, "must be a directory, not a file"),
        ("marketplace/add", {"source": str(tmp_path / "none")}, -32600, "failed to resolve local marketplace source"),
        ("marketplace/add", {"source": str(tmp_path)}, -32600, "does not contain a supported manifest"),
        ("marketplace/add", {"source": str(tmp_path / "mk"), "refName": "main"}, -32600, "--ref is only supported"),
        ("marketplace/add", {"source": str(tmp_path / "mk"), "sparsePaths": ["a"]}, -32600, "--sparse is only"),
        ("marketplace/add", {"source": "file:///tmp/x.git"}, -32600, "invalid marketplace source format"),
        ("marketplace/remove", {"marketplaceName": "nope"}, -32600, "is not configured or installed"),
        ("marketplace/remove", {"marketplaceName": "../x"}, -32600, "only ASCII letters"),
        ("marketplace/upgrade", {"marketplaceName": "nope"}, -32600, "is not configured as a Git marketplace"),
    ]
    for method, params, code, message in cases:
        error = await error_of(server, method, params)
        assert (error["code"], message in error["message"]) == (code, True), (method, params, error)
    assert not (codex_home / "plugins").exists()


async def test_a_second_source_cannot_take_an_added_name(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    write_marketplace(tmp_path / "one", "same", ["alpha"])
    write_marketplace(tmp_path / "two", "same", ["beta"])
    server = await started(spawn, tmp_path)
    await server.result("marketplace/add", {"source": str(tmp_path / "one")})
    error = await error_of(server, "marketplace/add", {"source": str(tmp_path / "two")})
    assert "already added from a different source" in error["message"]
    assert config(codex_home)["marketplaces"]["same"]["source"] == str(tmp_path / "one")


@pytest.mark.subprocess
async def test_git_marketplaces_are_cloned_upgraded_and_removed(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_marketplace(source, "gitmk", ["delta"])
    with git_server(tmp_path / "served") as served:
        url = served.publish(source, "mk")
        server = await started(spawn, tmp_path)
        checkout = codex_home / ".tmp" / "marketplaces" / "gitmk"

        added = await server.result("marketplace/add", {"source": url})
        assert added == {"marketplaceName": "gitmk", "installedRoot": str(checkout), "alreadyAdded": False}
        assert config(codex_home)["marketplaces"]["gitmk"] == {"source_type": "git", "source": url}
        assert (await server.result("marketplace/add", {"source": url}))["alreadyAdded"] is True

        manifest = checkout / MANIFEST
        await server.result("plugin/install", {"pluginName": "delta", "marketplacePath": str(manifest)})
        assert (codex_home / "plugins" / "cache" / "gitmk" / "delta" / "1.2.0").is_dir()

        # The first upgrade records the revision it installed; the next finds nothing new.
        first = await server.result("marketplace/upgrade", {})
        assert first == {"selectedMarketplaces": ["gitmk"], "upgradedRoots": [str(checkout)], "errors": []}
        recorded = json.loads((checkout / ".codex-marketplace-install.json").read_text())
        assert recorded["revision"] == git("rev-parse", "HEAD", cwd=source).strip()
        assert (await server.result("marketplace/upgrade", {"marketplaceName": "gitmk"}))["upgradedRoots"] == []

        (source / "NEWS").write_text("new\n")
        served.publish(source, "mk")
        upgraded = await server.result("marketplace/upgrade", {})
        assert upgraded["upgradedRoots"] == [str(checkout)] and (checkout / "NEWS").is_file()

        missing = await error_of(server, "marketplace/add", {"source": served.url("missing")})
        assert missing["code"] == -32603 and "git clone" in missing["message"]
        bad_ref = await error_of(server, "marketplace/add", {"source": url, "refName": "no-such-ref"})
        assert bad_ref["code"] == -32603 and "no-such-ref" in bad_ref["message"]

        # A plugin entry whose files come from git: cloned when installed.
        remote = write_git_sourced_marketplace(tmp_path / "urlmk", "urlmk", "delta", url, "plugins/delta")
        detail = (await server.result("plugin/read", {"pluginName": "delta", "marketplacePath": str(remote)}))["plugin"]
        assert detail["summary"]["source"] == {
            "type": "git",
            "url": url,
            "path": "plugins/delta",
            "refName": None,
            "sha": None,
        }
        assert "cross-repo plugin" in detail["description"]
        await server.result("plugin/install", {"pluginName": "delta", "marketplacePath": str(remote)})
        assert (codex_home / "plugins" / "cache" / "urlmk" / "delta" / "1.2.0" / "skills").is_dir()

    removed = await server.result("marketplace/remove", {"marketplaceName": "gitmk"})
    assert removed == {"marketplaceName": "gitmk", "installedRoot": str(checkout)}
    assert not checkout.exists()
    # Staged clones never outlive their request.
    assert list((codex_home / ".tmp" / "marketplaces" / ".staging").iterdir()) == []


async def test_concurrent_installs_keep_every_config_entry(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    names = [f"p{index}" for index in range(6)]
    manifest = write_marketplace(tmp_path / "mk", "localmk", names)
    server = await started(spawn, tmp_path)
    await asyncio.gather(
        *(server.result("plugin/install", {"pluginName": name, "marketplacePath": str(manifest)}) for name in names)
    )
    assert config(codex_home)["plugins"] == {f"{name}@localmk": {"enabled": True} for name in names}


async def test_symbolic_links_in_a_plugin_are_not_copied(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha"])
    secret = tmp_path / "secret.txt"
    secret.write_text("not the plugin's\n")
    (tmp_path / "mk" / "plugins" / "alpha" / "link.txt").symlink_to(secret)
    server = await started(spawn, tmp_path)
    await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    installed = codex_home / "plugins" / "cache" / "localmk" / "alpha" / "1.2.0"
    assert (installed / "skills" / "hello" / "SKILL.md").is_file()
    assert not (installed / "link.txt").exists() and not (installed / "link.txt").is_symlink()


async def test_an_installed_plugins_mcp_server_serves_the_model(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, tmp_path: Path
) -> None:
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha"], mcp={"alpha": ECHO_MCP})
    server = await start_agent(spawn, codex_home, model)
    await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    thread_id = await start_thread(server, cwd=str(tmp_path), approvalPolicy="on-request")
    call = function_call_reply("echo", json.dumps({"text": "hi"}), "call_1")
    for event in call:
        item = event.data.get("item") if isinstance(event, SseEvent) else None
        if isinstance(item, dict) and item.get("type") == "function_call":
            item["namespace"] = "mcp__echo"
    model.enqueue(call, text_reply("done"))
    # The plugin's tool asks for approval like any MCP tool; the client allows it.
    log = await run_turn(server, thread_id, answer=lambda request: {"action": "accept", "content": {}})
    namespace = next(tool for tool in model.requests[0].body["tools"] if tool["name"] == "mcp__echo")
    assert "echo" in [tool["name"] for tool in namespace["tools"]]
    [echo] = log.items("mcpToolCall")
    assert echo["status"] == "completed", echo
    assert echo["result"]["content"] == [{"type": "text", "text": "echo: hi"}]


async def test_hostile_plugin_files_break_nothing(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    bad_mcp = {"bad": {"command": "true", "args": "not-a-list", "env": ["x"], "http_headers": 5, "tools": []}}
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha", "beta"], mcp={"alpha": bad_mcp})
    write_hostile_marketplaces(tmp_path / "hostile")
    (tmp_path / "mk" / "plugins" / "beta" / ".codex-plugin" / "plugin.json").write_text('{"name": 5, "interface": []')
    server = await started(spawn, tmp_path)
    await server.result("marketplace/add", {"source": str(tmp_path / "mk")})

    hostile = [tmp_path / "hostile" / name for name in ("entries", "junk0", "junk1", "junk2")]
    listed = await server.result("plugin/list", {"cwds": [str(path) for path in hostile]})
    assert plugin_names(listed) == {"localmk": ["alpha@localmk", "beta@localmk"], "entries": ["fine@entries"]}
    assert [e["marketplacePath"] for e in listed["marketplaceLoadErrors"]] == [str(p / MANIFEST) for p in hostile[1:]]
    local = next(m for m in listed["marketplaces"] if m["name"] == "localmk")
    beta = local["plugins"][1]
    assert beta["interface"]["category"] == "Tools" and beta["localVersion"] is None
    error = await error_of(server, "plugin/install", {"pluginName": "beta", "marketplacePath": str(manifest)})
    assert "invalid plugin manifest" in error["message"]

    await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    [status] = (await server.result("mcpServerStatus/list", {}))["data"]
    assert status["name"] == "bad" and status["pluginId"] == "alpha@localmk"
    skills = (await server.result("skills/list", {"cwds": [str(tmp_path)]}))["data"][0]["skills"]
    assert [s["name"] for s in skills if s["pluginId"]] == ["alpha:hello"]


async def test_an_edited_plugin_manifest_is_read_again(spawn: Spawn, codex_home: Path, tmp_path: Path) -> None:
    write_marketplace(tmp_path / "mk", "localmk", ["alpha"])
    server = await started(spawn, tmp_path)
    cwds = {"cwds": [str(tmp_path / "mk")]}
    assert (await server.result("plugin/list", cwds))["marketplaces"][0]["plugins"][0]["localVersion"] == "1.2.0"
    manifest = tmp_path / "mk" / "plugins" / "alpha" / ".codex-plugin" / "plugin.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "version": "2.0.0-beta"}))
    assert (await server.result("plugin/list", cwds))["marketplaces"][0]["plugins"][0]["localVersion"] == "2.0.0-beta"


@pytest.mark.compat("hooks:run")
async def test_a_trusted_plugin_hook_runs(
    spawn: Spawn, codex_home: Path, model: FakeModelServer, tmp_path: Path
) -> None:
    marker = tmp_path / "prompt-seen"
    manifest = write_marketplace(tmp_path / "mk", "localmk", ["alpha"])
    hooks = {"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": f"touch {marker}"}]}]}}
    (tmp_path / "mk" / "plugins" / "alpha" / "hooks").mkdir()
    (tmp_path / "mk" / "plugins" / "alpha" / "hooks" / "hooks.json").write_text(json.dumps(hooks))
    server = await start_agent(spawn, codex_home, model)
    await server.result("plugin/install", {"pluginName": "alpha", "marketplacePath": str(manifest)})
    [entry] = (await server.result("hooks/list", {"cwds": [str(tmp_path)]}))["data"][0]["hooks"]
    assert (entry["key"], entry["trustStatus"]) == (
        "alpha@localmk:hooks/hooks.json:user_prompt_submit:0:0",
        "untrusted",
    )
    with (codex_home / "config.toml").open("a") as config:
        config.write(f"\n[hooks.state.{json.dumps(entry['key'])}]\ntrusted_hash = {json.dumps(entry['currentHash'])}\n")

    thread_id = await start_thread(server, cwd=str(tmp_path), approvalPolicy="never")
    model.enqueue(text_reply("done"))
    log = await run_turn(server, thread_id)
    [run] = [m["params"]["run"] for m in log.messages if m["method"] == "hook/completed"]
    assert run["status"] == "completed" and run["source"] == "plugin" and marker.exists()
